"""Helpers for the preview's tests: a real `digest preview` process in a folder made by
`digest init`, its request log in a file, and what the tests need of its page."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.web.web_helpers import Answer, call, clean_env, launch, stop_process

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
        stop_process(self.process)


def start_preview(folder: Path, log: IO[str], env: dict[str, str], *args: str) -> PreviewServer:
    """Start the preview in ``folder`` and wait for the line that says where it listens."""
    process, base = launch(
        ["preview", "--port", "0", "--now", NOW, *args],
        folder,
        log,
        env,
        announced=r"^Previewing.* at (http://127\.0\.0\.1:\d+)/ ",
    )
    return PreviewServer(process, base, folder, Path(log.name))


def preview_env(**values: str) -> dict[str, str]:
    return clean_env(**values)
