"""Watching files for the preview's live reload: the one module that imports watchfiles.

watchfiles (Rust's notify: inotify on Linux, FSEvents on macOS) is the watcher uvicorn's
own ``--reload`` uses. Folders are watched, not files: an editor that saves by writing a
new file and renaming it over the old one ends a watch on the file itself. Each watched
file's real folder is watched (a symbolic link's target is where an edit lands), and a
change counts when it touches one of the watched files or anything under a watched folder.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import anyio
from watchfiles import awatch

# How long a burst of events (an editor writes, renames, touches) is gathered into one
# change: once no event has come for STEP_MS, or at the latest after DEBOUNCE_MS.
STEP_MS = 30
DEBOUNCE_MS = 300


async def changes(
    files: Iterable[Path], folders: Iterable[Path], stop: anyio.Event
) -> AsyncIterator[set[Path]]:
    """Each batch of changed paths among ``files`` and under ``folders``, until ``stop``."""
    watched_files = {_real(path) for path in files}
    watched_folders = {_real(path) for path in folders if path.is_dir()}
    roots = sorted(
        {path.parent for path in watched_files if path.parent.is_dir()}
        | {folder for top in watched_folders for folder in _with_subfolders(top)}
    )
    if not roots:
        await stop.wait()
        return

    def relevant(_change: object, name: str) -> bool:
        path = Path(name)
        return path in watched_files or any(path.is_relative_to(f) for f in watched_folders)

    async for batch in awatch(
        *roots,
        watch_filter=relevant,
        debounce=DEBOUNCE_MS,
        step=STEP_MS,
        stop_event=stop,
        recursive=False,
    ):
        yield {Path(name) for _change, name in batch}


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _with_subfolders(top: Path) -> list[Path]:
    """``top`` and every folder under it: each is watched on its own (not recursively,
    so that a newsletter folder's .venv or outbox is never walked)."""
    return [top, *(Path(root) / name for root, names, _ in os.walk(top) for name in names)]
