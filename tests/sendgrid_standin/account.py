"""The account behind the stand-in's API key: what its GET endpoints serve.

Tests seed it in-process (``server.account.bounces.add(...)``, ``server.account.scopes =
[...]``) or, for a server run as a process, replace it whole with the JSON document that
``account_from_json`` reads (``POST /_test/account``, or ``--account FILE``).

A fresh account has a key with every scope the product needs and no data: no
suppressions, no ASM group, no verified sender, no authenticated domain. A "broken
account" is made by taking away: a scope, a sender's ``verified``, a group.

The scope each endpoint needs comes from SendGrid's API-key permission list:
``suppression.<list>.read``, ``asm.groups.read``, ``asm.groups.suppressions.read``,
``whitelabel.read`` (Domain Authentication) and ``mail.send``. The list names no scope
for ``/v3/verified_senders``; keys that manage senders carry
``sender_verification_eligible``, so the stand-in wants that one (an inference).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_SCOPES = (
    "mail.send",
    "suppression.unsubscribes.read",
    "suppression.bounces.read",
    "suppression.spam_reports.read",
    "suppression.invalid_emails.read",
    "asm.groups.read",
    "asm.groups.suppressions.read",
    "sender_verification_eligible",
    "whitelabel.read",
)

# The fields of each list's entries, as the OpenAPI file's response schemas name them,
# and what an entry carries when a test gives no value (the file's example wording).
SUPPRESSION_FIELDS = {
    "unsubscribes": ("created", "email"),
    "bounces": ("created", "email", "reason", "status"),
    "spam_reports": ("created", "email", "ip"),
    "invalid_emails": ("created", "email", "reason"),
}
_DETAIL_DEFAULTS = {
    "bounces": {
        "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
        "status": "5.1.1",
    },
    "spam_reports": {"ip": "192.0.2.10"},
    "invalid_emails": {"reason": "Mail domain mentioned in email address is unknown"},
}
# The OpenAPI file's maxLength for a suppression group's name and description.
MAX_GROUP_NAME = 30
MAX_GROUP_DESCRIPTION = 100


@dataclass(frozen=True)
class Suppression:
    """One entry of a suppression list; ``created`` in Unix seconds."""

    email: str
    created: int
    reason: str = ""
    status: str = ""
    ip: str = ""


class SuppressionList:
    """The global unsubscribes, bounces, spam reports or invalid emails, oldest first."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.fields = SUPPRESSION_FIELDS[kind]
        self.entries: list[Suppression] = []

    def add(
        self,
        email: str,
        *,
        created: int | None = None,
        reason: str | None = None,
        status: str | None = None,
        ip: str | None = None,
    ) -> Suppression:
        """Append an entry (``created`` defaults to now); refuses a detail this list lacks."""
        given = {"reason": reason, "status": status, "ip": ip}
        for name, value in given.items():
            if value is not None and name not in self.fields:
                raise ValueError(f"{self.kind} entries have no {name}")
        defaults = _DETAIL_DEFAULTS.get(self.kind, {})
        details = {
            name: defaults.get(name, "") if value is None else value
            for name, value in given.items()
        }
        if not isinstance(email, str) or not all(isinstance(v, str) for v in details.values()):
            raise TypeError(f"{self.kind} entries have a string email and string details")
        if created is not None and type(created) is not int:
            raise TypeError(f"created is Unix seconds (an integer), not {created!r}")
        when = int(time.time()) if created is None else created
        entry = Suppression(email, when, **details)
        self.entries.append(entry)
        return entry

    def as_json(self, entry: Suppression) -> dict[str, Any]:
        """The entry as this list's endpoint shows it: only the fields this kind has."""
        return {name: getattr(entry, name) for name in self.fields}

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Suppression]:
        return iter(list(self.entries))


@dataclass
class AsmGroup:
    """A suppression (unsubscribe) group and the addresses that left it."""

    id: int
    name: str
    description: str
    is_default: bool = False
    suppressions: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The group as ``GET /v3/asm/groups/{group_id}`` shows it."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "is_default": self.is_default,
            "unsubscribes": len(self.suppressions),
        }


class AsmGroups(dict[int, AsmGroup]):
    """The account's suppression groups by id."""

    def add(
        self,
        group_id: int,
        *,
        name: str = "Newsletter",
        description: str = "The weekly digest.",
        is_default: bool = False,
        suppressions: Iterable[str] = (),
    ) -> AsmGroup:
        """Create (or replace) group ``group_id``, bounded as SendGrid bounds names."""
        if type(group_id) is not int or group_id < 1:
            raise ValueError(f"a group id is a positive integer, not {group_id!r}")
        if len(name) > MAX_GROUP_NAME or len(description) > MAX_GROUP_DESCRIPTION:
            raise ValueError(
                f"a group name has at most {MAX_GROUP_NAME} characters and a description "
                f"at most {MAX_GROUP_DESCRIPTION}"
            )
        group = AsmGroup(group_id, name, description, is_default, list(suppressions))
        self[group_id] = group
        return group


@dataclass
class VerifiedSender:
    """A Single Sender identity; ``verified`` False is one whose owner never confirmed it."""

    id: int
    from_email: str
    nickname: str = ""
    from_name: str = ""
    reply_to: str = ""
    reply_to_name: str = ""
    address: str = ""
    address2: str = ""
    state: str = ""
    city: str = ""
    zip: str = ""
    country: str = ""
    verified: bool = True
    locked: bool = False

    def as_json(self) -> dict[str, Any]:
        """The sender as ``GET /v3/verified_senders`` lists it."""
        return {item.name: getattr(self, item.name) for item in fields(self)}


class VerifiedSenders(list[VerifiedSender]):
    """The account's sender identities, verified or not, in id order."""

    def add(self, from_email: str, *, verified: bool = True, **details: Any) -> VerifiedSender:
        """Add a sender with the next id; ``details`` are VerifiedSender's other fields."""
        details.setdefault("nickname", from_email)
        details.setdefault("reply_to", from_email)
        next_id = max((sender.id for sender in self), default=0) + 1
        sender = VerifiedSender(next_id, from_email, verified=verified, **details)
        self.append(sender)
        return sender


@dataclass
class AuthenticatedDomain:
    """A domain set up for Domain Authentication; ``valid`` once its DNS records check out.

    ``username`` None is the account's own; another name is a subuser's domain.
    """

    id: int
    domain: str
    subdomain: str = "em"
    username: str | None = None
    ips: list[str] = field(default_factory=list)
    custom_spf: bool = False
    default: bool = False
    legacy: bool = False
    automatic_security: bool = True
    valid: bool = True

    def as_json(self, account: Account) -> dict[str, Any]:
        """The domain as ``GET /v3/whitelabel/domains`` lists it, DNS records included."""
        sendgrid_host = f"u{account.user_id}.wl.sendgrid.net"
        return {
            "id": self.id,
            "user_id": account.user_id,
            "subdomain": self.subdomain,
            "domain": self.domain,
            "username": self.username or account.username,
            "ips": list(self.ips),
            "custom_spf": self.custom_spf,
            "default": self.default,
            "legacy": self.legacy,
            "automatic_security": self.automatic_security,
            "valid": self.valid,
            "dns": {
                "mail_cname": self._record(f"{self.subdomain}.{self.domain}", sendgrid_host),
                "dkim1": self._record(
                    f"s1._domainkey.{self.domain}", f"s1.domainkey.{sendgrid_host}"
                ),
                "dkim2": self._record(
                    f"s2._domainkey.{self.domain}", f"s2.domainkey.{sendgrid_host}"
                ),
            },
        }

    def _record(self, host: str, data: str) -> dict[str, Any]:
        return {"valid": self.valid, "type": "cname", "host": host, "data": data}


class Domains(list[AuthenticatedDomain]):
    """The account's authenticated domains, in id order."""

    def add(self, domain: str, *, valid: bool = True, **details: Any) -> AuthenticatedDomain:
        """Add a domain with the next id; ``details`` are AuthenticatedDomain's other fields."""
        next_id = max((entry.id for entry in self), default=0) + 1
        entry = AuthenticatedDomain(next_id, domain, valid=valid, **details)
        self.append(entry)
        return entry


@dataclass
class Account:
    """Everything the stand-in's key can read, and the subusers it may act for."""

    username: str = "digest-tests"
    user_id: int = 1
    scopes: list[str] = field(default_factory=lambda: list(DEFAULT_SCOPES))
    unsubscribes: SuppressionList = field(default_factory=lambda: SuppressionList("unsubscribes"))
    bounces: SuppressionList = field(default_factory=lambda: SuppressionList("bounces"))
    spam_reports: SuppressionList = field(default_factory=lambda: SuppressionList("spam_reports"))
    invalid_emails: SuppressionList = field(
        default_factory=lambda: SuppressionList("invalid_emails")
    )
    asm_groups: AsmGroups = field(default_factory=AsmGroups)
    verified_senders: VerifiedSenders = field(default_factory=VerifiedSenders)
    domains: Domains = field(default_factory=Domains)
    subusers: dict[str, Account] = field(default_factory=dict)

    def suppressions(self, kind: str) -> SuppressionList:
        """The list named ``kind`` (a key of SUPPRESSION_FIELDS)."""
        lists = {
            "unsubscribes": self.unsubscribes,
            "bounces": self.bounces,
            "spam_reports": self.spam_reports,
            "invalid_emails": self.invalid_emails,
        }
        return lists[kind]


_ACCOUNT_KEYS = frozenset(
    {"username", "user_id", "scopes", "asm_groups", "verified_senders", "domains", "subusers"}
    | SUPPRESSION_FIELDS.keys()
)


def account_from_json(document: Any) -> Account:
    """An account from a JSON document; every key is optional, unknown keys are refused.

    ``{"scopes": ["mail.send"], "bounces": [{"email": ..., "created": ..., "reason": ...}],
    "asm_groups": [{"id": 7, "name": ..., "suppressions": [...]}], "verified_senders":
    [{"from_email": ..., "verified": false}], "domains": [{"domain": ..., "valid": true}],
    "subusers": {"name": {...}}}``. Raises ValueError, TypeError or KeyError.
    """
    if not isinstance(document, dict):
        raise TypeError("an account is a JSON object")
    unknown = sorted(set(document) - _ACCOUNT_KEYS)
    if unknown:
        raise ValueError(f"unknown account key {unknown[0]!r}")
    account = Account(
        username=str(document.get("username", "digest-tests")),
        user_id=int(document.get("user_id", 1)),
    )
    if "scopes" in document:
        account.scopes = [_string(scope, "scope") for scope in document["scopes"]]
    for kind in SUPPRESSION_FIELDS:
        for entry in document.get(kind, ()):
            account.suppressions(kind).add(**_object(entry, kind))
    for group in document.get("asm_groups", ()):
        details = dict(_object(group, "asm group"))
        account.asm_groups.add(details.pop("id"), **details)
    for sender in document.get("verified_senders", ()):
        account.verified_senders.add(**_object(sender, "verified sender"))
    for domain in document.get("domains", ()):
        account.domains.add(**_object(domain, "domain"))
    for name, subuser in _object(document.get("subusers", {}), "subusers").items():
        account.subusers[name] = account_from_json(subuser)
    return account


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"a {what} is a string, not {value!r}")
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"each {what} is a JSON object, not {value!r}")
    return value
