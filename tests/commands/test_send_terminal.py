"""`digest send` on a real terminal (a pty): it asks before sending and shows its progress."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.commands.conftest import API_KEY, NOW, Folder
from tests.sendgrid_server import SendGridServer

REPO = Path(__file__).resolve().parents[2]


def run_on_terminal(
    folder: Folder, server: SendGridServer, answer: str, *args: str
) -> tuple[int, str]:
    """Run `digest send [args]` with a pty as its terminal, answer the prompt, return (code,
    screen)."""
    env = {
        **os.environ,
        **folder.env,
        "PYTHONPATH": str(REPO),
        "SENDGRID_API_KEY": API_KEY,
        "DIGEST_UNSUBSCRIBE_SECRET": "terminal-secret",
        "DIGEST_SENDGRID_HOST": server.url,
        "TERM": "xterm-256color",
        "COLUMNS": "120",
    }
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "send", "--now", NOW, *args],
        cwd=folder.path,
        env=env,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    screen = b""
    answered = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        if not answered and b"[y/N]" in screen:
            os.write(leader, answer.encode() + b"\n")
            answered = True
        if process.poll() is not None and not ready:
            break
    os.close(leader)
    return process.wait(timeout=10), screen.decode(errors="replace")


def test_the_prompt_names_the_edition_subject_and_audience_and_no_sends_nothing(
    folder: Folder, server: SendGridServer
) -> None:
    code, screen = run_on_terminal(folder, server, "n")
    assert code == 0
    assert "Send edition 2026-11-27" in screen
    assert "TAG and AMPTP" in screen
    assert "to 4 subscribers?" in screen
    assert "cancelled" in screen
    assert server.requests == []


def test_yes_at_the_prompt_sends_with_a_progress_bar_and_a_summary(
    folder: Folder, server: SendGridServer
) -> None:
    code, screen = run_on_terminal(folder, server, "y")
    assert code == 0, screen
    assert "sending" in screen and "4/4" in screen and "batch 1/1" in screen
    assert "sent to 4" in screen
    assert len(server.accepted_recipients()) == 4
