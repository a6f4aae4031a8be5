"""The ledger's connection: opening, closing and transactions, shared by every part of it.

``Store`` is the base of each part of ``Ledger`` (editions, batches, history,
unsubscribes, backups): each adds its methods over one connection. Every write is
committed at once; SQLite's errors become LedgerErrors naming the file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from ..errors import LedgerError
from ..models import is_edition_key
from .locks import flocked
from .schema import BUSY_TIMEOUT_SECONDS, check_file, connect, create, set_up


class Store:
    """The one connection to a ledger file that every part of ``Ledger`` works on."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    @classmethod
    def open(cls, path: Path) -> Self:
        """Open (creating and migrating if needed) the ledger at ``path``, ready to use.

        Only a missing file is created; one that is there but is not a ledger is refused.
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with flocked(path.with_suffix(".lock")):
                if os.path.lexists(path):
                    check_file(path)
                else:
                    create(path)
                connection = connect(path)
                try:
                    set_up(connection, path)
                except BaseException:
                    connection.close()
                    raise
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open {path}: {exc}") from exc
        except OSError as exc:
            if path.parent.is_file():
                raise LedgerError(
                    f"cannot open {path}: {path.parent} is a file, where digest keeps its state",
                    hint=f"move that file away (digest makes the {path.parent.name}/ folder)",
                ) from exc
            raise LedgerError(f"cannot open {path}: {exc.strerror or exc}") from exc
        return cls(path, connection)

    def close(self) -> None:
        """Close the database connection; the ledger is not used after this.

        First the write-ahead log is copied into ``state.db`` (a passive checkpoint:
        it neither waits for nor holds up another process using the ledger), so that
        ``state.db`` alone holds every commit, even while another process has the
        ledger open. The last connection to close also empties and removes the log
        (SQLite does that itself). A checkpoint that fails loses nothing: the log
        keeps what it has not copied.
        """
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, taking the write lock up front (no upgrade deadlocks)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def _sqlite(self) -> Iterator[None]:
        """Turn SQLite's errors (a locked or damaged database) into a LedgerError."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise LedgerError(
                    f"{self.path} stayed locked by another process for {BUSY_TIMEOUT_SECONDS:g}s",
                    hint="wait for the other digest command to finish, then run this again",
                ) from exc
            raise LedgerError(f"{self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc


def check_key(key: str) -> None:
    """Edition keys name lock files, so they are restricted to safe file-name characters."""
    if not is_edition_key(key):
        raise LedgerError(
            f"edition key {key!r} is not valid",
            hint="use letters, digits, '.', '_' and '-' (at most 100), e.g. 2026-03-09",
        )


def to_iso(at: datetime) -> str:
    """An aware datetime as fixed-width ISO 8601 UTC text (sorts as it compares)."""
    if at.utcoffset() is None:
        raise ValueError(f"the ledger stores aware datetimes only, not {at!r}")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)
