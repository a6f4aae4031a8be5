"""`digest history [--json]`: the editions, rehearsals and tests sent from this folder,
newest first.

The table's columns are the ones scripts have read by place since the first release;
"when" is local time in the schedule's zone (``2026-03-09 09:00 PDT``). ``--json`` gives
the same rows as objects, with ISO 8601 times carrying their offset, for programs.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ..app import App
from ..ledger import REHEARSAL, SENT, HistoryRow, Ledger, ledger_exists
from ..text import readable_time

# "uncertain batches" numbers them as `digest send --batch N` does. It and "unsubscribed"
# (readers left out after the freeze, as they unsubscribed since) come after the first
# counts and before the status, so scripts that read a count by its place from the
# start, or the status as the last column, still find them.
COLUMNS = (
    "edition", "kind", "when", "subject", "posts", "recipients", "accepted", "refused",
    "failed", "uncertain", "pending", "uncertain batches", "unsubscribed", "status",
)  # fmt: skip


def run(app: App, *, as_json: bool = False) -> None:
    """Print the ledger's editions, rehearsals and tests: a table on a terminal,
    tab-separated otherwise, or a JSON array."""
    path = app.paths.ledger
    rows: list[HistoryRow] = []
    if ledger_exists(path):
        with Ledger.open(path) as ledger:
            rows = ledger.history()
    zone = app.settings.schedule.timezone
    if as_json:
        app.say_json([_entry(row, zone) for row in rows])
        return
    if not rows:
        app.say("No editions sent from this folder yet.")
        return
    app.say_table(COLUMNS, [_cells(row, zone) for row in rows])


def status(row: HistoryRow) -> str:
    """An edition's "sending" or "sent", a test's "accepted" or "failed"; a rehearsal
    "rehearsed", or "stopped" (a rehearsal is never resumed)."""
    if row.kind != REHEARSAL:
        return row.status
    return "rehearsed" if row.status == SENT else "stopped"


def _cells(row: HistoryRow, zone: str) -> list[str]:
    counts = (
        row.posts, row.recipients, row.accepted, row.refused, row.failed, row.uncertain,
        row.pending,
    )  # fmt: skip
    when = readable_time(row.started_at, zone)
    batches = ",".join(map(str, row.uncertain_batches))
    cells = [row.key, row.kind, when, row.subject, *map(str, counts), batches]
    return [*cells, str(row.unsubscribed), status(row)]


def _entry(row: HistoryRow, zone: str) -> dict[str, object]:
    """A row for programs: the table's columns, times in ISO 8601 with the zone's offset."""
    local = ZoneInfo(zone)
    return {
        "edition": row.key,
        "kind": row.kind,
        "when": row.started_at.astimezone(local).isoformat(),
        "finished": row.finished_at.astimezone(local).isoformat() if row.finished_at else None,
        "subject": row.subject,
        "posts": row.posts,
        "recipients": row.recipients,
        "accepted": row.accepted,
        "refused": row.refused,
        "failed": row.failed,
        "uncertain": row.uncertain,
        "pending": row.pending,
        "uncertain_batches": list(row.uncertain_batches),
        "unsubscribed": row.unsubscribed,
        "status": status(row),
    }
