"""Atomic writes: the whole file or nothing, with the mode a plain write would give it."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from digest.files import replace_together, write_atomic


def test_a_written_file_is_readable_as_the_umask_allows_not_owner_only(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    target = tmp_path / "digest.html"
    write_atomic(target, b"<html></html>")
    assert target.read_bytes() == b"<html></html>"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [path.name for path in tmp_path.iterdir()] == ["digest.html"]


def test_files_replaced_together_all_change_and_leave_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_bytes(b"old a")
    replace_together({tmp_path / "a.html": b"new a", tmp_path / "b.json": b"new b"})

    assert (tmp_path / "a.html").read_bytes() == b"new a"
    assert (tmp_path / "b.json").read_bytes() == b"new b"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.html", "b.json"]


def test_a_failed_rename_puts_back_the_files_already_replaced(tmp_path: Path) -> None:
    (tmp_path / "digest.html").write_bytes(b"old html")
    (tmp_path / "manifest.json").mkdir()  # renaming a file onto a folder fails
    files = {
        tmp_path / "digest.html": b"new html",
        tmp_path / "digest.txt": b"new text",  # did not exist before
        tmp_path / "manifest.json": b"new manifest",
    }

    with pytest.raises(IsADirectoryError):
        replace_together(files)

    assert (tmp_path / "digest.html").read_bytes() == b"old html"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["digest.html", "manifest.json"]


def test_a_file_that_cannot_be_written_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "digest.html").write_bytes(b"old html")
    files = {tmp_path / "digest.html": b"new html", tmp_path / "missing" / "x.txt": b"x"}

    with pytest.raises(FileNotFoundError):
        replace_together(files)

    assert (tmp_path / "digest.html").read_bytes() == b"old html"
    assert [path.name for path in tmp_path.iterdir()] == ["digest.html"]


def test_a_file_whose_own_rename_fails_keeps_its_content_and_no_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "digest.html").write_bytes(b"old html")
    (tmp_path / "manifest.json").write_bytes(b"old manifest")
    rename = Path.replace

    def busy_manifest(source: Path, target: Path) -> Path:
        # As a rename onto a file another user owns in a sticky folder fails.
        if source.suffix == ".tmp" and Path(target).name == "manifest.json":
            raise PermissionError(errno.EPERM, "Operation not permitted", str(source))
        return rename(source, target)

    monkeypatch.setattr(Path, "replace", busy_manifest)
    with pytest.raises(PermissionError):
        replace_together(
            {tmp_path / "digest.html": b"new html", tmp_path / "manifest.json": b"new manifest"}
        )

    assert (tmp_path / "digest.html").read_bytes() == b"old html"
    assert (tmp_path / "manifest.json").read_bytes() == b"old manifest"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["digest.html", "manifest.json"]
