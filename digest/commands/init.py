"""`digest init DIR`: a new newsletter folder from the defaults shipped inside the package."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from importlib.resources import as_file, files
from pathlib import Path

from ..errors import ConfigError

SCAFFOLD_FILES = ("digest.toml", "subscribers.csv", "feed.xml", "templates", "images")
NEW_FOLDER = "choose a new or empty folder you can write to"


def run(target: Path, say: Callable[[str], None]) -> None:
    """Copy the scaffold into ``target`` and ``say`` what was made and what to do next.

    There is no newsletter folder, so no settings and no ``App``, yet: ``say`` prints.
    """
    for path in _init_folder(target):
        say(f"created {path}")
    say(f"Next: cd {target} && digest build")


def _init_folder(target: Path) -> list[Path]:
    """Copy the scaffold into ``target``; refuses to overwrite a file that is already there."""
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target} is a file, not a folder", NEW_FOLDER)
    existing = [target / name for name in SCAFFOLD_FILES if (target / name).exists()]
    if existing:
        raise ConfigError(
            f"{existing[0]} already exists",
            "choose an empty folder, or delete the file first",
        )
    try:
        return _copy_scaffold(target)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the newsletter folder {target}: {exc.strerror or exc}", NEW_FOLDER
        ) from None


def _copy_scaffold(target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    created = []
    with as_file(files("digest") / "scaffold") as scaffold:
        for name in SCAFFOLD_FILES:
            source = Path(scaffold) / name
            if source.is_dir():
                shutil.copytree(source, target / name)
            else:
                shutil.copyfile(source, target / name)
            created.append(target / name)
    return created
