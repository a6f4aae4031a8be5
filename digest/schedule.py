"""The schedule: cron + time zone -> run times; one tick as a pure decision; the loop.

Cron expressions are read by cronsim, through ``digest.cron``. cronsim walks naive wall
times; the rule below, not its Debian-style handling of zones, turns them into instants.

Times follow one rule, for every expression: the five fields name wall-clock times in
the schedule's zone, and each such time is one run, at most once.

- A time inside a skipped spring-forward hour (02:30 on the day clocks go 02:00 ->
  03:00) runs at the first valid instant after the gap (03:00), as cron implementations
  usually do; several skipped times (``*/15``) make that one run.
- A time inside a repeated fall-back hour (01:30 on the day clocks go 02:00 -> 01:00)
  runs once, at its first occurrence. Debian's cron runs sub-hourly jobs in both
  occurrences; an edition is a date, so a second run could only ever stand down.

Comparisons and differences are made in UTC: Python compares two datetimes of one
zone by their wall time, which is wrong inside a repeated hour.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from itertools import islice
from types import FrameType
from typing import Protocol
from zoneinfo import ZoneInfo

from .config.checks import grace_problem, zone_problem
from .cron import cron_problem, wall_times
from .errors import ConfigError, DigestError

WAKE_EVERY = 60.0  # seconds: how soon after a suspend the loop notices the clock jumped
RETRY_EVERY = 300.0  # seconds: how soon a send that failed is tried again, within grace


def schedule_problems(cron: str, timezone: str, grace_minutes: int) -> list[str]:
    """Every problem with a [schedule] section's values, each naming its key."""
    found = [
        cron_problem("schedule.cron", cron),
        zone_problem("schedule.timezone", timezone),
        grace_problem("schedule.grace_minutes", grace_minutes),
    ]
    return [problem for problem in found if problem]


@dataclass(frozen=True)
class Timetable:
    """When runs happen: a checked cron expression, in a zone, with its grace period."""

    cron: str
    zone: ZoneInfo
    grace: timedelta

    @classmethod
    def parse(cls, cron: str, timezone: str, grace_minutes: int) -> Timetable:
        """The timetable of a [schedule] section, or one ConfigError naming each bad key."""
        problems = schedule_problems(cron, timezone, grace_minutes)
        if problems:
            raise ConfigError("; ".join(problems))
        return cls(cron, ZoneInfo(timezone), timedelta(minutes=grace_minutes))

    def next_runs(self, after: datetime, count: int) -> list[datetime]:
        """The next ``count`` runs strictly after ``after``, aware in the schedule's zone."""
        return list(islice(self._runs_after(after), count))

    def next_run(self, after: datetime) -> datetime | None:
        """The first run strictly after ``after``, or None if the expression never runs again."""
        return next(self._runs_after(after), None)

    def latest_run(self, at_or_before: datetime) -> datetime | None:
        """The last run at or before the given instant, aware in the schedule's zone."""
        limit = _utc(at_or_before)
        for wall in wall_times(self.cron, self._wall_bound(limit), reverse=True):
            instant = self._instant(wall)
            if instant <= limit:
                return instant.astimezone(self.zone)
        return None

    def _runs_after(self, after: datetime) -> Iterator[datetime]:
        last = _utc(after)
        start = last.astimezone(self.zone).replace(tzinfo=None)
        for wall in wall_times(self.cron, start, reverse=False):
            instant = self._instant(wall)
            if instant > last:  # wall times of a gap share one instant; keep it once
                last = instant
                yield instant.astimezone(self.zone)

    def _wall_bound(self, limit: datetime) -> datetime:
        """A wall time past every run at or before ``limit``, for iterating backwards.

        Inside a repeated hour's second occurrence, later wall times of that hour ran
        earlier (at their first occurrence): the bound moves past the repeat.
        """
        local = limit.astimezone(self.zone)
        wall = local.replace(tzinfo=None)
        if local.fold:
            first = wall.replace(tzinfo=self.zone, fold=0).utcoffset() or timedelta(0)
            wall += max(timedelta(0), first - (local.utcoffset() or timedelta(0)))
        return wall.replace(microsecond=0) + timedelta(seconds=1)

    def _instant(self, wall: datetime) -> datetime:
        """The UTC instant of a naive wall time: its first occurrence, or after a gap."""
        while not self._exists(wall):
            wall = wall.replace(second=0) + timedelta(minutes=1)  # gaps are whole minutes
        return wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)

    def _exists(self, wall: datetime) -> bool:
        """Whether clocks in the zone ever show ``wall`` (not inside a spring-forward gap)."""
        instant = wall.replace(tzinfo=self.zone).astimezone(UTC)
        return instant.astimezone(self.zone).replace(tzinfo=None) == wall


class EditionState(Enum):
    """What the ledger says about an edition."""

    NOT_STARTED = "not started"
    HALF_SENT = "half-sent"
    COMPLETE = "complete"
    REHEARSED = "rehearsed"  # in sandbox mode: a rehearsal of it went through


class Action(Enum):
    """What one tick does."""

    SEND = "send"
    RESUME = "resume"
    MISSED = "missed"
    NOTHING = "nothing"


@dataclass(frozen=True)
class Decision:
    """One tick's verdict on the latest run at or before now, and the line that says it."""

    action: Action
    run: datetime | None = None  # aware, in the schedule's zone
    edition: str = ""  # the run's date in the schedule's zone
    late: timedelta = timedelta(0)
    grace: timedelta = timedelta(0)
    state: EditionState = EditionState.NOT_STARTED

    def describe(self) -> str:
        """One line for the operator: which run, what is done about it, and why."""
        if self.run is None:
            return "no scheduled run is due yet: nothing to do"
        run = self.run.isoformat()
        late = f" ({_duration(self.late)} late)" if self.late >= timedelta(minutes=1) else ""
        if self.action is Action.SEND:
            return f"run {run} is due{late}: sending edition {self.edition}"
        if self.action is Action.RESUME:
            return f"run {run} is due{late}: resuming edition {self.edition}, half-sent before"
        if self.action is Action.NOTHING:
            done = "rehearsed" if self.state is EditionState.REHEARSED else "sent"
            return f"edition {self.edition} (run {run}) was {done} already: nothing to do"
        beyond = f"more than the {_duration(self.grace)} grace period"
        if self.state is EditionState.HALF_SENT:
            return (
                f"run {run} is {_duration(self.late)} late, {beyond}, and edition "
                f"{self.edition} is half-sent: nothing sent; finish it with "
                f"`digest send --edition {self.edition}`"
            )
        return (
            f"missed run {run} by {_duration(self.late)}, {beyond}: nothing sent; "
            f"to send edition {self.edition} late anyway, run "
            f"`digest send --edition {self.edition}`"
        )


def decide(
    now: datetime, timetable: Timetable, state_of: Callable[[str], EditionState]
) -> Decision:
    """One tick: what to do about the latest run at or before ``now``.

    A run whose edition is complete needs nothing; otherwise it is sent (or resumed,
    when half-sent) if ``now`` is at most the grace period after it, and reported
    missed, with nothing sent, if later: a late digest is worse than none.
    """
    run = timetable.latest_run(now)
    if run is None:
        return Decision(Action.NOTHING)
    edition = run.date().isoformat()
    late = _utc(now) - _utc(run)
    state = state_of(edition)
    if state in (EditionState.COMPLETE, EditionState.REHEARSED):
        action = Action.NOTHING
    elif late > timetable.grace:
        action = Action.MISSED
    else:
        action = Action.RESUME if state is EditionState.HALF_SENT else Action.SEND
    return Decision(action, run, edition, late, timetable.grace, state)


class StopFlag(Protocol):
    """Set (by a signal handler, say) to stop the loop: a threading.Event fits."""

    def is_set(self) -> bool: ...

    def set(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


def set_from_a_handler(stop: StopFlag) -> None:
    """Set ``stop`` from a signal handler without ever blocking on it. The handler runs in
    the main thread between two bytecodes, maybe while that thread holds the lock inside
    ``Event.wait``; ``Event.set`` takes the same lock, and would wait for it forever. A
    thread of its own sets it as soon as the main thread lets go of it."""
    threading.Thread(target=stop.set, name="digest-stop", daemon=True).start()


@contextmanager
def stopped_by_signals(stop: StopFlag) -> Iterator[list[str]]:
    """While inside, SIGTERM and Ctrl-C set ``stop`` (a send in progress installs its own
    handlers, which let the requests in flight finish first); yields the names of the
    signals caught. The handlers before are put back on leaving."""
    caught: list[str] = []
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def handle(signum: int, _frame: FrameType | None) -> None:
        caught.append(signal.Signals(signum).name)
        set_from_a_handler(stop)

    for sig in signals:
        signal.signal(sig, handle)
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_forever(
    timetable: Timetable,
    *,
    state_of: Callable[[str], EditionState],
    act: Callable[[Decision], None],
    clock: Callable[[], datetime],
    stop: StopFlag,
    log: Callable[[str], None],
    wake_every: float = WAKE_EVERY,
    retry_every: float = RETRY_EVERY,
) -> None:
    """Tick now and at each run time until ``stop`` is set; return at once when it is.

    Each tick logs one line and calls ``act`` to send or resume; an error ``act``
    raises is logged, and the send is tried again ``retry_every`` seconds later while
    that is within the grace period (SendGrid or the feed may be back by then), else
    the loop waits for the next run. Each tick waits for the first run after the
    previous tick's time, so every run is decided once, and one that came due during a
    long send is decided as soon as the send ends. Waiting wakes every ``wake_every``
    seconds to reread the clock: after a suspend or a clock change the tick comes soon
    and catches up on the latest run within the grace period, or reports it missed. A
    restart does the same with its first tick.
    """
    while not stop.is_set():
        now = clock()
        decision = decide(now, timetable, state_of)
        log(decision.describe())
        failed = decision.action in (Action.SEND, Action.RESUME) and not _act(act, decision, log)
        target = timetable.next_run(now)
        retry = _retry_time(decision, clock(), retry_every, timetable) if failed else None
        if retry is not None and (target is None or _utc(retry) < _utc(target)):
            log(f"trying edition {decision.edition} again at {retry.isoformat()}")
            target = retry
        elif target is None:
            log(f"{timetable.cron!r} names no later time: the schedule has ended")
            return
        elif _utc(target) > _utc(clock()):
            log(f"next run {target.isoformat()}")
        if not _wait_until(target, clock, stop, wake_every):
            return


def _act(act: Callable[[Decision], None], decision: Decision, log: Callable[[str], None]) -> bool:
    """Run the send; its failure is one log line (and False), and the loop lives on."""
    try:
        act(decision)
    except DigestError as error:
        log(f"edition {decision.edition} failed: {error}")
        return False
    return True


def _retry_time(
    decision: Decision, now: datetime, retry_every: float, timetable: Timetable
) -> datetime | None:
    """When to try a failed send again: ``retry_every`` from now, if that is still within
    the grace period of its run; else None (the run is over)."""
    assert decision.run is not None  # a send decides a run
    again = _utc(now) + timedelta(seconds=retry_every)
    if again > _utc(decision.run) + timetable.grace:
        return None
    return again.astimezone(timetable.zone)


def _wait_until(
    target: datetime, clock: Callable[[], datetime], stop: StopFlag, wake_every: float
) -> bool:
    """Wait until the clock reaches ``target`` (True) or ``stop`` is set (False)."""
    while True:
        remaining = (_utc(target) - _utc(clock())).total_seconds()
        if remaining <= 0:
            return True
        if stop.wait(min(remaining, wake_every)):
            return False


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone")
    return moment.astimezone(UTC)


def _duration(span: timedelta) -> str:
    """A span as an operator reads it: "2 days 3 h 5 min", "45 s"."""
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    days, rest = divmod(seconds // 60, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    return " ".join(parts)
