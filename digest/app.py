"""The run context: one invocation's settings, clock, environment, output and stop flag.

``App`` also holds what follows from the settings, computed once: where each file of
the newsletter folder is (``Paths``), its templates folder, and the key of today's
edition. Commands, the send and the web apps take these from here rather than
spelling them out; the stages below are given plain values instead.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from .config import Newsletter, Settings
from .console import Console, SendProgress, consoles, print_line, print_table
from .errors import BatchFailed, ConfigError, EditionKeyError
from .ledger import Ledger, ledger_exists
from .models import date_key_problem
from .text import readable_time, terminal_safe

STATE_FOLDER = ".digest"
LEDGER_FILE = "state.db"


def utc_now() -> datetime:
    return datetime.now(UTC)


class StopFlag(Protocol):
    """Set once a signal asks the run to stop: a threading.Event, or in a send worker the
    parent's StopPipe (sending/workers.py)."""

    def is_set(self) -> bool: ...

    def set(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


@dataclass(frozen=True)
class Paths:
    """Where a newsletter folder keeps each file, resolved once from its settings."""

    state: Path  # .digest/, digest's own files
    ledger: Path  # .digest/state.db
    subscribers: Path
    outbox: Path

    @classmethod
    def of(cls, settings: Settings) -> Paths:
        state = settings.root / STATE_FOLDER
        return cls(
            state=state,
            ledger=state / LEDGER_FILE,
            subscribers=settings.path(settings.subscribers.path),
            outbox=settings.path(settings.delivery.outbox),
        )

    def uncertain_listing(self, key: str) -> Path:
        """Where a send lists the recipients of edition ``key``'s uncertain batches."""
        return self.state / f"uncertain-{key}.txt"


@dataclass
class App:
    """One invocation: settings, the fixed clock, the environment and where to print."""

    settings: Settings
    now: datetime
    env: Mapping[str, str]
    console: Console
    errors: Console
    clock: Callable[[], datetime] = utc_now
    stopping: StopFlag = field(default_factory=threading.Event)

    @classmethod
    def start(
        cls, settings: Settings, env: Mapping[str, str], *, now: datetime | None, quiet: bool
    ) -> App:
        """The context of a command run now, or at the fixed time ``now``."""
        console, errors = consoles(quiet=quiet)
        return cls(
            settings=settings,
            now=now or utc_now(),
            clock=(lambda: now) if now else utc_now,
            env=env,
            console=console,
            errors=errors,
        )

    @cached_property
    def paths(self) -> Paths:
        return Paths.of(self.settings)

    @cached_property
    def templates_dir(self) -> Path:
        """The newsletter's templates folder, which may be missing only under its default name.

        A folder without overrides is legitimate (every template then comes from the
        package), but a folder the config names explicitly and that is missing or is a
        file is a mistake that would otherwise silently ignore the user's templates.
        """
        configured = self.settings.newsletter.templates
        path = self.settings.path(configured)
        if path.is_dir():
            return path
        if path.exists():
            raise ConfigError(
                f"newsletter.templates: {path} is a file, not a folder",
                "set newsletter.templates to the folder holding your templates",
            )
        if Path(configured) != Path(Newsletter.templates):
            raise ConfigError(
                f"newsletter.templates: {path} does not exist",
                "create it, or set newsletter.templates to the folder holding your templates",
            )
        return path

    def edition_key(self, given: str | None = None) -> str:
        """``given``, else today's edition's: the date, in the schedule's time zone, of
        the run that sends it (the zone is valid: loading the settings checked it).

        A given key must be a real date (``2026-13-45`` is a typo, and would start an
        edition no schedule ever names), unless the ledger already holds an edition of
        that key: one started before keys had to be dates is still resumed and settled.
        """
        if given is None:
            zone = ZoneInfo(self.settings.schedule.timezone)
            return self.now.astimezone(zone).date().isoformat()
        problem = date_key_problem(given)
        if problem and not self._recorded(given):
            raise EditionKeyError(f"--edition {problem}")
        return given

    def _recorded(self, key: str) -> bool:
        """Whether the ledger holds an edition of that key (a folder without one, none)."""
        if not ledger_exists(self.paths.ledger):
            return False
        with Ledger.open(self.paths.ledger) as ledger:
            return ledger.edition(key) is not None

    def when(self, moment: datetime) -> str:
        """``moment`` as a message shows it: to the minute, in the schedule's time zone."""
        return readable_time(moment, ZoneInfo(self.settings.schedule.timezone))

    def sleep(self, seconds: float) -> None:
        """Wait before a retry, unless a signal asks the send to stop: then give the batch up."""
        if self.stopping.wait(seconds):
            raise BatchFailed("stopped by a signal while waiting to retry: the batch was not sent")

    def say(self, text: str) -> None:
        """A line of normal output (suppressed by --quiet through the console), terminal-safe:
        it may quote a reader's name or a feed's title."""
        print_line(self.console, terminal_safe(text))

    def say_fields(self, fields: Sequence[str]) -> None:
        """A line of tab-separated fields for other programs, each terminal-safe (a tab or
        newline inside a field shows as ``\\t`` or ``\\n``, so the columns hold)."""
        if not self.console.quiet:
            self.console.file.write("\t".join(map(terminal_safe, fields)) + "\n")

    def say_json(self, value: object) -> None:
        """A JSON document for other programs (suppressed by --quiet like ``say``). Every
        character outside printable ASCII is written as a ``\\u`` escape, so no text in it
        can act on a terminal."""
        if not self.console.quiet:
            self.console.file.write(json.dumps(value, indent=2, ensure_ascii=True) + "\n")

    def say_table(self, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """Rows as a table on a terminal, else as tab-separated lines under a header line."""
        if self.console.is_terminal:
            print_table(self.console, columns, [list(map(terminal_safe, row)) for row in rows])
            return
        for cells in [columns, *rows]:
            self.say_fields(cells)

    def warn(self, text: str) -> None:
        """A warning line on stderr, terminal-safe like ``say``."""
        print_line(self.errors, f"warning: {terminal_safe(text)}")

    def report(self, text: str) -> None:
        """A line of a command's findings on stderr (the problems ``subscribers check``
        finds, say), terminal-safe like ``say``."""
        print_line(self.errors, terminal_safe(text))

    def progress(self, batches: int, recipients: int) -> SendProgress:
        """The send's progress bar, shown on a terminal only."""
        return SendProgress(self.console, batches, recipients)
