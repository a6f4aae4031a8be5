"""Producing a long stream of items in a forked child process, consumed here as it comes.

Freezing a large audience means reading, validating and deduplicating
subscribers.csv (Python, the larger part), then writing the batches into the
ledger. With the reading in a child, this process only writes, and it is free
for other work meanwhile: ``digest send`` renders the email while the child reads.

The child writes each chunk of items into an unnamed temporary file (the spool)
and sends only its size through the pipe, so it never waits for this process to
read: a pipe holds 64 kB, a second of the child's work is megabytes.

The child is forked, so it inherits what ``produce`` needs without pickling. It
must not use a SQLite connection it inherited (a connection must not cross
fork()); one it opens itself is fine. It ignores SIGINT from its start (the parent
decides; it kills the child when the stream is abandoned) and exits with its parent.
"""

from __future__ import annotations

import contextlib
import errno
import multiprocessing
import os
import pickle
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import IO, Any, Generic, Self, TypeVar, cast

from ..errors import ChildError, DigestError, DiskFull

T = TypeVar("T")
R = TypeVar("R")
V = TypeVar("V")

CHUNK = 2000
_PARENT_CHECK_SECONDS = 1.0


class Offloaded(Generic[T, R]):
    """The items of ``produce()``, computed in a child process that starts on ``with``.

    ``with Offloaded(produce, finish, doing=...) as stream:`` forks the child, which
    starts producing at once while this process goes on with other work; iterating
    over ``stream`` then takes the items as they come. Once they are exhausted,
    ``result`` holds what ``finish()`` returned in the child (say, counts it kept
    while producing). An error raised in the child is raised here, from the
    iteration. Leaving the block stops a child that is still producing. ``doing``
    names the work in error messages; items travel ``chunk`` at a time (fewer for
    large items, more for small ones) through a spool file in ``spool_dir`` (the
    system's temporary folder by default), which holds them all until the block ends.
    """

    def __init__(
        self,
        produce: Callable[[], Iterable[T]],
        finish: Callable[[], R],
        *,
        doing: str,
        chunk: int = CHUNK,
        spool_dir: Path | None = None,
    ) -> None:
        self._produce = produce
        self._finish = finish
        self._doing = doing
        self._chunk = chunk
        self._spool_dir = spool_dir
        self.result: R | None = None
        self._child: BaseProcess | None = None
        self._receiving: Connection | None = None
        self._spool: IO[bytes]

    def __enter__(self) -> Self:
        fork = multiprocessing.get_context("fork")
        receiving, sending = fork.Pipe(duplex=False)
        # The child's end is closed here in any case; the rest only if the fork fails.
        with contextlib.closing(sending), contextlib.ExitStack() as on_failure:
            on_failure.callback(receiving.close)
            self._spool = tempfile.TemporaryFile(prefix="digest-offloaded-", dir=self._spool_dir)
            on_failure.callback(self._spool.close)
            child = fork.Process(
                target=self._run, args=(receiving, sending, os.getpid()), daemon=True
            )
            with sigint_held():
                child.start()
                # A Ctrl-C held back during the fork is raised as the block ends.
                on_failure.callback(_stop, child)
            on_failure.pop_all()
        self._child, self._receiving = child, receiving
        return self

    def __exit__(self, *_: object) -> None:
        child, receiving = self._child, self._receiving
        assert child is not None and receiving is not None, "__exit__ without __enter__"
        receiving.close()
        try:
            child.join(timeout=1)
        finally:  # a Ctrl-C while waiting still stops the child
            _stop(child)
            self._spool.close()

    def __iter__(self) -> Iterator[T]:
        child, receiving = self._child, self._receiving
        assert child is not None and receiving is not None, "iterate inside the with block"
        read_at = 0
        while True:
            try:
                kind, payload = receiving.recv()
            except EOFError:
                child.join(timeout=5)
                raise ChildError(
                    f"{self._doing}: the child process died (exit code {child.exitcode})"
                ) from None
            if kind == "items":
                data = os.pread(self._spool.fileno(), payload, read_at)
                read_at += payload
                yield from pickle.loads(data)
            elif kind == "done":
                self.result = payload
                return
            else:
                raise payload

    def _run(self, receiving: Connection, sending: Connection, parent: int) -> None:
        # Only the parent reads: closing this end lets a send into a pipe the parent
        # has abandoned fail at once instead of blocking.
        receiving.close()
        ignore_sigint()
        exit_with_parent(parent)
        folder = self._spool_dir or Path(tempfile.gettempdir())
        spooler = _Spooler(self._spool.fileno(), sending, self._doing, folder)
        chunk: list[T] = []
        try:
            for item in self._produce():
                chunk.append(item)
                if len(chunk) == self._chunk:
                    spooler.send(chunk)
                    chunk = []
            spooler.send(chunk)
            chunk = []
            sending.send(("done", self._finish()))
        except Exception as error:  # sent to the parent, which raises it after the items
            _send_error(spooler, sending, chunk, error)
        finally:
            sending.close()


def _stop(child: BaseProcess) -> None:
    """End the child if it still runs, and reap it."""
    if child.is_alive():
        child.kill()
    child.join()


class _Spooler:
    """The child's side of the stream: each chunk of items goes into the spool file, and
    only its length through the pipe, so the child never waits for the parent to read.

    ``doing`` and ``folder`` (the spool's) are named in errors.
    """

    def __init__(self, spool: int, sending: Connection, doing: str, folder: Path) -> None:
        self._spool = spool
        self._sending = sending
        self._doing = doing
        self._folder = folder
        self._written = 0

    def send(self, chunk: list[Any]) -> None:
        data = memoryview(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
        size = len(data)
        try:
            while data:
                data = data[os.pwrite(self._spool, data, self._written + size - len(data)) :]
        except OSError as error:
            raise self._cannot_write(error) from None
        self._written += size
        self._sending.send(("items", size))

    def _cannot_write(self, error: OSError) -> DigestError:
        """A failed write as one line: a full disk or quota, or a size limit, says so."""
        why = error.strerror or str(error)
        said = f"{self._doing}: cannot write its spool file in {self._folder}/ ({why})"
        return DiskFull(said) if error.errno in _NO_ROOM else ChildError(said)


# What a write fails with when there is no room: a full disk, a full quota, a size limit.
_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class Later(Generic[V]):
    """A value this process hands a forked child after the fork.

    Make it before the fork; then ``give`` a small value (it goes through a pipe)
    here, once, and ``get`` it in the child, which waits until it is given, or
    raises EOFError once this process has ended without giving it.
    """

    def __init__(self) -> None:
        self._receiving, self._sending = multiprocessing.get_context("fork").Pipe(duplex=False)
        self._value: V | None = None
        self._got = False

    def give(self, value: V) -> None:
        # This process's read end stays open until the value is in the pipe: the child
        # may have ended without reading, and a pipe nobody could read refuses writes.
        self._sending.send(value)
        self.close()

    def close(self) -> None:
        """Close this process's ends: a child still waiting to ``get`` gets EOFError."""
        self._sending.close()
        self._receiving.close()

    def get(self) -> V:
        if not self._got:
            # Only this process's end left open for writing would keep EOF from coming.
            self._sending.close()
            self._value = self._receiving.recv()
            self._receiving.close()
            self._got = True
        return cast(V, self._value)


def _send_error(spooler: _Spooler, sending: Connection, chunk: list[T], error: Exception) -> None:
    """The items not sent yet, then the error (as it was, or in words if it won't pickle)."""
    # Any send may fail: an item or the error may not pickle, the parent may be gone.
    with contextlib.suppress(Exception):
        spooler.send(chunk)
    try:
        sending.send(("error", error))
    except Exception:
        with contextlib.suppress(Exception):
            sending.send(("error", ChildError(f"{type(error).__name__}: {error}")))


@contextlib.contextmanager
def sigint_held() -> Iterator[None]:
    """SIGINT held back (blocked, not lost) meanwhile: wrap a fork in it.

    A child then starts with SIGINT blocked, so a Ctrl-C in the instant before it
    calls ``ignore_sigint`` cannot kill it with a traceback; a Ctrl-C that came
    meanwhile reaches this process when the block ends. Blocking holds the signal back
    from this thread only: should the kernel hand it to another thread, Python would
    still run its handler here, mid-block. So in the main thread the handler is also
    set aside meanwhile, and a signal it caught is raised again as the block ends.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    caught: list[int] = []
    in_main = threading.current_thread() is threading.main_thread()
    handler = (
        signal.signal(signal.SIGINT, lambda signum, _: caught.append(signum)) if in_main else None
    )
    try:
        yield
    finally:
        if in_main:
            signal.signal(signal.SIGINT, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        if caught:
            signal.raise_signal(signal.SIGINT)


def ignore_sigint() -> None:
    """In a child forked inside ``sigint_held``: ignore Ctrl-C (the parent decides what it
    means), then take SIGINT off the blocked set it inherited."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def exit_with_parent(parent: int) -> None:
    """In a child forked by ``parent`` (its pid, taken before the fork): exit within a
    second once the parent is gone, even by kill -9."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_PARENT_CHECK_SECONDS)
    os._exit(1)
