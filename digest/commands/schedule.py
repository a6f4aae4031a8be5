"""`digest schedule`: the weekly schedule run in the foreground (the loop), one tick of it
(``--once``: cron, a timer, CI), or its next run times (``next``). A due tick syncs the
list (SendGrid), runs `digest doctor`'s checks (a failure, not a warning, stops it) and
sends as `digest send --yes --edition KEY`; a missed run is reported once (the ledger
notes it), however often a timer ticks after it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..app import App
from ..errors import DigestError, NothingToSend, StandDown
from ..ledger import SENT, Ledger, ledger_exists
from ..schedule import (
    Action,
    Decision,
    EditionState,
    Timetable,
    decide,
    run_forever,
    stopped_by_signals,
)
from ..text import readable_time


def timetable(app: App) -> Timetable:
    plan = app.settings.schedule
    return Timetable.parse(plan.cron, plan.timezone, plan.grace_minutes)


def next_runs(app: App, count: int) -> None:
    """Print the next ``count`` run times after now, one a line, ISO 8601 with the offset."""
    table = timetable(app)
    runs = table.next_runs(app.now, count)
    for run in runs:
        app.say(run.isoformat())
    if len(runs) < count:
        app.warn(f"schedule.cron {table.cron!r} names no later time")


def once(app: App) -> None:
    """One tick: the latest run at or before now, sent, resumed, reported missed, or none."""
    decision = decide(app.now, timetable(app), lambda key: edition_state(app, key))
    if decision.action is Action.MISSED:
        _missed(app, decision)
        return
    app.say(decision.describe())
    if decision.action is not Action.NOTHING:
        send_due(app, decision)


def loop(app: App) -> None:
    """Tick at each run time until SIGTERM or Ctrl-C, which end a wait at once (and a send
    after the requests in flight); one line per decision, with the time."""
    zone = app.settings.schedule.timezone

    def log(line: str) -> None:
        app.say(f"{readable_time(app.clock(), zone)}  {line}")

    def act(decision: Decision) -> None:
        if not app.stopping.is_set():
            send_due(replace(app, now=app.clock()), decision, log)

    with stopped_by_signals(app.stopping) as stopped_by:
        run_forever(
            timetable(app),
            state_of=lambda key: edition_state(app, key),
            act=act,
            clock=app.clock,
            stop=app.stopping,
            log=log,
        )
    if stopped_by:
        log(f"stopped by {stopped_by[0]}")


def edition_state(app: App, key: str) -> EditionState:
    """What the ledger says of edition ``key``; in sandbox mode, of its rehearsals (a
    rehearsal that went through counts as the run done, so each run rehearses once)."""
    if not ledger_exists(app.paths.ledger):
        return EditionState.NOT_STARTED
    with Ledger.open(app.paths.ledger) as ledger:
        if app.settings.sendgrid.sandbox:
            done = ledger.rehearsed(key)
            return EditionState.REHEARSED if done else EditionState.NOT_STARTED
        edition = ledger.edition(key)
    if edition is None:
        return EditionState.NOT_STARTED
    return EditionState.COMPLETE if edition.status == SENT else EditionState.HALF_SENT


def send_due(app: App, decision: Decision, log: Callable[[str], None] | None = None) -> None:
    """Sync the list, check everything (refusing on a failure), and send the edition."""
    from ..sending.plan import SendOptions
    from ..sending.preflight import require_ready
    from . import send, subscribers

    key = decision.edition
    if app.settings.delivery.backend == "sendgrid":
        try:
            subscribers.sync(app, dry_run=False)
        except DigestError as error:
            # SendGrid unreachable, or the list not writable: SendGrid drops its own
            # suppressed addresses and the send leaves out the link's unsubscribes, so a
            # list not synced this once harms no reader.
            app.warn(f"{error}; the edition goes to the list as it was")
    require_ready(app, key, resuming=decision.action is Action.RESUME)
    if app.stopping.is_set():
        return  # a stop came during the sync or the checks: start nothing, half-send nothing
    options = SendOptions(edition=key, yes=True)
    try:
        send.run(app, to=(), dry_run=False, options=options, confirm=lambda _question: False)
    except (NothingToSend, StandDown) as done:
        if log is None:
            raise
        log(str(done))


def _missed(app: App, decision: Decision) -> None:
    """Report a missed run once: an error the first time, one plain line after. A run
    before the newsletter's first edition is no edition missed: one plain line."""
    assert decision.run is not None
    run = decision.run.isoformat()
    if not _any_edition(app):
        app.say(f"run {run} passed before the first edition: nothing to do")
        return
    with Ledger.open(app.paths.ledger) as ledger:
        noted = ledger.note_missed(decision.run, decision.edition, app.clock())
    if noted is None:
        raise DigestError(decision.describe())
    zone = app.settings.schedule.timezone
    app.say(f"run {run} was missed (reported {readable_time(noted, zone)}): nothing to do")


def _any_edition(app: App) -> bool:
    if not ledger_exists(app.paths.ledger):
        return False
    with Ledger.open(app.paths.ledger) as ledger:
        return ledger.any_edition()
