"""`digest history`: the editions and tests sent from this folder, newest first."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ..ledger import HistoryRow, Ledger, ledger_exists
from ..sending.edition import Context
from ..text import terminal_safe

# "uncertain batches" numbers them as `digest send --batch N` does. It comes after the
# counts and before the status, so scripts that read a count by its place from the
# start, or the status as the last column, still find them.
COLUMNS = (
    "edition", "kind", "when", "subject", "posts", "recipients", "accepted", "refused",
    "failed", "uncertain", "pending", "uncertain batches", "status",
)  # fmt: skip


def show_history(ctx: Context) -> int:
    """Print the ledger's editions and tests: a table on a terminal, tab-separated otherwise."""
    path = ctx.settings.state_dir / "state.db"
    rows: list[list[str]] = []
    if ledger_exists(path):
        with Ledger.open(path) as ledger:
            rows = [_cells(row) for row in ledger.history()]
    if not rows:
        ctx.say("No editions sent from this folder yet.")
        return 0
    if ctx.console.is_terminal:
        table = Table(*COLUMNS)
        for cells in rows:
            # As Text, not markup: a subject (a post's title) may hold "[" and "]".
            table.add_row(*(Text(terminal_safe(cell)) for cell in cells))
        ctx.console.print(table)
    else:
        for cells in [list(COLUMNS), *rows]:
            ctx.say_fields(cells)
    return len(rows)


def _cells(row: HistoryRow) -> list[str]:
    counts = (
        row.posts, row.recipients, row.accepted, row.refused, row.failed, row.uncertain,
        row.pending,
    )  # fmt: skip
    when = row.started_at.strftime("%Y-%m-%d %H:%M UTC")
    batches = ",".join(map(str, row.uncertain_batches))
    return [row.key, row.kind, when, row.subject, *map(str, counts), batches, row.status]
