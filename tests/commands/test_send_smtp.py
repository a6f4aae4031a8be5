"""`digest send` through the SMTP and outbox backends: the same ledger, the same guarantees."""

from __future__ import annotations

from collections import Counter

from tests.commands.conftest import NOW, Folder
from tests.deliver.smtp_server import RecordingHandler, running

SECRET = "unsubscribe-secret-for-smtp"
PASSWORD = "smtp-password-never-printed"
ACTIVE = ["ada@example.com", "grace@example.com", "alan@example.com", "katherine@example.com"]


def smtp_folder(folder: Folder, port: int) -> Folder:
    folder.env.update(
        DIGEST_DELIVERY_BACKEND="smtp",
        DIGEST_SMTP_HOST="127.0.0.1",
        DIGEST_SMTP_PORT=str(port),
        DIGEST_SMTP_SECURITY="none",
        DIGEST_SMTP_TIMEOUT="5",
        DIGEST_UNSUBSCRIBE_SECRET=SECRET,
        DIGEST_SMTP_PASSWORD=PASSWORD,
    )
    return folder


def test_smtp_sends_each_reader_one_message_over_one_connection(folder: Folder) -> None:
    handler = RecordingHandler()
    with running(handler) as server:
        smtp_folder(folder, server.port)
        result = folder.run("send", "--yes", "--now", NOW)
        assert result.exit_code == 0, result.output
        again = folder.run("send", "--yes", "--now", NOW)
        server.wait_until_all_closed()
        connections = server.connections
    recipients = [r.rcpt_tos[0] for r in handler.accepted]
    assert Counter(recipients) == Counter(ACTIVE)
    assert connections == 1
    assert "sent already" in again.stdout
    for received in handler.accepted:
        message = received.message
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "%%" not in received.body("html")
        assert "?token=" in message["List-Unsubscribe"]
        assert "@" not in message["List-Unsubscribe"]  # the token alone names the reader
    assert PASSWORD not in result.output + again.output


def test_a_refused_recipient_does_not_stop_the_send_and_is_not_retried(folder: Folder) -> None:
    handler = RecordingHandler()
    with running(handler) as server:
        smtp_folder(folder, server.port)
        first_reader = "ada@example.com"
        handler.refuse_recipients[first_reader] = "550 5.1.1 No such user"
        result = folder.run("send", "--yes", "--now", NOW)
        assert result.exit_code == 0, result.output
        assert "refused 1" in result.stdout
        assert "550" in result.stderr
        delivered = [r.rcpt_tos[0] for r in handler.accepted]
        again = folder.run("send", "--yes", "--now", NOW)
    assert sorted(delivered) == sorted(set(ACTIVE) - {first_reader})
    assert "sent already" in again.stdout
    history = folder.run("history")
    assert history.stdout.splitlines()[1].split("\t")[7] == "1"


def test_the_outbox_backend_records_the_edition_like_any_other(folder: Folder) -> None:
    folder.env.update(DIGEST_DELIVERY_BACKEND="outbox", DIGEST_UNSUBSCRIBE_SECRET=SECRET)
    result = folder.run("send", "--yes", "--now", NOW)
    assert result.exit_code == 0, result.output
    files = list((folder.path / "outbox" / "2026-11-27").glob("*.eml"))
    assert len(files) == 4
    assert "sent already" in folder.run("send", "--yes", "--now", NOW).stdout


def test_a_test_send_cut_short_records_who_got_it_and_who_did_not(folder: Folder) -> None:
    handler = RecordingHandler()
    with running(handler) as server:
        smtp_folder(folder, server.port)
        handler.refuse_recipients["boss@example.com"] = "554 5.7.1 Relay access denied"
        result = folder.run(
            "send", "--to", "editor@example.com", "--to", "boss@example.com", "--now", NOW
        )
    assert result.exit_code == 1
    assert [r.rcpt_tos for r in handler.accepted] == [["editor@example.com"]]
    rows = [line.split("\t") for line in folder.run("history").stdout.splitlines()[1:]]
    statuses = sorted((row[1], row[5], row[-1]) for row in rows)
    assert statuses == [("test", "1", "accepted"), ("test", "1", "failed")]
