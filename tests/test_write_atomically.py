"""What every command shares: writing several output files as one."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from digest.errors import ConfigError
from digest.files import write_atomically


def test_a_failed_write_names_the_folder_of_the_file_that_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    rename = Path.replace

    def refuse_in_first(source: Path, target: Path) -> Path:
        if source.suffix == ".tmp" and Path(target).parent.name == "first":
            raise PermissionError(errno.EACCES, "Permission denied", str(source))
        return rename(source, target)

    monkeypatch.setattr(Path, "replace", refuse_in_first)
    with pytest.raises(ConfigError) as refused:
        write_atomically({tmp_path / "first" / "a.txt": b"a", tmp_path / "second" / "b.txt": b"b"})

    assert str(refused.value).startswith(
        f"cannot write to {tmp_path / 'first'}/: Permission denied"
    )
    assert not (tmp_path / "second" / "b.txt").exists(), "nothing is half-written"
