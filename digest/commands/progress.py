"""The progress bar shown while a send runs on a terminal: batches, recipients, rate, time left."""

from __future__ import annotations

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
from rich.text import Text


class RateColumn(ProgressColumn):
    """Recipients a second, once there is enough to measure."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "-/s", style="progress.data.speed")


class SendProgress:
    """A rich progress bar when the console is a terminal; silent otherwise."""

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
