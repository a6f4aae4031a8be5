"""File locks (``flock``) beside the ledger: the OS drops one when its process dies, even
by ``kill -9``, so a crash never leaves a lock stale.

Setup runs under a blocking lock (``flocked``), so processes opening a fresh folder at
once all succeed; a send holds non-blocking ones (``held_flock``) that make a second
process stand down.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import LedgerError, StandDown

# Send-lock descriptors this process holds. A forked child closes its copies at once,
# so that a child outliving its parent (kill -9) never keeps an edition locked.
_HELD_LOCKS: set[int] = set()


def _close_inherited_locks() -> None:
    for fd in _HELD_LOCKS:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD_LOCKS.clear()


os.register_at_fork(after_in_child=_close_inherited_locks)


@contextmanager
def flocked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``lock_path`` (waiting for it) for the block's duration."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextmanager
def held_flock(lock_path: Path, busy: str) -> Iterator[None]:
    """An exclusive flock on ``lock_path``, or StandDown(``busy``) if another process has it."""
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LedgerError(f"cannot create {lock_path}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException as failed:
        os.close(fd)
        if isinstance(failed, BlockingIOError):
            raise StandDown(busy) from None
        raise
    _HELD_LOCKS.add(fd)
    try:
        yield
    finally:
        _HELD_LOCKS.discard(fd)
        try:
            # Released outright, not only by closing: a child forked meanwhile may
            # not have closed its copy yet, and a copy would keep the lock held.
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
