"""The ledger's file across runs: damage is refused before anything is sent."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.commands.conftest import NOW, Folder
from tests.commands.test_send import send
from tests.sendgrid_server import SendGridServer


def state_db(folder: Folder) -> Path:
    return folder.path / ".digest" / "state.db"


def truncate(path: Path) -> None:
    path.write_bytes(b"")


def overwrite_with_text(path: Path) -> None:
    path.write_text("editions: 2026-11-27 sent\n")


def replace_with_another_database(path: Path) -> None:
    path.unlink()
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE contacts (email TEXT)")
    other.close()


@pytest.mark.parametrize(
    "damage",
    [truncate, overwrite_with_text, replace_with_another_database],
    ids=["0 bytes", "not SQLite", "another database"],
)
def test_a_damaged_ledger_is_refused_in_one_line_and_nobody_is_mailed_again(
    ready: Folder, server: SendGridServer, damage: Callable[[Path], None]
) -> None:
    assert send(ready).exit_code == 0
    sent = len(server.requests)
    path = state_db(ready)
    damage(path)
    damaged = path.read_bytes()

    for command in (["send", "--yes", "--now", NOW], ["build", "--now", NOW], ["history"]):
        refused = ready.run(*command)
        assert refused.exit_code == 1, (command, refused.output)
        assert refused.stderr.startswith(f"error: {path} is ")
        assert len(refused.stderr.splitlines()) == 1
        assert "restore it from a backup" in refused.stderr
    assert server.received == sent, "the edition went to nobody again"
    assert path.read_bytes() == damaged


def test_a_ledger_gone_but_for_its_write_ahead_log_is_refused(
    ready: Folder, server: SendGridServer
) -> None:
    (ready.path / ".digest").mkdir()
    (ready.path / ".digest" / "state.db-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\0" * 28)

    refused = send(ready)

    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"error: {state_db(ready)} is missing, but its write-ahead")
    assert len(refused.stderr.splitlines()) == 1
    assert server.received == 0
    assert not state_db(ready).exists()
