"""Files shared by every stage: atomic writes (nothing is ever half-written), and what a
path holds (a device or a pipe named as an input is refused, not read forever)."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from .errors import ConfigError

# The process's umask, read once at import (reading it means setting it): files are
# given the mode a plain open() would give them, not mkstemp's owner-only 0600.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def stage(target: Path, data: bytes, *, durable: bool = False) -> Path:
    """Write ``data`` to a temporary file beside ``target``; the caller renames it into place.

    ``durable`` flushes it to disk first, so that a rename that survives a power cut
    never points at an empty file.
    """
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        os.fchmod(handle, 0o666 & ~_UMASK)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Path(temporary)


def write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file in the same folder and a rename."""
    temporary = stage(target, data)
    try:
        temporary.replace(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class Replacement:
    """A new version of ``target``, streamed to a temporary file beside it (``write``) and
    put in place by ``commit``: flushed to disk, renamed over the target, and the folder's
    entry flushed too, so a crash at any moment leaves the old file or the new one, whole.
    Leaving the ``with`` block without a commit removes it and leaves the target as it was.

    ``mode``: the new file's permissions (keep the old file's: a list kept private stays
    so); by default those a plain open() would give.
    """

    def __init__(self, target: Path, *, mode: int | None = None) -> None:
        self.target = target
        handle, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        self.path = Path(temporary)
        try:
            os.fchmod(handle, 0o666 & ~_UMASK if mode is None else mode)
            self._stream = os.fdopen(handle, "wb")
        except BaseException:
            os.close(handle)
            self.path.unlink(missing_ok=True)
            raise

    def write(self, data: bytes) -> None:
        self._stream.write(data)

    def commit(self) -> None:
        """Put the new version in place of the target, durably."""
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self._stream.close()
        self.path.replace(self.target)
        sync_folder(self.target.parent)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stream.close()
        self.path.unlink(missing_ok=True)  # gone already once committed


def replace_together(files: Mapping[Path, bytes]) -> None:
    """Replace several files as one edition of them, in the mapping's order.

    Each file is written and flushed to disk under a temporary name first, so a
    failure there leaves every target as it was. Then they are renamed into place
    one by one (put the file that describes the others last): if a rename fails,
    the targets already replaced get their earlier content back (kept through a
    hard link) or, if they are new, are removed. Only a crash between two renames
    can leave earlier and later files side by side.
    """
    staged: list[tuple[Path, Path]] = []
    kept: dict[Path, Path | None] = {}
    try:
        for target, data in files.items():
            staged.append((stage(target, data, durable=True), target))
        for temporary, target in staged:
            if not target.is_file():
                kept[target] = None
            elif backup := _keep(target):
                kept[target] = backup
            temporary.replace(target)
    except BaseException:
        _restore(kept)
        raise
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
    for backup in kept.values():
        if backup is not None:
            backup.unlink(missing_ok=True)
    for folder in {target.parent for target in files}:
        sync_folder(folder)


def _keep(target: Path) -> Path | None:
    """A hard link to the target's current content, for ``_restore``; None if the file
    system refuses links (that target then cannot be put back)."""
    backup = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.old")
    try:
        os.link(target, backup)
    except OSError:
        return None
    return backup


def _restore(kept: Mapping[Path, Path | None]) -> None:
    """Put back each target's earlier content (or remove a target that had none), as far
    as the file system lets us: the error that stopped the renames is the one to report.
    A backup that cannot be put back stays beside its target, so nothing is lost."""
    for target, backup in kept.items():
        with contextlib.suppress(OSError):
            if backup is None:
                target.unlink(missing_ok=True)
            else:
                backup.replace(target)
                # Renaming a link onto the same file (the target whose own rename failed)
                # leaves both names: the backup's must go.
                backup.unlink(missing_ok=True)


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries (the renames) to disk, where the system allows it."""
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def special_kind(path: Path) -> str:
    """What ``path`` is if not a regular file ("a folder", "a device", "a named pipe",
    "a socket"), for an error to name; "" for a regular file (links followed).

    Raises OSError, FileNotFoundError included, as ``os.stat`` does.
    """
    mode = path.stat().st_mode
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    return "a socket" if stat.S_ISSOCK(mode) else "something other than a file"


def write_atomically(
    files: Mapping[Path, bytes], *, hint: str = "choose a folder you can write to"
) -> None:
    """Write the files as one: each to a temporary name beside it, then all renamed into
    place in order, the earlier ones put back if a later rename fails (``replace_together``).

    A folder that cannot be made or written to is a ConfigError naming it, with ``hint``;
    so is a folder standing where a file goes, found before anything is written.
    """
    folder = Path()
    try:
        for target in files:
            folder = target.parent
            folder.mkdir(parents=True, exist_ok=True)
            if target.is_dir():
                raise ConfigError(f"cannot write {target}: a folder is in its place", hint)
    except OSError as exc:
        raise _cannot_write(folder, exc, hint) from None
    try:
        replace_together(files)
    except OSError as exc:
        # The file that failed names its folder (its temporary name is beside its target).
        where = Path(exc.filename).parent if exc.filename else folder
        raise _cannot_write(where, exc, hint) from None


def _cannot_write(folder: Path, error: OSError, hint: str) -> ConfigError:
    reason = "it is a file" if folder.is_file() else error.strerror or str(error)
    return ConfigError(f"cannot write to {folder}/: {reason}", hint)
