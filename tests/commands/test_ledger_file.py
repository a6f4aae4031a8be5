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


@pytest.mark.slow
def test_a_backup_taken_while_a_send_runs_opens_as_the_ledger_as_it_was(
    ready: Folder, server: SendGridServer, tmp_path: Path
) -> None:
    emails = write_readers(ready, 5000)
    ready.env["DIGEST_SENDGRID_CONCURRENCY"] = "1"
    for _ in range(5):
        server.slow_next(0.5)
    process = digest_process(ready)
    wait_for(lambda: server.received >= 2)
    target = tmp_path / "backups" / "state.db"
    target.parent.mkdir()
    target.write_bytes(b"last week's copy")

    copied = ready.run("ledger", "backup", str(target))
    sending = process.poll() is None
    _, stderr = process.communicate(timeout=60)

    assert copied.exit_code == 0, copied.output
    assert sending, "the send was still running when the copy was made"
    assert copied.stdout.startswith(f"Copied {state_db(ready)} to {target}: 1 edition, ")
    assert process.returncode == 0, stderr
    assert [p.name for p in target.parent.iterdir()] == ["state.db"], "one file, no -wal"
    with Ledger.open(target) as copy:
        edition = copy.edition("2026-11-27")
        batches = copy.batches("2026-11-27")
    assert edition is not None and edition.status == "sending"
    assert sum(batch.size for batch in batches) == len(emails)
    assert 1 <= sum(batch.state == "accepted" for batch in batches) < len(batches)
    assert Counter(server.accepted_recipients()) == Counter(emails)


def test_a_backup_is_refused_in_one_line_where_it_cannot_go(
    ready: Folder, server: SendGridServer, tmp_path: Path
) -> None:
    nothing_yet = ready.run("ledger", "backup", str(tmp_path / "copy.db"))
    assert nothing_yet.exit_code == 1
    assert nothing_yet.stderr.startswith("error: there is no ledger to back up: ")
    assert not state_db(ready).exists(), "a backup makes no ledger"
    assert send(ready).exit_code == 0
    live = state_db(ready).read_bytes()
    for target, said in (
        (tmp_path / "missing" / "copy.db", f"the folder {tmp_path / 'missing'} does not exist"),
        (state_db(ready), "it is the live ledger itself"),
        (tmp_path, "it is a folder"),
    ):
        refused = ready.run("ledger", "backup", str(target))
        assert refused.exit_code == 1, refused.output
        assert refused.stderr.startswith(f"error: cannot back up the ledger to {target}: {said}; ")
        assert len(refused.stderr.splitlines()) == 1
    assert state_db(ready).read_bytes() == live
    assert not (tmp_path / "missing").exists()
