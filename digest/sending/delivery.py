"""The delivery loop: an edition's pending batches sent with a bounded number in flight,
each state committed to the ledger before the request and after the answer.

Whatever happens, every request that was started is waited for and its outcome
recorded before the loop returns or raises: the ledger never lags behind the
provider. Ctrl-C or SIGTERM stops it taking new batches; a second signal gets the
default behaviour back. Before each batch goes, the readers who unsubscribed since the
audience was frozen are taken out of it (``LateUnsubscribes``).
"""

from __future__ import annotations

import gc
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from types import FrameType

from ..app import App
from ..audience.active import UNSUBSCRIBED_BY_LINK
from ..audience.packing import holds_any
from ..deliver import Backend, Message
from ..errors import BatchUncertain, DigestError, RecipientRefused
from ..ledger import Batch, Ledger
from ..schedule import set_from_a_handler
from .backends import concurrency
from .edition import message_personalizer
from .outcome import SendOutcome
from .workers import Job, senders

# How often a send waiting on its workers passes a caught signal on to them.
STOP_POLL_SECONDS = 0.2


def deliver(
    app: App,
    ledger: Ledger,
    batches: list[Batch],
    backend: Backend,
    message: Message,
    outcome: SendOutcome,
    unsubscribes_seen: int = 0,
) -> None:
    """Send the batches with a bounded number in flight, recording each state in the ledger.

    ``unsubscribes_seen`` is the edition's (``Edition.unsubscribes_seen``): readers who
    unsubscribed after it are taken out of the batches, on record, before they go.

    Whatever happens, every request that was started is waited for and its outcome
    recorded before this returns or raises: the ledger never lags behind SendGrid.
    Only a ledger that cannot be written leaves the answers it failed to record
    in flight, which a rerun reports as uncertain, as after a crash.
    """
    personalize = message_personalizer(app.settings, message)
    workers = concurrency(app, backend)
    job = Job(app, backend, message, personalize)
    queue = iter(batches)
    late = LateUnsubscribes(ledger, unsubscribes_seen)
    in_flight: dict[Future[str], Batch] = {}
    total = sum(batch.size for batch in batches)
    crash: BaseException | None = None
    # Workers fork below: they inherit what the backend loads (resuming, nothing has yet).
    backend.prepare()
    # What this process holds as the send starts (the modules imported since main()
    # froze the rest, the rendered edition) lives as long as the process: out of the
    # cyclic collector's way, here and in the workers forked from it. Left frozen, as
    # main() leaves its own: the process ends after the send, and its final collection
    # skips a frozen heap (0.2 s less at exit after 100k readers).
    gc.freeze()
    with (
        _graceful_stop(app, outcome),
        senders(job, workers, processes=workers > 1) as pool,
        app.progress(len(batches), total) as progress,
    ):
        try:
            while True:
                while len(in_flight) < workers and _may_go_on(app, outcome, crash):
                    batch = next(queue, None)
                    if batch is None:
                        break
                    batch, packed, gone = late.take_out(batch, app.clock())
                    if gone:
                        outcome.skipped[UNSUBSCRIBED_BY_LINK] += gone
                        progress.advance(gone)
                    if not batch.size:
                        continue
                    ledger.mark_in_flight(batch.id, app.clock())
                    try:
                        in_flight[pool.submit(packed)] = batch
                    except BrokenExecutor as broken:  # surely not sent: pending again
                        ledger.mark_pending([batch.id])
                        outcome.stopped_on = _worker_died(broken)
                if not in_flight:
                    break
                done, _ = wait(in_flight, timeout=STOP_POLL_SECONDS, return_when=FIRST_COMPLETED)
                pool.relay_stop()
                for future in done:
                    batch = in_flight.pop(future)
                    unexpected = _record(app, ledger, batch, future, outcome)
                    crash = crash or unexpected
                    progress.advance(batch.size)
        except Exception:
            # The ledger failed (locked for too long, disk full): take no new batch, but
            # record the answers of the requests still out, if the ledger lets us.
            for future, batch in in_flight.items():
                _record(app, ledger, batch, future, outcome)
            raise
    if crash is not None:
        raise crash


class LateUnsubscribes:
    """The readers who unsubscribed after an edition's audience was frozen: asked of the
    ledger before each batch goes (one query of its index, which nearly always finds
    nothing new, so a resumed million-reader send pays nothing), and taken out of a batch
    that holds one of them, on record (``Ledger.withhold_readers``), before it goes."""

    def __init__(self, ledger: Ledger, seen: int) -> None:
        self._ledger = ledger
        self._seen = seen
        self._addresses: set[str] = set()

    def take_out(self, batch: Batch, at: datetime) -> tuple[Batch, str, int]:
        """The batch as it goes now (size 0: nobody is left), its packed recipients, and
        how many readers were taken out of it."""
        for seq, address in self._ledger.unsubscribes_after(self._seen):
            self._addresses.add(address)
            self._seen = seq
        packed = self._ledger.packed_recipients(batch.id)
        if not holds_any(packed, self._addresses):
            return batch, packed, 0
        gone = len(self._ledger.withhold_readers(batch.id, self._addresses, at))
        if gone == batch.size:
            return replace(batch, size=0), "", gone
        left = replace(batch, size=batch.size - gone)
        return left, self._ledger.packed_recipients(batch.id), gone


def _may_go_on(app: App, outcome: SendOutcome, crash: BaseException | None) -> bool:
    return not app.stopping.is_set() and outcome.stopped_on is None and crash is None


def _record(
    app: App, ledger: Ledger, batch: Batch, future: Future[str], outcome: SendOutcome
) -> BaseException | None:
    """Record one finished request; returns an unexpected error to raise once all are in."""
    try:
        message_id = future.result()
    except BatchUncertain as problem:
        outcome.uncertain += batch.size
        app.warn(f"batch {batch.number}: {problem.message}; it stays uncertain")
    except BrokenExecutor as broken:  # a worker died, maybe after posting: stays in flight
        outcome.uncertain += batch.size
        if outcome.stopped_on is None:
            outcome.stopped_on = _worker_died(broken)
    except RecipientRefused as problem:
        ledger.mark_rejected(batch.id, str(problem), app.clock())
        outcome.rejected += batch.size
        app.warn(str(problem))
    except DigestError as problem:
        ledger.mark_failed(batch.id, str(problem), app.clock())
        outcome.failed += batch.size
        if outcome.stopped_on is None:
            outcome.stopped_on = problem
    except Exception as unexpected:  # a bug: the batch stays in flight, uncertain
        outcome.uncertain += batch.size
        return unexpected
    else:
        ledger.mark_accepted(batch.id, message_id, app.clock())
        outcome.accepted += batch.size
        if batch.id in outcome.resending:
            outcome.resent += batch.size
    return None


def _worker_died(broken: BrokenExecutor) -> BatchUncertain:
    return BatchUncertain(
        f"a send worker process died ({broken}); the batches it held may or may not "
        "have reached SendGrid"
    )


@contextmanager
def _graceful_stop(app: App, outcome: SendOutcome) -> Iterator[None]:
    """Ctrl-C or SIGTERM: stop taking new batches and retrying, let requests in flight finish.

    A second signal gets the default behaviour back, for a user who cannot wait.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def handle(signum: int, _frame: FrameType | None) -> None:
        outcome.stopped_by = signal.Signals(signum).name
        set_from_a_handler(app.stopping)
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    for sig in signals:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
