"""Atomic file writes, shared by every stage that writes output: nothing is ever half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def stage(target: Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``target``; the caller renames it into place."""
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
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
