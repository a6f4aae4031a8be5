"""Producing a long stream of items in a forked child process, consumed here as it comes.

Freezing a large audience is two halves of similar cost: reading and validating
subscribers.csv (Python) and writing the rows into SQLite (mostly C). In one
process they take turns on one core; with the reading in a child they overlap,
and a million-reader freeze takes about half as long.

The child is forked, so it inherits what ``produce`` needs without pickling. It
must not touch SQLite (a connection must not cross fork()): give it only pure
work. It ignores SIGINT and SIGTERM (the parent decides, and kills it when the
stream is abandoned) and exits with its parent.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

CHUNK = 2000
_PARENT_CHECK_SECONDS = 1.0


class ChildError(RuntimeError):
    """An error in the child that could not be sent back as it was."""


class Offloaded(Generic[T, R]):
    """Iterate for the items of ``produce()``, computed in a child process.

    Once the items are exhausted, ``result`` holds what ``finish()`` returned in the
    child (say, counts it kept while producing). An error raised in the child is
    raised here, from the iteration.
    """

    def __init__(self, produce: Callable[[], Iterable[T]], finish: Callable[[], R]) -> None:
        self._produce = produce
        self._finish = finish
        self.result: R | None = None

    def __iter__(self) -> Iterator[T]:
        fork = multiprocessing.get_context("fork")
        receiving, sending = fork.Pipe(duplex=False)
        child = fork.Process(target=self._run, args=(sending,), daemon=True)
        child.start()
        sending.close()
        try:
            while True:
                try:
                    kind, payload = receiving.recv()
                except EOFError:
                    raise ChildError(
                        f"the child process died (exit code {child.exitcode})"
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
            if child.is_alive():
                child.kill()
            child.join()

    def _run(self, sending: Connection) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        exit_with_parent()
        chunk: list[T] = []
        try:
            for item in self._produce():
                chunk.append(item)
                if len(chunk) == CHUNK:
                    sending.send(("items", chunk))
                    chunk = []
            sending.send(("items", chunk))
            sending.send(("done", self._finish()))
        except Exception as error:  # sent to the parent, which raises it after the items
            sending.send(("items", chunk))
            try:
                sending.send(("error", error))
            except Exception:
                sending.send(("error", ChildError(f"{type(error).__name__}: {error}")))
        finally:
            sending.close()


def exit_with_parent() -> None:
    """In a forked child: exit within a second once the parent is gone (even by kill -9)."""
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_PARENT_CHECK_SECONDS)
    os._exit(1)
