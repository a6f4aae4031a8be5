"""What SendGrid says of the account a send would use: the API key's scopes, the sender
identities, the authenticated domains and an unsubscribe group (`digest doctor`).

Each is a GET through ``sendgrid.SendGridApi`` (retried as a batch is, since a GET
changes nothing); an answer that is not what was asked raises its ``AccountError``, with
SendGrid's status (0: no answer to go by). The paths and paging are those of SendGrid's
OpenAPI files: verified senders page by ``limit`` and ``lastSeenID``, authenticated
domains by ``limit`` and ``offset``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .sendgrid import SendGridApi

# Bounds on the pages read of a list, so that an account with thousands of senders or
# domains cannot keep a check going: the sender is looked for in the first 1,000.
PAGE = 100
MAX_PAGES = 10


class SenderIdentity(NamedTuple):
    """A Single Sender identity (``GET /v3/verified_senders``)."""

    from_email: str
    verified: bool


class AuthenticatedDomain(NamedTuple):
    """A domain set up for Domain Authentication (``GET /v3/whitelabel/domains``);
    ``valid`` once its DNS records check out."""

    domain: str
    valid: bool


class SendGridAccount:
    """Reads what the API key may see of its account."""

    def __init__(self, api: SendGridApi) -> None:
        self._api = api

    def scopes(self) -> list[str]:
        """The permissions of the API key (``GET /v3/scopes``)."""
        found = self._api.get("scopes")
        scopes = found.get("scopes") if isinstance(found, dict) else None
        return [str(scope) for scope in scopes] if isinstance(scopes, list) else []

    def senders(self) -> list[SenderIdentity]:
        """The account's sender identities, verified or not (the first thousand)."""
        found: list[SenderIdentity] = []
        query: dict[str, object] = {"limit": PAGE}
        for _ in range(MAX_PAGES):
            page = self._api.get("verified_senders", query=query)
            entries = _dicts(page.get("results") if isinstance(page, dict) else None)
            found += [
                SenderIdentity(str(entry.get("from_email", "")), entry.get("verified") is True)
                for entry in entries
            ]
            if len(entries) < PAGE:
                break
            query = {"limit": PAGE, "lastSeenID": entries[-1].get("id")}
        return found

    def domains(self) -> list[AuthenticatedDomain]:
        """The account's authenticated domains, valid or not (the first thousand)."""
        found: list[AuthenticatedDomain] = []
        for number in range(MAX_PAGES):
            query = {"limit": PAGE, "offset": number * PAGE}
            entries = _dicts(self._api.get("whitelabel", "domains", query=query))
            found += [
                AuthenticatedDomain(str(entry.get("domain", "")), entry.get("valid") is True)
                for entry in entries
            ]
            if len(entries) < PAGE:
                break
        return found

    def asm_group(self, group_id: int) -> str:
        """The name of unsubscribe group ``group_id``; AccountError (404) if there is none."""
        found = self._api.get("asm", "groups", str(group_id))
        return str(found.get("name", "")) if isinstance(found, dict) else ""


def _dicts(entries: Any) -> list[dict[str, Any]]:
    """The objects of a JSON list; nothing from anything else."""
    return (
        [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []
    )
