"""Atomic file writes, shared by every stage that writes output: nothing is ever half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# The process's umask, read once at import (reading it means setting it): files are
# given the mode a plain open() would give them, not mkstemp's owner-only 0600.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def stage(target: Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``target``; the caller renames it into place."""
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        os.fchmod(handle, 0o666 & ~_UMASK)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
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
