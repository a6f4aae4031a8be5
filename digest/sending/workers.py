"""Who runs ``Backend.send`` for a batch: threads of this process, or worker processes.

Unpacking and personalizing a batch's recipients, building the request and the
SDK's JSON encoding take most of a large send's CPU time. Under the GIL, threads
share one core however many there are; for SendGrid, whose batches are a thousand
readers each, ``sendgrid.concurrency`` worker processes do that work on every core while
this process keeps the ledger: it reads a batch's packed recipients, marks the
batch in flight, hands them over and records the answer.

The workers are forked before any thread starts, from a parent that has already
built the backend, the message and the personalizer, so they inherit them. They
never touch SQLite (a connection must not cross fork()). They ignore SIGINT (the
parent decides when to stop, and a request in flight is always finished). A
shared flag, set by ``relay_stop`` once the parent is stopping, cuts their retry
waits short, as ``App.sleep`` does in one process. A worker whose
parent died (kill -9) exits within a second: the batch it held is in flight in
the ledger, so the rerun reports it as uncertain, as after any crash.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from ..app import App
from ..audience.personalize import Personalizer
from ..deliver import Backend, Message
from ..models import unpack_recipients
from .offload import exit_with_parent


@dataclass
class Job:
    """What every batch of one send shares."""

    app: App
    backend: Backend
    message: Message
    personalize: Personalizer

    def send(self, packed: str) -> str:
        """Send one batch (its recipients as the ledger packed them); the provider's id
        for it, or the backend's error."""
        recipients = [self.personalize(subscriber) for subscriber in unpack_recipients(packed)]
        return self.backend.send(self.message, recipients)


class StopPipe:
    """A stop flag the parent sets and forked workers see, without locks.

    A multiprocessing.Event takes a lock and waits for every sleeper to wake when
    set, so a worker that died while sleeping could hang the parent. Here setting
    is one byte written into a pipe, and "is it set" is whether the pipe has
    anything to read: a worker never reads it, so it stays readable for all.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        self._set = False

    def set(self) -> None:
        if not self._set:
            self._set = True
            os.write(self._write, b"!")

    def is_set(self) -> bool:
        return self.wait(0)

    def wait(self, timeout: float | None = None) -> bool:
        readable, _, _ = select.select([self._read], [], [], timeout)
        return bool(readable)

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)


class Senders:
    """Runs a send's batches, ``workers`` at a time, in threads or in worker processes."""

    def __init__(self, executor: Executor, job: Job, stop: StopPipe | None) -> None:
        self._executor = executor
        self._job = job
        self._stop = stop

    def submit(self, packed: str) -> Future[str]:
        if self._stop is None:
            return self._executor.submit(self._job.send, packed)
        return self._executor.submit(_send_in_worker, packed)

    def relay_stop(self) -> None:
        """Pass a stop (a signal caught by this process) on to the worker processes."""
        if self._stop is not None and self._job.app.stopping.is_set():
            self._stop.set()


# The job of this worker process, inherited from the parent at fork.
_job: Job | None = None


@contextmanager
def senders(job: Job, workers: int, *, processes: bool) -> Iterator[Senders]:
    """Threads (``processes`` False) or forked worker processes, shut down on exit.

    On exit every batch handed over has been answered: shutdown waits for them. When
    the block ends with an exception (a second Ctrl-C, a ledger error), the workers
    are told to stop first, so none sits out a retry wait the parent will not use.
    """
    if not processes:
        with ThreadPoolExecutor(max_workers=workers) as threads:
            yield Senders(threads, job, None)
        return
    global _job
    fork = multiprocessing.get_context("fork")
    stop = StopPipe()
    _job = job
    try:
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=fork,
            initializer=_start_worker,
            initargs=(stop, os.getpid()),
        ) as pool:
            # All workers fork at the first submit, before the progress bar's thread starts.
            pool.submit(os.getpid).result()
            try:
                yield Senders(pool, job, stop)
            except BaseException:
                stop.set()
                raise
    finally:
        _job = None
        stop.close()


def _start_worker(stop: StopPipe, parent: int) -> None:
    # Ctrl-C reaches the whole process group: the parent decides what it means. SIGTERM
    # keeps its default, so that the pool can end its workers if one of them dies.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    assert _job is not None, "a send worker starts only by fork from senders()"
    _job.app.stopping = stop
    # An orphan would otherwise wait for work forever (it holds the queue's other end).
    exit_with_parent(parent)


def _send_in_worker(packed: str) -> str:
    assert _job is not None
    return _job.send(packed)
