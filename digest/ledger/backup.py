"""A consistent one-file copy of the ledger (SQLite's backup API), safe while a send runs."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

from ..errors import LedgerError
from ..files import sync_folder
from .schema import wal_path
from .store import Store


class Backups(Store):
    """Copies of the ledger."""

    def backup(self, target: Path) -> int:
        """Write a consistent copy of the ledger to ``target`` with SQLite's backup API;
        returns how many editions it holds.

        The copy is one read snapshot, taken in one step: a send writing meanwhile neither
        waits for it nor shows half in it. It is written under a temporary name in
        ``target``'s folder and renamed into place, so ``target`` is never half-written,
        and it is one self-contained file (a rollback journal, not WAL), to carry alone.
        """
        target = Path(target)
        _check_backup_target(self.path, target)
        try:
            handle, name = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
            )
            os.close(handle)
            temporary = Path(name)
            try:
                editions = self._copy_to(temporary)
                temporary.replace(target)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
        except OSError as exc:
            reason = exc.strerror or exc
            raise LedgerError(f"cannot back up the ledger to {target}: {reason}") from exc
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot back up the ledger to {target}: {exc}") from exc
        sync_folder(target.parent)
        return editions

    def _copy_to(self, path: Path) -> int:
        copy = sqlite3.connect(path, isolation_level=None)
        try:
            with self._sqlite():
                self._db.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")
            rows = copy.execute("SELECT count(*) FROM editions WHERE kind = 'edition'")
            return int(rows.fetchone()[0])  # rehearsals are not editions
        finally:
            copy.close()


def _check_backup_target(live: Path, target: Path) -> None:
    """Refuse a backup that would overwrite the live ledger or could not be a file."""
    where = f"cannot back up the ledger to {target}"
    if not target.parent.is_dir():
        raise LedgerError(
            f"{where}: the folder {target.parent} does not exist",
            hint="create it first, or name a file in a folder that exists",
        )
    if target.is_dir():
        raise LedgerError(
            f"{where}: it is a folder", hint="name the file to write, e.g. backups/state.db"
        )
    own = (live, wal_path(live), live.with_name(f"{live.name}-shm"))
    if any(_same_file(target, path) for path in own):
        raise LedgerError(
            f"{where}: it is the live ledger itself", hint="name a file outside .digest/"
        )
    if os.path.lexists(wal_path(target)):
        raise LedgerError(
            f"{where}: {wal_path(target).name} is beside it, so a program has that database open"
            " (or crashed with it open), and would read the copy wrong",
            hint="close that program, or back up to another name",
        )


def _same_file(path: Path, other: Path) -> bool:
    if path.resolve() == other.resolve():
        return True
    return path.exists() and other.exists() and path.samefile(other)
