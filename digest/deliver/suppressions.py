"""SendGrid's suppression lists read whole, each address with the status of subscribers.csv
it calls for (README, "subscribers sync").

The global unsubscribes and an unsubscribe (ASM) group's suppressions call for
``unsubscribed``; bounces and invalid emails for ``bounced``; spam reports for
``complained``. The four global lists are paged as tsg_suppressions_v3.json says:
``limit`` 500 (its maximum) and ``offset`` stepping by it until a page comes back short.
A group's suppressions (``ListSuppressionFromAsmGroup``) are one list: that operation
takes no paging parameters. The requests go through ``sendgrid.SendGridApi``, the SDK's
one user; what comes back is checked for the shape the file gives before it is trusted,
and a GET that fails is a SyncError that says what to do about it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import AccountError, SyncError

PAGE = 500
# 10 million entries a list: far past any real account. A server that never sends a
# short page is refused rather than read forever.
MAX_PAGES = 20_000
# The global lists: (path, the status each entry calls for, what reports call the list).
LISTS = (
    ("unsubscribes", "unsubscribed", "SendGrid's global unsubscribes"),
    ("bounces", "bounced", "SendGrid's bounces"),
    ("invalid_emails", "bounced", "SendGrid's invalid emails"),
    ("spam_reports", "complained", "SendGrid's spam reports"),
)

# ``SendGridApi.get``: (*path, query=...) -> the JSON answer, or an AccountError.
Get = Callable[..., Any]


@dataclass(frozen=True)
class Suppressed:
    """An address SendGrid suppresses (as it spells it), the status that calls for, and
    which list says so."""

    address: str
    status: str
    source: str


def read_suppressions(get: Get, asm_group_id: int) -> Iterator[Suppressed]:
    """Every entry of the four global lists, page by page, then of the unsubscribe group
    ``asm_group_id`` (0: none)."""
    for name, status, source in LISTS:
        for address in _paged(get, name):
            yield Suppressed(address, status, source)
    if asm_group_id:
        source = f"unsubscribe group {asm_group_id}"
        for address in _group(get, asm_group_id):
            yield Suppressed(address, "unsubscribed", source)


def _paged(get: Get, name: str) -> Iterator[str]:
    """The addresses of the global list ``name``, every page of it."""
    for page in range(MAX_PAGES):
        entries = _read(get, "suppression", name, query={"limit": PAGE, "offset": page * PAGE})
        if not isinstance(entries, list):
            raise _not_a_list(f"/v3/suppression/{name}")
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("email"), str):
                yield entry["email"]
        if len(entries) < PAGE:
            return
    raise SyncError(
        f"SendGrid's {name} list goes on past {MAX_PAGES * PAGE:,} entries",
        "that is no list SendGrid keeps: check sendgrid.host; subscribers.csv was not changed",
    )


def _group(get: Get, group_id: int) -> Iterator[str]:
    """The addresses the unsubscribe group suppresses."""
    missing = f"SendGrid has no unsubscribe group {group_id}; check sendgrid.asm_group_id"
    addresses = _read(get, "asm", "groups", str(group_id), "suppressions", missing=missing)
    if not isinstance(addresses, list):
        raise _not_a_list(f"/v3/asm/groups/{group_id}/suppressions")
    return (address for address in addresses if isinstance(address, str))


def _read(get: Get, *path: str, query: dict[str, int] | None = None, missing: str = "") -> Any:
    """``get(*path, query=query)``; its AccountError as a SyncError that says what to do
    (``missing``: what a 404 means)."""
    try:
        return get(*path, query=query)
    except AccountError as error:
        if error.status == 401:
            raise SyncError(
                f"SendGrid refused the API key ({error.message}); check SENDGRID_API_KEY"
            ) from error
        if error.status == 403:
            raise SyncError(
                f"SendGrid refused this API key a read ({error.message}); give the key read"
                " access to Suppressions (and Unsubscribe Groups, for sendgrid.asm_group_id)"
            ) from error
        if error.status == 404 and missing:
            raise SyncError(f"{missing} ({error.message})") from error
        raise SyncError(error.message) from error


def _not_a_list(where: str) -> SyncError:
    return SyncError(f"SendGrid's answer to GET {where} is not a list")
