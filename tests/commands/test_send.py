"""`digest send` against the local SendGrid server: every active reader once, whatever happens."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import Result

from digest.errors import LedgerError
from digest.ledger import Ledger
from tests.commands.conftest import API_KEY, NOW, SECRET, Folder
from tests.sendgrid_server import SendGridServer
from tests.sending.test_offload import CtrlCAtFork

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "subscribers"


def active_readers(folder: Folder) -> list[str]:
    with (folder.path / "subscribers.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    return [r["email"] for r in rows if (r.get("status") or "active") == "active"]


def write_readers(folder: Folder, count: int, *, extra: str = "") -> list[str]:
    """Replace the list with ``count`` generated active readers (plus raw ``extra`` lines)."""
    emails = [f"reader{i}@example.com" for i in range(count)]
    lines = ["email,name,status"] + [f"{e},Reader {i},active" for i, e in enumerate(emails)]
    target = folder.path / "subscribers.csv"
    target.unlink()
    target.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return emails


def send(folder: Folder, *args: str) -> Result:
    return folder.run("send", "--yes", "--now", NOW, *args)


def listed(listing: Path) -> list[str]:
    """The addresses in a list of uncertain readers, without its `# batch N` lines."""
    return [line for line in listing.read_text().splitlines() if not line.startswith("#")]


def test_the_example_goes_to_each_active_reader_once(ready: Folder, server: SendGridServer) -> None:
    result = send(ready)
    assert result.exit_code == 0, result.output
    assert sorted(server.accepted_recipients()) == sorted(active_readers(ready))
    body = server.requests[0].body
    assert body["custom_args"] == {"edition": "2026-11-27"}
    assert body["categories"] == ["digest"]
    assert [part["type"] for part in body["content"]] == ["text/plain", "text/html"]
    for personalization in body["personalizations"]:
        (unsubscribe,) = [
            value
            for key, value in personalization["substitutions"].items()
            if key.endswith(".unsubscribe_url%%")
        ]
        assert unsubscribe.startswith("https://ftvconsulting.example.com/unsubscribe?")
        headers = {**body.get("headers", {}), **personalization["headers"]}  # as SendGrid merges
        assert headers["List-Unsubscribe"] == f"<{unsubscribe}>"
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "@" not in unsubscribe and "%40" not in unsubscribe  # the token names the reader
    assert "1 bounced" in result.stdout and "1 unsubscribed" in result.stdout


@pytest.mark.parametrize(
    ("url", "in_html"),
    [
        ("https://ftvconsulting.example.com/unsubscribe?token={token}", "as it is"),
        ("https://ftvconsulting.example.com/unsubscribe?list=news&token={token}", "escaped"),
    ],
)
def test_an_unsubscribe_url_nothing_escapes_travels_once_a_reader(
    ready: Folder, server: SendGridServer, url: str, in_html: str
) -> None:
    """The URL's token is base64url: when its template has nothing HTML escapes, the HTML
    uses the plain token too, and each reader's request carries the URL once, not twice."""
    ready.env["DIGEST_UNSUBSCRIBE_URL"] = url
    assert send(ready).exit_code == 0
    for request in server.requests:
        for personalization in request.body["personalizations"]:
            links = [key for key in personalization["substitutions"] if ".unsubscribe_url" in key]
            assert len(links) == (1 if in_html == "as it is" else 2), links
        for mail in request.delivered():
            (link,) = [
                value
                for personalization in request.body["personalizations"]
                if personalization["to"][0]["email"] == mail.to
                for key, value in personalization["substitutions"].items()
                if key.endswith(".unsubscribe_url%%")
            ]
            href = link if in_html == "as it is" else link.replace("&", "&amp;")
            assert f'href="{href}"' in mail.html


def test_a_rerun_after_success_sends_nothing(ready: Folder, server: SendGridServer) -> None:
    assert send(ready).exit_code == 0
    requests = len(server.requests)
    again = send(ready)
    assert again.exit_code == 0
    assert again.stdout == "edition 2026-11-27 was sent already (finished 2026-11-27 09:00 PST)\n"
    assert len(server.requests) == requests


def test_posts_of_a_sent_edition_are_never_selected_again(
    ready: Folder, server: SendGridServer
) -> None:
    assert send(ready).exit_code == 0
    nothing = ready.run("send", "--yes", "--now", "2026-12-04T09:00:00-08:00")
    assert nothing.exit_code == 0
    assert "no new posts" in nothing.stdout
    # build still lays the last edition's posts out, for template work, and says why.
    built = ready.run("build", "--now", "2026-12-04T09:00:00-08:00").stdout
    assert "Nothing new yet for edition 2026-12-04" in built


def test_batches_of_a_thousand_and_each_address_once(ready: Folder, server: SendGridServer) -> None:
    extra = "READER7@Example.com,Duplicate,active\nnot-an-address,Broken,active\n"
    emails = write_readers(ready, 2500, extra=extra)
    result = send(ready)
    assert result.exit_code == 0, result.output
    sizes = sorted(len(r.body["personalizations"]) for r in server.requests)
    assert sizes == [500, 1000, 1000]
    assert Counter(server.accepted_recipients()) == Counter(emails)
    assert "1 duplicate" in result.stdout and "1 invalid" in result.stdout
    assert "subscribers.csv:2503" in result.stderr


def test_rate_limits_and_server_errors_still_deliver_exactly_once(
    ready: Folder, server: SendGridServer
) -> None:
    emails = write_readers(ready, 2100)
    ready.env["DIGEST_SENDGRID_CONCURRENCY"] = "1"
    server.fail_next(429, reset_in=1)
    server.fail_next(500)
    server.fail_next(503)
    started = time.monotonic()
    result = send(ready)
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 1.0, "waited for X-RateLimit-Reset"
    assert Counter(server.accepted_recipients()) == Counter(emails)


def test_a_refusal_stops_the_send_and_a_rerun_resumes(
    ready: Folder, server: SendGridServer
) -> None:
    emails = write_readers(ready, 3000)
    ready.env["DIGEST_SENDGRID_CONCURRENCY"] = "1"
    server.slow_next(0)
    server.refuse_with(400, "The from address does not match a verified Sender Identity.")
    failed = send(ready)
    assert failed.exit_code == 1
    assert "does not match a verified Sender Identity" in failed.stderr
    assert len(server.accepted_recipients()) == 1000
    resumed = send(ready)
    assert resumed.exit_code == 0, resumed.output
    assert Counter(server.accepted_recipients()) == Counter(emails)


def test_a_read_timeout_is_uncertain_and_resent_only_when_asked(
    ready: Folder, server: SendGridServer
) -> None:
    emails = write_readers(ready, 1500)
    ready.env.update(DIGEST_SENDGRID_CONCURRENCY="1", DIGEST_SENDGRID_TIMEOUT="0.5")
    server.hang_next(2)
    first = send(ready)
    assert first.exit_code == 1
    assert "uncertain 1000" in first.stdout
    listing = ready.path / ".digest" / "uncertain-2026-11-27.txt"
    assert f"1000 uncertain (batch 1, listed in {listing})" in first.stderr
    assert listed(listing) == emails[:1000], "listed by the run that left them"
    assert Counter(server.accepted_recipients()) == Counter(emails), "the hung batch arrived"
    second = send(ready)
    assert second.exit_code == 1
    assert "in flight when an earlier run stopped" in second.stderr
    assert listed(listing) == emails[:1000]
    assert Counter(server.accepted_recipients()) == Counter(emails), "not sent twice"
    third = send(ready, "--resend-uncertain")
    assert third.exit_code == 0, third.output
    assert Counter(server.accepted_recipients()) == Counter(emails[:1000] * 2 + emails[1000:])
    assert not listing.exists(), "settled: the list is gone"


def test_a_list_of_uncertain_readers_that_cannot_be_written_is_a_warning(
    ready: Folder, server: SendGridServer
) -> None:
    write_readers(ready, 1500)
    ready.env.update(DIGEST_SENDGRID_CONCURRENCY="1", DIGEST_SENDGRID_TIMEOUT="0.5")
    (ready.path / ".digest" / "uncertain-2026-11-27.txt").mkdir(parents=True)
    server.hang_next(2)
    first = send(ready)
    assert first.exit_code == 1
    assert "uncertain 1000" in first.stdout
    assert "cannot write the list of uncertain recipients" in first.stderr
    assert "is not complete: 0 pending, 1000 uncertain" in first.stderr
    assert "Traceback" not in first.stderr


def test_refusals_before_anything_is_sent(folder: Folder, server: SendGridServer) -> None:
    folder.env["DIGEST_SENDGRID_HOST"] = server.url
    no_key = folder.run("send", "--yes")
    assert no_key.exit_code == 1 and "SENDGRID_API_KEY" in no_key.stderr
    folder.env["SENDGRID_API_KEY"] = API_KEY
    no_secret = folder.run("send", "--yes")
    assert no_secret.exit_code == 1 and "DIGEST_UNSUBSCRIBE_SECRET" in no_secret.stderr
    folder.env["DIGEST_UNSUBSCRIBE_SECRET"] = SECRET
    folder.edit_config(lambda text: text.replace('url = "https://ftv', 'url = "" # "https://ftv'))
    no_method = folder.run("send", "--yes")
    assert no_method.exit_code == 1 and "unsubscribe" in no_method.stderr
    folder.edit_config(lambda text: text.replace('url = "" # "https://ftv', 'url = "https://ftv'))
    folder.edit_config(lambda text: text.replace("token={token}", "t=TOKEN"))
    no_token = folder.run("send", "--yes")
    assert no_token.exit_code == 1 and "unsubscribe.url" in no_token.stderr
    assert "{token}" in no_token.stderr
    folder.edit_config(lambda text: text.replace("t=TOKEN", "token={token}"))
    no_terminal = folder.run("send")
    assert no_terminal.exit_code == 1 and "--yes" in no_terminal.stderr
    for result in (no_key, no_secret, no_method, no_token, no_terminal):
        assert len(result.stderr.strip().splitlines()) == 1
    assert server.requests == []
    assert (
        not (folder.path / ".digest" / "state.db").exists()
        or "2026" not in folder.run("history").stdout
    )


def test_asm_mode_uses_the_group_and_sendgrids_tags(ready: Folder, server: SendGridServer) -> None:
    ready.env["DIGEST_SENDGRID_ASM_GROUP_ID"] = "4242"
    assert send(ready).exit_code == 0
    body = server.requests[0].body
    assert body["asm"] == {"group_id": 4242}
    html = body["content"][1]["value"]
    assert 'href="<%asm_group_unsubscribe_raw_url%>"' in html
    assert "List-Unsubscribe" in body["personalizations"][0]["headers"]


def test_sandbox_mode_is_requested(ready: Folder, server: SendGridServer) -> None:
    ready.env["DIGEST_SENDGRID_SANDBOX"] = "true"
    assert send(ready).exit_code == 0
    assert server.requests[0].body["mail_settings"] == {"sandbox_mode": {"enable": True}}


def test_dry_run_writes_the_outbox_and_sends_and_records_nothing(
    ready: Folder, server: SendGridServer
) -> None:
    result = ready.run("send", "--dry-run", "--now", NOW)
    assert result.exit_code == 0, result.output
    files = sorted((ready.path / "outbox" / "2026-11-27").glob("*.eml"))
    assert sorted(f.stem for f in files) == sorted(e.lower() for e in active_readers(ready))
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["Subject"].strip().startswith("TAG and AMPTP")
    assert server.requests == []
    assert send(ready).exit_code == 0
    assert sorted(server.accepted_recipients()) == sorted(active_readers(ready))


def test_a_test_send_goes_only_to_the_given_address_and_is_not_the_edition(
    ready: Folder, server: SendGridServer
) -> None:
    result = ready.run("send", "--to", "editor@example.com", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert server.accepted_recipients() == ["editor@example.com"]
    assert server.requests[0].body["subject"].startswith("[TEST] ")
    history = ready.run("history").stdout
    assert "test" in history
    assert send(ready).exit_code == 0
    assert sorted(server.accepted_recipients()[1:]) == sorted(active_readers(ready))


def test_a_dry_run_of_a_test_writes_only_the_given_addresses_and_records_nothing(
    ready: Folder, server: SendGridServer
) -> None:
    result = ready.run(
        "send", "--dry-run", "--to", "editor@example.com", "--to", "Editor@Example.com",
        "--to", "boss@example.com", "--now", NOW,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote 2 messages" in result.stdout
    files = sorted((ready.path / "outbox" / "2026-11-27-test").glob("*.eml"))
    assert [f.stem for f in files] == ["boss@example.com", "editor@example.com"]
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["Subject"].startswith("[TEST] ")
    assert not (ready.path / "outbox" / "2026-11-27").exists(), "not the edition's dry run"
    assert not (ready.path / ".digest" / "state.db").exists(), "nothing recorded"
    assert server.requests == []
    refused = ready.run("send", "--dry-run", "--to", "not-an-address", "--now", NOW)
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: --to not-an-address: ")


def test_a_test_send_is_kept_apart_from_the_edition_in_stats_and_in_the_outbox(
    ready: Folder, server: SendGridServer
) -> None:
    assert ready.run("send", "--to", "editor@example.com", "--now", NOW).exit_code == 0
    assert server.requests[0].body["custom_args"] == {"edition": "2026-11-27-test"}
    dry = ready.run("send", "--dry-run", "--now", NOW)
    assert dry.exit_code == 0, dry.output
    ready.env["DIGEST_DELIVERY_BACKEND"] = "outbox"
    test = ready.run("send", "--to", active_readers(ready)[0], "--now", NOW)
    assert test.exit_code == 0, test.output
    edition_files = (ready.path / "outbox" / "2026-11-27").glob("*.eml")
    subjects = [
        str(message_from_bytes(f.read_bytes(), policy=policy.default)["Subject"])
        for f in edition_files
    ]
    assert len(subjects) == len(active_readers(ready))
    assert not any(subject.startswith("[TEST]") for subject in subjects)
    (test_file,) = (ready.path / "outbox" / "2026-11-27-test").glob("*.eml")
    test_message = message_from_bytes(test_file.read_bytes(), policy=policy.default)
    assert str(test_message["Subject"]).startswith("[TEST] ")


def test_history_lists_the_edition_with_its_counts(ready: Folder, server: SendGridServer) -> None:
    assert send(ready).exit_code == 0
    history = ready.run("history")
    assert history.exit_code == 0
    header, row = history.stdout.splitlines()
    columns = dict(zip(header.split("\t"), row.split("\t"), strict=True))
    assert columns["edition"] == "2026-11-27"
    assert columns["kind"] == "edition"
    assert columns["subject"].startswith("TAG and AMPTP to Discuss AI")
    assert (columns["posts"], columns["recipients"], columns["accepted"]) == ("10", "4", "4")
    assert (columns["failed"], columns["uncertain"], columns["status"]) == ("0", "0", "sent")
    assert (columns["refused"], columns["pending"]) == ("0", "0")


def test_history_on_a_terminal_shows_brackets_in_a_subject_as_written(
    ready: Folder, server: SendGridServer
) -> None:
    ready.edit_config(lambda text: text.replace('subject = "', 'subject = "[/etc] [bold]', 1))
    empty = ready.run("history")
    assert empty.stdout.strip() == "No editions sent from this folder yet."
    assert send(ready).exit_code == 0
    ready.env.update(FORCE_COLOR="1", COLUMNS="300")
    history = ready.run("history")
    assert history.exit_code == 0, history.output
    assert "[/etc] [bold]TAG and AMPTP" in history.stdout


def test_secrets_never_appear_in_output_or_state(ready: Folder, server: SendGridServer) -> None:
    server.refuse_with(401, "The provided authorization grant is invalid, expired, or revoked")
    refused = ready.run("-v", "send", "--yes", "--now", NOW)
    assert refused.exit_code == 1
    assert send(ready).exit_code == 0
    outputs = refused.stdout + refused.stderr + ready.run("-v", "history").stdout
    state = b"".join(p.read_bytes() for p in (ready.path / ".digest").rglob("*") if p.is_file())
    for secret in (API_KEY, SECRET):
        assert secret not in outputs
        assert secret.encode() not in state


def digest_process(folder: Folder, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **folder.env, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "send", "--yes", "--now", NOW, *args],
        cwd=folder.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("concurrency", "uncertain"),
    [(1, (2000, 3000)), (2, (2000, 4000))],
    ids=["one process", "worker processes"],
)
def test_kill_9_mid_send_then_a_rerun_delivers_everyone_once(
    ready: Folder, server: SendGridServer, concurrency: int, uncertain: tuple[int, int]
) -> None:
    emails = write_readers(ready, 5000)
    ready.env["DIGEST_SENDGRID_CONCURRENCY"] = str(concurrency)
    server.slow_next(0.2)
    server.slow_next(0.2)
    for _ in range(concurrency):
        server.hang_next(5)
    first, last = uncertain
    process = digest_process(ready)
    wait_for(lambda: len(server.accepted_recipients()) >= last)  # the hung ones arrived too
    workers = children(process.pid)
    assert len(workers) == (concurrency if concurrency > 1 else 0)
    process.send_signal(signal.SIGKILL)
    process.wait()
    wait_for(lambda: not any(alive(pid) for pid in workers), seconds=10)  # no orphans left
    assert Counter(server.accepted_recipients()) == Counter(emails[:last])
    rerun = send(ready)
    assert rerun.exit_code == 1, "uncertain batches leave the edition incomplete"
    assert "in flight when an earlier run stopped" in rerun.stderr
    listing = ready.path / ".digest" / "uncertain-2026-11-27.txt"
    assert sorted(listed(listing)) == sorted(emails[first:last])
    assert Counter(server.accepted_recipients()) == Counter(emails), "everyone exactly once"


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    """Running, not a zombie left for whoever reaps orphans."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_a_worker_that_dies_leaves_its_batch_uncertain_and_says_so_in_one_line(
    ready: Folder, server: SendGridServer
) -> None:
    emails = write_readers(ready, 4000)
    ready.env["DIGEST_SENDGRID_CONCURRENCY"] = "2"
    server.hang_next(3)
    server.hang_next(3)
    process = digest_process(ready)
    wait_for(lambda: server.received >= 2)
    os.kill(children(process.pid)[0], signal.SIGKILL)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "a send worker process died" in stderr
    assert "Traceback" not in stderr
    rerun = send(ready)
    assert rerun.exit_code == 1
    listing = ready.path / ".digest" / "uncertain-2026-11-27.txt"
    assert sorted(listed(listing)) == sorted(emails[:2000])
    assert Counter(server.accepted_recipients()) == Counter(emails), "everyone exactly once"


@pytest.mark.slow
def test_two_sends_at_once_exactly_one_sends(ready: Folder, server: SendGridServer) -> None:
    emails = write_readers(ready, 3000)
    ready.env["DIGEST_SENDGRID_CONCURRENCY"] = "1"
    for _ in range(3):
        server.slow_next(0.5)
    first, second = digest_process(ready), digest_process(ready)
    outputs = [p.communicate(timeout=60) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    said = " ".join(out for out, _ in outputs)
    assert "being sent by another process" in said
    assert Counter(server.accepted_recipients()) == Counter(emails)


def test_a_ledger_failure_mid_send_still_records_the_answers_already_coming(
    ready: Folder, server: SendGridServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ledger refuses to mark a third batch in flight (as a disk filling up would)
    # while the first batch's request is still out: its answer must still be recorded.
    emails = write_readers(ready, 2500)
    ready.env["DIGEST_SENDGRID_CONCURRENCY"] = "2"
    server.slow_next(1.0)
    marked = Ledger.mark_in_flight

    def mark_two_then_fail(self: Ledger, batch_id: int, at: datetime) -> None:
        if batch_id > 2:
            raise LedgerError("database or disk is full")
        marked(self, batch_id, at)

    with monkeypatch.context() as patched:
        patched.setattr(Ledger, "mark_in_flight", mark_two_then_fail)
        failed = send(ready)
    assert failed.exit_code == 1
    assert "disk is full" in failed.stderr
    assert len(server.accepted_recipients()) == 2000
    resumed = send(ready)
    assert resumed.exit_code == 0, resumed.output
    assert "in flight" not in resumed.stderr
    assert Counter(server.accepted_recipients()) == Counter(emails)


def test_no_edition_starts_while_another_is_starting(ready: Folder, server: SendGridServer) -> None:
    # Two new editions starting at once would both choose the same posts.
    emails = write_readers(ready, 3)
    (ready.path / ".digest").mkdir(exist_ok=True)
    with Ledger.open(ready.path / ".digest" / "state.db") as other, other.start_lock():
        other_edition = ready.run("send", "--yes", "--edition", "2026-11-28", "--now", NOW)
    assert other_edition.exit_code == 0, other_edition.output
    assert "another digest send is starting an edition right now" in other_edition.output
    assert server.requests == []
    assert send(ready).exit_code == 0
    assert Counter(server.accepted_recipients()) == Counter(emails)


@pytest.mark.slow
def test_sigterm_stops_after_the_requests_in_flight(ready: Folder, server: SendGridServer) -> None:
    emails = write_readers(ready, 5000)
    ready.env["DIGEST_SENDGRID_CONCURRENCY"] = "1"
    for _ in range(5):
        server.slow_next(0.5)
    process = digest_process(ready)
    wait_for(lambda: len(server.requests) >= 1)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "stopped by SIGTERM" in stderr
    assert len(server.accepted_recipients()) < len(emails)
    assert send(ready).exit_code == 0
    assert Counter(server.accepted_recipients()) == Counter(emails)


def test_a_reader_marked_unsubscribed_or_bounced_on_any_row_gets_nothing(
    ready: Folder, server: SendGridServer
) -> None:
    # Ann unsubscribed before her active duplicate; reader1's bounce comes after their row.
    emails = write_readers(
        ready,
        4,
        extra="ann@example.com,Ann,unsubscribed\nANN@Example.com,Ann,active\n"
        "READER1@EXAMPLE.COM,,bounced\n",
    )
    expected = [e for e in emails if e != "reader1@example.com"]

    dry = ready.run("send", "--dry-run", "--now", NOW)
    sent = send(ready)

    for result in (dry, sent):
        assert result.exit_code == 0, result.output
        assert "skipped 1 bounced, 2 duplicate, 1 unsubscribed" in result.stdout
        assert "subscribers.csv:8: reader1@example.com: marked bounced here" in result.stderr
        assert "subscribers.csv:6: ANN@example.com: marked unsubscribed here" in result.stderr
    outbox = ready.path / "outbox" / "2026-11-27"
    assert sorted(f.stem for f in outbox.glob("*.eml")) == expected
    assert sorted(server.accepted_recipients()) == expected


def test_a_half_sent_edition_is_finished_by_the_backend_that_started_it(
    ready: Folder, server: SendGridServer
) -> None:
    emails = write_readers(ready, 5)
    ready.env.update(DIGEST_SENDGRID_MAX_RETRIES="0")
    server.fail_next(500)
    assert send(ready).exit_code == 1
    ready.env["DIGEST_DELIVERY_BACKEND"] = "outbox"
    switched = send(ready)
    assert switched.exit_code == 1
    assert "started with the sendgrid backend, not outbox" in switched.stderr
    assert "Traceback" not in switched.stderr
    assert not (ready.path / "outbox").exists()
    del ready.env["DIGEST_DELIVERY_BACKEND"]
    assert send(ready).exit_code == 0
    assert Counter(server.accepted_recipients()) == Counter(emails)


def test_a_half_sent_edition_is_finished_before_a_new_one_starts(
    ready: Folder, server: SendGridServer
) -> None:
    emails = write_readers(ready, 2000)
    ready.env.update(DIGEST_SENDGRID_CONCURRENCY="1", DIGEST_SENDGRID_MAX_RETRIES="0")
    server.slow_next(0)
    server.fail_next(500)
    assert send(ready).exit_code == 1
    next_week = ready.run("send", "--yes", "--now", "2026-12-04T09:00:00-08:00")
    assert next_week.exit_code == 1
    assert "edition 2026-11-27 is not finished" in next_week.stderr
    assert "digest send --edition 2026-11-27" in next_week.stderr
    finished = ready.run("send", "--yes", "--edition", "2026-11-27")
    assert finished.exit_code == 0, finished.output
    assert Counter(server.accepted_recipients()) == Counter(emails)


def test_uncertain_batches_the_provider_delivered_can_be_recorded_as_delivered(
    ready: Folder, server: SendGridServer
) -> None:
    emails = write_readers(ready, 10)
    ready.env["DIGEST_SENDGRID_TIMEOUT"] = "0.5"
    server.hang_next(2)
    assert send(ready).exit_code == 1
    wait_for(lambda: len(server.accepted_recipients()) == 10)
    both = send(ready, "--resend-uncertain", "--accept-uncertain")
    assert both.exit_code == 2
    accepted = send(ready, "--accept-uncertain")
    assert accepted.exit_code == 0, accepted.output
    assert "Recorded 10 uncertain recipients (batch 1) as delivered" in accepted.stdout
    assert "recorded as delivered 10;" in accepted.stdout
    assert "is complete" in accepted.stdout
    assert Counter(server.accepted_recipients()) == Counter(emails), "nothing sent twice"
    assert "was sent already" in send(ready).output


def test_resending_uncertain_batches_asks_first(ready: Folder, server: SendGridServer) -> None:
    write_readers(ready, 10)
    ready.env["DIGEST_SENDGRID_TIMEOUT"] = "0.5"
    server.hang_next(2)
    assert send(ready).exit_code == 1
    unattended = ready.run("send", "--resend-uncertain", "--now", NOW)
    assert unattended.exit_code == 1
    assert "--yes" in unattended.stderr
    assert len(server.accepted_recipients()) == 10
    # The refused run changed nothing: the batch is still uncertain, not queued again.
    plain = send(ready)
    assert "in flight when an earlier run stopped" in plain.stderr
    assert len(server.accepted_recipients()) == 10


def test_an_audience_with_nobody_to_send_to_is_refused_and_keeps_the_posts(
    ready: Folder, server: SendGridServer
) -> None:
    path = ready.path / "subscribers.csv"
    path.unlink()
    path.write_text("email,status\ngone@example.com,unsubscribed\nbroken,active\n")
    refused = send(ready)
    assert refused.exit_code == 1
    assert "no active subscribers" in refused.stderr
    assert "subscribers.csv:3" in refused.stderr
    path.write_text("email,status\nback@example.com,active\n")
    assert send(ready).exit_code == 0
    assert server.accepted_recipients() == ["back@example.com"]


def test_an_invalid_sender_is_refused_before_anything_starts(
    ready: Folder, server: SendGridServer
) -> None:
    ready.env["DIGEST_NEWSLETTER_FROM_EMAIL"] = "not an address"
    refused = send(ready)
    assert refused.exit_code == 1
    assert "DIGEST_NEWSLETTER_FROM_EMAIL must be a bare address" in refused.stderr
    assert not (ready.path / ".digest" / "state.db").exists()
    # A display name in the address: refused as one line by every command, not a traceback.
    ready.env["DIGEST_NEWSLETTER_FROM_EMAIL"] = "FTV Insights <news@example.com>"
    for command in (["build"], ["send", "--dry-run", "--yes"], ["send", "--yes"]):
        refused = ready.run(*command)
        assert refused.exit_code == 1, command
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert "the display name comes from newsletter.name" in refused.stderr


def test_a_ctrl_c_at_the_instant_a_child_or_worker_forks_kills_neither(
    ready: Folder, server: SendGridServer
) -> None:
    # The child that reads the list and the send workers ignore Ctrl-C (this process
    # decides what it means); one pressed as they fork, before they ignore it, must not
    # kill them either. Here each one forked gets SIGINT before its own code runs. (The
    # workers fork after this process has set its own SIGINT handler, which they inherit.)
    emails = write_readers(ready, 2500)
    ready.env["DIGEST_SENDGRID_CONCURRENCY"] = "2"
    ctrl_c = CtrlCAtFork()
    try:
        result = send(ready)
    finally:
        del ctrl_c
    assert result.exit_code == 0, result.stderr
    assert Counter(server.accepted_recipients()) == Counter(emails)


@pytest.mark.slow
@pytest.mark.parametrize("concurrency", ["1", "2"], ids=["one process", "worker processes"])
def test_sigterm_during_a_rate_limit_wait_stops_promptly(
    ready: Folder, server: SendGridServer, concurrency: str
) -> None:
    emails = write_readers(ready, 3000)
    ready.env["DIGEST_SENDGRID_CONCURRENCY"] = concurrency
    server.slow_next(0)
    server.fail_next(429, reset_in=60)
    process = digest_process(ready)
    wait_for(lambda: len(server.requests) >= 1 and server.received >= 2)
    time.sleep(0.3)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert time.monotonic() - started < 10, "did not sit out the 60 s rate-limit wait"
    assert process.returncode == 1
    assert "stopped by SIGTERM" in stderr
    assert send(ready).exit_code == 0
    assert Counter(server.accepted_recipients()) == Counter(emails)


def test_an_edition_key_must_be_a_safe_name(ready: Folder, server: SendGridServer) -> None:
    for command in (["--to", "a@example.com"], ["--dry-run"], ["--yes"]):
        result = ready.run("send", "--edition", "../../x", *command)
        assert result.exit_code == 2
        assert "--edition" in result.stderr
    assert server.requests == []
    assert not (ready.path.parent / "x").exists()


def test_a_dry_run_names_the_rows_it_left_out_and_counts_them_as_a_send_would(
    ready: Folder, server: SendGridServer
) -> None:
    left_out = (
        "broken-address,Broken,active\n"
        "READER1@example.com,Again,active\n"
        "gone@example.com,,unsubscribed\n"
    )
    emails = write_readers(ready, 3, extra=left_out)
    result = ready.run("send", "--dry-run", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "subscribers.csv:5" in result.stderr
    assert f"wrote {len(emails)} messages" in result.stdout
    assert str(ready.path / "outbox" / "2026-11-27") in result.stdout
    skipped = "skipped 1 duplicate, 1 invalid, 1 unsubscribed"
    assert skipped in result.stdout
    assert skipped in send(ready).stdout


def test_a_non_ascii_local_part_is_an_invalid_row_not_a_failed_send(
    ready: Folder, server: SendGridServer
) -> None:
    emails = write_readers(ready, 2, extra="jürgen@example.com,Jürgen,active\n")
    for result in (ready.run("send", "--dry-run", "--now", NOW), send(ready)):
        assert result.exit_code == 0, result.output
        assert "subscribers.csv:4: jürgen@example.com: invalid address" in result.stderr
        assert "1 invalid" in result.stdout
    assert sorted(server.accepted_recipients()) == emails


def test_a_very_long_name_is_cut_and_control_characters_become_spaces(
    ready: Folder, server: SendGridServer
) -> None:
    long_name = "Z" * 1200
    write_readers(
        ready, 1, extra=f"zed@example.com,{long_name},active\nesc@example.com,A\x1bB,active\n"
    )
    assert send(ready).exit_code == 0
    sent = {p["to"][0]["email"]: p for p in server.requests[0].body["personalizations"]}
    assert sent["zed@example.com"]["to"][0]["name"] == "Z" * 200
    assert sent["esc@example.com"]["to"][0]["name"] == "A B"


def test_a_reader_too_large_for_sendgrid_is_left_out_of_a_send_and_a_dry_run(
    ready: Folder, server: SendGridServer
) -> None:
    # The text part greets each reader with their company: 12,000 bytes of it for one.
    greeting = ready.path / "templates" / "digest.txt.j2"
    greeting.write_text(
        greeting.read_text().replace(
            "Hi {{ subscriber.first_name }}", "Hi {{ subscriber.company }}"
        )
    )
    huge = "\U0001f600" * 3000
    emails = [f"reader{i}@example.com" for i in range(3)]
    rows = [f"{email},Reader,active,Acme" for email in emails]
    (ready.path / "subscribers.csv").write_text(
        "email,name,status,company\n" + "\n".join(rows) + f"\nhuge@example.com,,active,{huge}\n"
    )

    dry = ready.run("send", "--dry-run", "--now", NOW)
    sent = send(ready)

    for result in (dry, sent):
        assert result.exit_code == 0, result.output
        assert "subscribers.csv:5: huge@example.com: substitutions take" in result.stderr
    assert f"wrote {len(emails)} messages" in dry.stdout
    assert "1 invalid" in sent.stdout
    assert sorted(server.accepted_recipients()) == sorted(emails)


def test_a_quote_left_open_costs_its_row_only_and_no_reader_gets_anothers_data(
    ready: Folder, server: SendGridServer
) -> None:
    # Line 3 leaves its company's quote open: csv would read lines 4 to 6 into it.
    greeting = ready.path / "templates" / "digest.txt.j2"
    greeting.write_text(
        greeting.read_text().replace(
            "Hi {{ subscriber.first_name }}", "Hi {{ subscriber.company }}"
        )
    )
    (ready.path / "subscribers.csv").unlink()
    shutil.copy(DATA / "open_quote_middle.csv", ready.path / "subscribers.csv")
    expected = [
        "ada@example.com", "alan@example.com", "katherine@example.com", "margaret@example.com"
    ]  # fmt: skip

    dry = ready.run("send", "--dry-run", "--now", NOW)
    sent = send(ready)

    for result in (dry, sent):
        assert result.exit_code == 0, result.output
        assert "subscribers.csv:3: grace@example.com: quote left open" in result.stderr
        assert "skipped 1 duplicate, 1 invalid, 1 unsubscribed" in result.stdout
    outbox = ready.path / "outbox" / "2026-11-27"
    assert sorted(f.stem for f in outbox.glob("*.eml")) == expected
    assert sorted(server.accepted_recipients()) == expected
    companies = {
        p["to"][0]["email"]: value
        for request in server.requests
        for p in request.body["personalizations"]
        for key, value in p["substitutions"].items()
        if key.endswith(".company%%")
    }
    assert companies == {
        "ada@example.com": "Analytical Engines",
        "alan@example.com": "Bletchley Park",
        "katherine@example.com": "NASA, Langley",
        "margaret@example.com": "MIT",
    }


# `digest ARGS...` under a file size limit of LIMIT bytes: `python -c LIMITED LIMIT ARGS...`.
LIMITED = """
import resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from digest.cli import main
sys.argv = ["digest", *sys.argv[2:]]
main()
"""


def test_no_room_for_the_audience_spool_is_one_line_and_records_nothing(
    ready: Folder, server: SendGridServer
) -> None:
    """A real write that fails: the spool (about 700 KB here) passes the file size limit."""
    emails = write_readers(ready, 20_000)
    limited = [sys.executable, "-c", LIMITED, str(256 * 1024), "send", "--yes", "--now", NOW]

    full = subprocess.run(
        limited,
        cwd=ready.path,
        env={**os.environ, **ready.env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert full.returncode == 1, full.stderr
    (line,) = full.stderr.splitlines()
    assert line.startswith("error: reading subscribers.csv: cannot write its spool file in ")
    assert line.endswith(
        ".digest/ (File too large); free some space there (or raise the file size limit), "
        "then run the command again; nothing was sent or recorded"
    )
    assert server.requests == []
    assert ready.run("history").stdout.strip() == "No editions sent from this folder yet."
    assert send(ready).exit_code == 0
    assert sorted(server.accepted_recipients()) == sorted(emails)
