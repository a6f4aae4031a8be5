"""Running a command as a user does at a terminal: a pseudo-terminal as its input and
output, and answers typed a line each as its prompts (`...: `) appear."""

from __future__ import annotations

import os
import pty
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path


def run_on_a_terminal(
    command: list[str],
    answers: list[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, str]:
    """Run ``command`` with a pseudo-terminal as its stdin, stdout and stderr, typing each
    of ``answers`` at the next prompt; its exit status and what the terminal showed."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        command, stdin=secondary, stdout=secondary, stderr=secondary, cwd=cwd,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )  # fmt: skip
    os.close(secondary)
    shown, since = b"", 0
    pending = [f"{answer}\n".encode() for answer in answers]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the command ended and closed the terminal
            break
        if not chunk:
            break
        shown += chunk
        if pending and shown[since:].endswith(b": "):  # a prompt waits for its answer
            os.write(primary, pending.pop(0))
            since = len(shown)
    try:
        status = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        process.kill()
        os.close(primary)
    assert not pending, f"{len(pending)} answers were never asked for: {shown!r}"
    return status, shown.decode(errors="replace").replace("\r\n", "\n")
