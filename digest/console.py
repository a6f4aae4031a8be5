"""The terminal: the one module that imports rich.

Lines are printed as they are (no markup such as ``[bold]``, emoji codes or
highlighting: they may quote a feed or a reader); a table or a progress bar only
when the output is a terminal. Making each line terminal-safe is the caller's
(``App.say``), as it knows which text is untrusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

__all__ = ["Console", "SendProgress", "consoles", "print_line", "print_table"]


def consoles(*, quiet: bool) -> tuple[Console, Console]:
    """The console for normal output (silent under ``quiet``) and the one for errors."""
    return Console(quiet=quiet, highlight=False), Console(stderr=True, highlight=False)


def print_line(console: Console, line: str) -> None:
    """The line as it is: no markup such as ``[bold]``, emoji codes or highlighting."""
    console.print(line, markup=False, emoji=False, highlight=False, soft_wrap=True)


def print_table(console: Console, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table of ``rows`` under ``columns``; each cell as Text, not markup (a subject, a
    post's title, may hold "[" and "]")."""
    table = Table(*columns)
    for cells in rows:
        table.add_row(*(Text(cell) for cell in cells))
    console.print(table)


class RateColumn(ProgressColumn):
    """Recipients a second, once there is enough to measure."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "-/s", style="progress.data.speed")


class SendProgress:
    """The progress bar shown while a send runs on a terminal (batches, recipients, rate,
    time left); silent otherwise."""

    def __init__(self, console: Console, batches: int, recipients: int) -> None:
        self._batches = batches
        self._done_batches = 0
        self._progress: Progress | None = None
        if console.is_terminal and not console.quiet and recipients:
            self._progress = Progress(
                TextColumn("[bold]sending"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("recipients  {task.fields[batches]}"),
                RateColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self._task = self._progress.add_task(
                "send", total=recipients, batches=self._batch_text()
            )

    def _batch_text(self) -> str:
        return f"batch {self._done_batches}/{self._batches}"

    def advance(self, recipients: int) -> None:
        self._done_batches += 1
        if self._progress is not None:
            self._progress.update(self._task, advance=recipients, batches=self._batch_text())

    def __enter__(self) -> SendProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
