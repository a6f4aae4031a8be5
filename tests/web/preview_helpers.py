"""Helpers for the preview's tests: a real `digest preview` process in a folder made by
`digest init`, its request log in a file, and what the tests need of its page."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.web.web_helpers import Answer, call, clean_env

NOW = "2026-11-27T09:00:00-08:00"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class PreviewServer:
    """A `digest preview --port 0` process serving ``folder``."""

    process: subprocess.Popen[str]
    base: str
    folder: Path
    log: Path

    def token(self) -> str:
        """The per-run token, as the page carries it."""
        found = re.search(r'name="digest-preview-token" content="([^"]+)"', call(self.base).text)
        assert found is not None
        return found.group(1)

    def post_test(self, body: bytes, headers: dict[str, str]) -> Answer:
        return call(f"{self.base}/test-send", "POST", body, headers)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()


def start_preview(folder: Path, log: IO[str], env: dict[str, str], *args: str) -> PreviewServer:
    """Start the preview in ``folder`` and wait for the line that says where it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "preview", "--port", "0", "--now", NOW, *args],
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    while line and not line.startswith("Previewing"):
        line = process.stdout.readline()
    found = re.search(r" at (http://127\.0\.0\.1:\d+)/ ", line)
    if found is None:
        process.kill()
        raise AssertionError(f"no URL announced: {line!r}, log: {Path(log.name).read_text()}")
    return PreviewServer(process, found.group(1), folder, Path(log.name))


def preview_env(**values: str) -> dict[str, str]:
    return clean_env(**values)
