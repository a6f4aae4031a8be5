"""`digest subscribers sync`: the list brought up to date before a send, with who left it.

Who left, and how: the unsubscribes the endpoint recorded in the ledger (every send
leaves them out already; sync writes them into the list) and, with the SendGrid
backend, SendGrid's global unsubscribes, bounces, invalid emails and spam reports and
the unsubscribe group's suppressions. Each row of those addresses gets the status it
calls for (``deliver.suppressions``), the most final one when several lists name it
(``audience.rewrite.RANK``); addresses no row has are reported, never added.
``sync_list`` is what the command runs, and what a scheduler runs before each send.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..app import App
from ..audience.addresses import address_key
from ..audience.rewrite import Change, Mark, mark_statuses, stronger
from ..errors import SyncError
from .pipeline import unsubscribed_through_the_link

# What reports call the ledger's unsubscribes.
THE_LINK = "the unsubscribe link"
# How many addresses a report names, of each kind.
SHOWN = 3


@dataclass
class SyncReport:
    """What a sync found and did: the rows it changed (or would, in a dry run), how many
    rows had their status already, the addresses no row has (by source, a few named),
    and whether SendGrid's lists were read and the list written."""

    changes: list[Change] = field(default_factory=list)
    already: int = 0
    unlisted: Counter[str] = field(default_factory=Counter)
    unlisted_shown: dict[str, list[str]] = field(default_factory=dict)
    read_sendgrid: bool = False
    written: bool = False


def sync_list(app: App, *, dry_run: bool = False) -> SyncReport:
    """Mark in the list each reader the ledger or SendGrid says left; write it (atomically)
    unless ``dry_run`` or nothing changes. Raises SyncError when SendGrid cannot be read,
    before anything is written."""
    settings = app.settings
    read_sendgrid = settings.delivery.backend == "sendgrid"
    marks: dict[str, Mark] = {}
    for address in sorted(unsubscribed_through_the_link(app)):
        _add(marks, Mark("unsubscribed", THE_LINK, address))
    if read_sendgrid:
        for mark in _sendgrid_marks(app):
            _add(marks, mark)
    marked = mark_statuses(app.paths.subscribers, marks, write=not dry_run)
    report = SyncReport(
        changes=marked.changes,
        already=sum(marked.already.values()),
        read_sendgrid=read_sendgrid,
        written=bool(marked.changes) and not dry_run,
    )
    for key, mark in marks.items():
        if key in marked.matched:
            continue
        report.unlisted[mark.source] += 1
        shown = report.unlisted_shown.setdefault(mark.source, [])
        if len(shown) < SHOWN:
            shown.append(mark.address)
    return report


def _add(marks: dict[str, Mark], mark: Mark) -> None:
    key = address_key(mark.address)
    marks[key] = stronger(mark, marks.get(key))


def _sendgrid_marks(app: App) -> Iterator[Mark]:
    """SendGrid's suppressions as marks, read through a client of the sync's own."""
    from ..deliver.sendgrid import SendGridApi
    from ..deliver.suppressions import read_suppressions

    settings = app.settings
    if not settings.secrets.sendgrid_api_key:
        raise SyncError(
            "SENDGRID_API_KEY is not set, so SendGrid's unsubscribes, bounces and spam"
            " reports cannot be read",
            "export SENDGRID_API_KEY with a key that may read Suppressions; subscribers.csv"
            " was not changed",
        )
    api = SendGridApi(
        api_key=settings.secrets.sendgrid_api_key,
        host=settings.sendgrid.host,
        timeout=settings.sendgrid.timeout,
        max_retries=settings.sendgrid.max_retries,
        sleep=app.sleep,
    )
    for entry in read_suppressions(api.get, settings.sendgrid.asm_group_id):
        yield Mark(entry.status, entry.source, entry.address)
