"""Atomic writes: the whole file or nothing, with the mode a plain write would give it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from digest.files import write_atomic


def test_a_written_file_is_readable_as_the_umask_allows_not_owner_only(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    target = tmp_path / "digest.html"
    write_atomic(target, b"<html></html>")
    assert target.read_bytes() == b"<html></html>"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [path.name for path in tmp_path.iterdir()] == ["digest.html"]
