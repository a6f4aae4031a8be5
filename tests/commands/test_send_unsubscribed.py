"""A reader who unsubscribed through the link gets no later send, nor the rest of a resumed
one, even before `digest subscribers sync` writes them into subscribers.csv."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from digest.ledger import Ledger
from tests.commands.conftest import NOW, Folder
from tests.commands.test_send import send, write_readers
from tests.sendgrid_server import SendGridServer

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def unsubscribe(folder: Folder, *addresses: str) -> None:
    """Record the addresses as the endpoint does when a reader clicks."""
    with Ledger.open(folder.path / ".digest" / "state.db") as ledger:
        for address in addresses:
            ledger.record_unsubscribe(address, AT, "one-click")


def history_row(folder: Folder) -> dict[str, str]:
    result = folder.run("history")
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()[:2]
    return dict(zip(header.split("\t"), row.split("\t"), strict=True))


def test_a_send_and_its_dry_run_leave_out_the_ledgers_unsubscribes(
    ready: Folder, server: SendGridServer
) -> None:
    emails = write_readers(ready, 4)
    before = (ready.path / "subscribers.csv").read_bytes()
    unsubscribe(ready, "Reader2@Example.com")
    expected = [e for e in emails if e != "reader2@example.com"]

    dry = ready.run("send", "--dry-run", "--now", NOW)
    sent = send(ready)

    for result in (dry, sent):
        assert result.exit_code == 0, result.output
        assert "skipped 1 unsubscribed through the link" in result.stdout
    outbox = ready.path / "outbox" / "2026-11-27"
    assert sorted(f.stem for f in outbox.glob("*.eml")) == expected
    assert sorted(server.accepted_recipients()) == expected
    assert (ready.path / "subscribers.csv").read_bytes() == before, "only sync writes the list"


def test_a_resumed_send_leaves_out_readers_who_unsubscribed_after_the_freeze(
    ready: Folder, server: SendGridServer
) -> None:
    emails = write_readers(ready, 2500)
    ready.env["DIGEST_SENDGRID_CONCURRENCY"] = "1"
    server.slow_next(0)
    server.refuse_with(400, "The from address does not match a verified Sender Identity.")
    assert send(ready).exit_code == 1
    assert server.accepted_recipients() == emails[:1000]
    # One reader already sent (nothing to undo), one of batch 2, all of batch 3.
    late = [emails[1], emails[1500], *emails[2000:]]
    unsubscribe(ready, *late)

    resumed = send(ready)

    assert resumed.exit_code == 0, resumed.output
    assert "skipped 501 unsubscribed through the link" in resumed.stdout
    assert "is complete" in resumed.stdout
    expected = [e for e in emails if e not in late[1:]]
    assert Counter(server.accepted_recipients()) == Counter(expected)
    row = history_row(ready)
    counts = {name: int(row[name]) for name in ("recipients", "accepted", "pending")}
    assert counts == {"recipients": 2500, "accepted": 1999, "pending": 0}
    assert (row["unsubscribed"], row["status"]) == ("501", "sent")


def test_an_unsubscribe_during_a_send_keeps_the_reader_out_of_its_later_batches(
    ready: Folder, server: SendGridServer
) -> None:
    emails = write_readers(ready, 3000)
    ready.env["DIGEST_SENDGRID_CONCURRENCY"] = "1"
    server.slow_next(2)  # the first batch's answer comes late: the reader clicks meanwhile
    clicked = threading.Timer(0.5, unsubscribe, (ready, emails[2500]))
    clicked.start()
    try:
        result = send(ready)
    finally:
        clicked.join()

    assert result.exit_code == 0, result.output
    assert "skipped 1 unsubscribed through the link" in result.stdout
    assert Counter(server.accepted_recipients()) == Counter(e for e in emails if e != emails[2500])


def test_a_test_send_goes_to_an_address_typed_even_if_it_unsubscribed(
    ready: Folder, server: SendGridServer
) -> None:
    unsubscribe(ready, "ada@example.com")
    result = ready.run("send", "--to", "ada@example.com", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert server.accepted_recipients() == ["ada@example.com"]


def test_no_ledger_is_made_by_a_dry_run(folder: Folder, tmp_path: Path) -> None:
    folder.env["DIGEST_UNSUBSCRIBE_SECRET"] = "dry-run-secret"
    result = folder.run("send", "--dry-run", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert not (folder.path / ".digest" / "state.db").exists()
