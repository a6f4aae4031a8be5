"""Producing a long stream of items in a forked child process, consumed here as it comes.

Freezing a large audience means reading, validating and deduplicating
subscribers.csv (Python, the larger part), then writing the batches into the
ledger. With the reading in a child, this process only writes, and it is free
for other work meanwhile.

The child is forked, so it inherits what ``produce`` needs without pickling. It
must not use a SQLite connection it inherited (a connection must not cross
fork()); one it opens itself is fine. It ignores SIGINT (the parent decides; it
kills the child when the stream is abandoned) and exits with its parent.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterable
from multiprocessing.connection import Connection
from typing import Generic, TypeVar

from ..errors import DigestError

T = TypeVar("T")
R = TypeVar("R")

CHUNK = 2000
_PARENT_CHECK_SECONDS = 1.0


class ChildError(DigestError):
    """The child died, or raised an error that could not be sent back as it was."""

    hint = "run the command again; with -v for details if it fails the same way"


class Offloaded(Generic[T, R]):
    """Iterate for the items of ``produce()``, computed in a child process.

    Once the items are exhausted, ``result`` holds what ``finish()`` returned in the
    child (say, counts it kept while producing). An error raised in the child is
    raised here, from the iteration. ``doing`` names the work in error messages;
    items travel ``chunk`` at a time (fewer for large items, more for small ones).
    """

    def __init__(
        self,
        produce: Callable[[], Iterable[T]],
        finish: Callable[[], R],
        *,
        doing: str,
        chunk: int = CHUNK,
    ) -> None:
        self._produce = produce
        self._finish = finish
        self._doing = doing
        self._chunk = chunk
        self.result: R | None = None

    def __iter__(self) -> Generator[T, None, None]:
        fork = multiprocessing.get_context("fork")
        receiving, sending = fork.Pipe(duplex=False)
        child = fork.Process(target=self._run, args=(receiving, sending, os.getpid()), daemon=True)
        child.start()
        sending.close()
        try:
            while True:
                try:
                    kind, payload = receiving.recv()
                except EOFError:
                    child.join(timeout=5)
                    raise ChildError(
                        f"{self._doing}: the child process died (exit code {child.exitcode})"
                    ) from None
                if kind == "items":
                    yield from payload
                elif kind == "done":
                    self.result = payload
                    return
                else:
                    raise payload
        finally:
            receiving.close()
            child.join(timeout=1)
            if child.is_alive():
                child.kill()
                child.join()

    def _run(self, receiving: Connection, sending: Connection, parent: int) -> None:
        # Only the parent reads: closing this end lets a send into a pipe the parent
        # has abandoned fail at once instead of blocking.
        receiving.close()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        exit_with_parent(parent)
        chunk: list[T] = []
        try:
            for item in self._produce():
                chunk.append(item)
                if len(chunk) == self._chunk:
                    sending.send(("items", chunk))
                    chunk = []
            sending.send(("items", chunk))
            chunk = []
            sending.send(("done", self._finish()))
        except Exception as error:  # sent to the parent, which raises it after the items
            _send_error(sending, chunk, error)
        finally:
            sending.close()


def _send_error(sending: Connection, chunk: list[T], error: Exception) -> None:
    """The items not sent yet, then the error (as it was, or in words if it won't pickle)."""
    # Any send may fail: an item or the error may not pickle, the parent may be gone.
    with contextlib.suppress(Exception):
        sending.send(("items", chunk))
    try:
        sending.send(("error", error))
    except Exception:
        with contextlib.suppress(Exception):
            sending.send(("error", ChildError(f"{type(error).__name__}: {error}")))


def exit_with_parent(parent: int) -> None:
    """In a child forked by ``parent`` (its pid, taken before the fork): exit within a
    second once the parent is gone, even by kill -9."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_PARENT_CHECK_SECONDS)
    os._exit(1)
