"""The ledger's file across runs: damage is refused before anything is sent, a run leaves
state.db holding everything, and `digest ledger backup` copies it while a send runs."""

from __future__ import annotations

import shutil
import signal
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from digest.ledger import Ledger
from tests.commands.conftest import NOW, Folder
from tests.commands.test_send import digest_process, send, wait_for, write_readers
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


def keep_only_state_db(folder: Folder) -> None:
    """What a CI recipe that caches one file does between runs."""
    kept = state_db(folder).read_bytes()
    shutil.rmtree(folder.path / ".digest")
    (folder.path / ".digest").mkdir()
    state_db(folder).write_bytes(kept)


@pytest.mark.slow
def test_a_run_that_ends_leaves_state_db_holding_everything_even_after_a_kill_9(
    ready: Folder, server: SendGridServer
) -> None:
    emails = write_readers(ready, 3000)
    ready.env.update(DIGEST_SENDGRID_CONCURRENCY="1", DIGEST_SENDGRID_TIMEOUT="0.5")
    server.slow_next(0)
    server.hang_next(3)
    process = digest_process(ready)
    wait_for(lambda: server.received >= 2)  # the second batch is in flight
    process.send_signal(signal.SIGKILL)
    process.wait()
    wal = state_db(ready).with_name("state.db-wal")
    assert wal.stat().st_size > 0, "after kill -9 the latest state is in the log"

    rerun = send(ready)  # an error exit (a batch is uncertain) that closes the ledger
    assert rerun.exit_code == 1
    assert not wal.exists()
    keep_only_state_db(ready)

    wait_for(lambda: len(server.accepted_recipients()) == 3000)  # the hung batch arrived too
    settled = send(ready, "--accept-uncertain")
    assert settled.exit_code == 0, settled.output
    assert Counter(server.accepted_recipients()) == Counter(emails), "each reader once"


def test_state_db_alone_holds_the_edition_while_another_process_has_the_ledger_open(
    ready: Folder, server: SendGridServer
) -> None:
    # Another digest command (history, a send standing down) keeps the ledger open
    # while this send ends: SQLite's own checkpoint at close waits for the last one.
    emails = write_readers(ready, 2500)
    path = state_db(ready)
    path.parent.mkdir()
    with Ledger.open(path):
        process = digest_process(ready)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        keep_only_state_db(ready)

    again = send(ready)
    assert again.exit_code == 0
    assert "sent already" in again.stdout
    assert Counter(server.accepted_recipients()) == Counter(emails)
