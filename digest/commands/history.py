"""`digest history`: the editions and tests sent from this folder, newest first."""

from __future__ import annotations

from ..app import App
from ..ledger import HistoryRow, Ledger, ledger_exists

# "uncertain batches" numbers them as `digest send --batch N` does. It and "unsubscribed"
# (readers left out after the freeze, as they unsubscribed since) come after the first
# counts and before the status, so scripts that read a count by its place from the
# start, or the status as the last column, still find them.
COLUMNS = (
    "edition", "kind", "when", "subject", "posts", "recipients", "accepted", "refused",
    "failed", "uncertain", "pending", "uncertain batches", "unsubscribed", "status",
)  # fmt: skip


def run(app: App) -> None:
    """Print the ledger's editions and tests: a table on a terminal, tab-separated otherwise."""
    path = app.paths.ledger
    rows: list[list[str]] = []
    if ledger_exists(path):
        with Ledger.open(path) as ledger:
            rows = [_cells(row) for row in ledger.history()]
    if not rows:
        app.say("No editions sent from this folder yet.")
        return
    app.say_table(COLUMNS, rows)


def _cells(row: HistoryRow) -> list[str]:
    counts = (
        row.posts, row.recipients, row.accepted, row.refused, row.failed, row.uncertain,
        row.pending,
    )  # fmt: skip
    when = row.started_at.strftime("%Y-%m-%d %H:%M UTC")
    batches = ",".join(map(str, row.uncertain_batches))
    cells = [row.key, row.kind, when, row.subject, *map(str, counts), batches]
    return [*cells, str(row.unsubscribed), row.status]
