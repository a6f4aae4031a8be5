"""`digest schedule` against the local SendGrid stand-in: `next`, one tick (`--once --now`)
across daylight-saving changes and the grace period, and the loop as a real process.

2026's changes in Los Angeles: clocks spring forward on 8 March (02:00 -> 03:00) and fall
back on 1 November (02:00 -> 01:00).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result

from tests.commands.conftest import Folder
from tests.commands.feeds import write_feed
from tests.commands.test_send import active_readers, write_readers
from tests.sendgrid_server import SendGridServer

REPO = Path(__file__).resolve().parents[2]
SENDER = "insights@ftvconsulting.example.com"


@pytest.fixture
def scheduled(ready: Folder, server: SendGridServer) -> Folder:
    """The example ready to send to the stand-in, its sender verified; its unsubscribe
    endpoint does not answer (a warning, which never blocks a send)."""
    server.account.verified_senders.add(SENDER)
    ready.env["DIGEST_UNSUBSCRIBE_URL"] = "https://127.0.0.1:9/unsubscribe?token={token}"
    return ready


def tick(folder: Folder, now: str) -> Result:
    return folder.run("schedule", "--once", "--now", now)


def first_line(result: Result) -> str:
    return result.stdout.splitlines()[0]


def sent_to(server: SendGridServer) -> Counter[str]:
    return Counter(server.accepted_recipients())


def add_post(folder: Folder, slug: str, day: datetime) -> None:
    """The example's feed with one more post."""
    posts = [(slug, f"The {slug} post", day)]
    write_feed(folder, posts)


# next --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "now", "expected"),
    [
        (
            "30 2 * * *",
            "2026-03-07T00:00",
            ["2026-03-07T02:30:00-08:00", "2026-03-08T03:00:00-07:00", "2026-03-09T02:30:00-07:00"],
        ),
        (
            "30 1 * * *",
            "2026-10-31T00:00",
            ["2026-10-31T01:30:00-07:00", "2026-11-01T01:30:00-07:00", "2026-11-02T01:30:00-08:00"],
        ),
        (
            "0 9 * * MON",
            "2026-03-01T00:00",
            ["2026-03-02T09:00:00-08:00", "2026-03-09T09:00:00-07:00", "2026-03-16T09:00:00-07:00"],
        ),
    ],
)
def test_next_prints_run_times_with_the_zones_offset(
    folder: Folder, cron: str, now: str, expected: list[str]
) -> None:
    folder.env["DIGEST_SCHEDULE_CRON"] = cron
    result = folder.run("schedule", "next", "--count", "3", "--now", now)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == expected


def test_next_prints_five_by_default_and_its_count_is_bounded(folder: Folder) -> None:
    runs = folder.run("schedule", "next").stdout.splitlines()
    assert len(runs) == 5
    instants = [datetime.fromisoformat(run) for run in runs]
    assert instants == sorted(instants) and instants[0] > datetime.now(UTC)
    for count in ("0", "1001", "lots"):
        refused = folder.run("schedule", "next", "--count", count)
        assert refused.exit_code == 2 and "--count" in refused.stderr


def test_now_and_once_go_with_a_tick(folder: Folder) -> None:
    assert folder.run("schedule", "--now", "2026-03-09T09:00").exit_code == 2
    assert folder.run("schedule", "--once", "next").exit_code == 2
    bad = folder.run("schedule", "--once", "--now", "monday")
    assert bad.exit_code == 2 and "is not an ISO 8601 time" in bad.stderr


# One tick across daylight-saving changes -------------------------------------------------


def test_a_run_in_the_skipped_hour_sends_once_right_after_the_gap(
    scheduled: Folder, server: SendGridServer
) -> None:
    scheduled.env["DIGEST_SCHEDULE_CRON"] = "30 2 * * *"
    before = tick(scheduled, "2026-03-08T01:55:00-08:00")
    assert before.exit_code == 0
    assert first_line(before) == (
        "run 2026-03-07T02:30:00-08:00 passed before the first edition: nothing to do"
    )
    due = tick(scheduled, "2026-03-08T03:10:00-07:00")
    assert due.exit_code == 0, due.output
    assert first_line(due) == (
        "run 2026-03-08T03:00:00-07:00 is due (10 min late): sending edition 2026-03-08"
    )
    assert sent_to(server) == Counter(active_readers(scheduled))
    requests = len(server.requests)
    for later in ("2026-03-08T03:40:00-07:00", "2026-03-08T23:59:00-07:00"):
        again = tick(scheduled, later)
        assert again.exit_code == 0
        assert again.stdout.strip() == (
            "edition 2026-03-08 (run 2026-03-08T03:00:00-07:00) was sent already: nothing to do"
        )
    assert len(server.requests) == requests


def test_a_run_in_the_repeated_hour_sends_once_at_its_first_occurrence(
    scheduled: Folder, server: SendGridServer
) -> None:
    scheduled.env["DIGEST_SCHEDULE_CRON"] = "30 1 * * *"
    first = tick(scheduled, "2026-11-01T01:35:00-07:00")
    assert first.exit_code == 0, first.output
    assert first_line(first) == (
        "run 2026-11-01T01:30:00-07:00 is due (5 min late): sending edition 2026-11-01"
    )
    requests = len(server.requests)
    for repeat in ("2026-11-01T01:35:00-08:00", "2026-11-01T01:59:00-08:00"):
        again = tick(scheduled, repeat)
        assert again.exit_code == 0
        assert again.stdout.strip() == (
            "edition 2026-11-01 (run 2026-11-01T01:30:00-07:00) was sent already: nothing to do"
        )
    assert len(server.requests) == requests


# The grace period ------------------------------------------------------------------------


def first_edition(folder: Folder) -> None:
    """Send the example's first edition on the Monday before, as the schedule would."""
    result = tick(folder, "2026-03-02T09:00:00-08:00")
    assert result.exit_code == 0, result.output


def test_a_run_just_inside_the_grace_period_sends(
    scheduled: Folder, server: SendGridServer
) -> None:
    first_edition(scheduled)
    add_post(scheduled, "monday", datetime(2026, 3, 8, tzinfo=UTC))
    requests = len(server.requests)
    result = tick(scheduled, "2026-03-09T10:00:00-07:00")
    assert result.exit_code == 0, result.output
    assert first_line(result) == (
        "run 2026-03-09T09:00:00-07:00 is due (1 h late): sending edition 2026-03-09"
    )
    assert "Edition 2026-03-09 is complete." in result.stdout
    assert len(server.requests) > requests


def test_a_run_just_outside_the_grace_period_is_reported_once_and_sends_nothing(
    scheduled: Folder, server: SendGridServer
) -> None:
    first_edition(scheduled)
    add_post(scheduled, "monday", datetime(2026, 3, 8, tzinfo=UTC))
    requests = len(server.requests)
    missed = tick(scheduled, "2026-03-09T10:00:01-07:00")
    assert missed.exit_code == 1
    assert missed.stderr.strip() == (
        "error: missed run 2026-03-09T09:00:00-07:00 by 1 h, more than the 1 h grace period:"
        " nothing sent; to send edition 2026-03-09 late anyway, run"
        " `digest send --edition 2026-03-09`"
    )
    later = tick(scheduled, "2026-03-09T10:15:00-07:00")
    assert later.exit_code == 0
    assert later.stdout.strip() == (
        "run 2026-03-09T09:00:00-07:00 was missed (reported 2026-03-09 10:00 PDT): nothing to do"
    )
    assert len(server.requests) == requests


def test_a_half_sent_edition_is_resumed_within_grace_and_left_alone_after(
    scheduled: Folder, server: SendGridServer
) -> None:
    emails = write_readers(scheduled, 2500)
    scheduled.env["DIGEST_SENDGRID_CONCURRENCY"] = "1"
    server.slow_next(0, path="/v3/mail/send")
    server.refuse_with(400, "The from address does not match.", path="/v3/mail/send")
    stopped = tick(scheduled, "2026-03-09T09:05:00-07:00")
    assert stopped.exit_code == 1
    assert "`digest send --edition 2026-03-09` to resume" in stopped.stderr
    resumed = tick(scheduled, "2026-03-09T09:20:00-07:00")
    assert resumed.exit_code == 0, resumed.output
    assert first_line(resumed) == (
        "run 2026-03-09T09:00:00-07:00 is due (20 min late): resuming edition 2026-03-09,"
        " half-sent before"
    )
    assert sent_to(server) == Counter(emails)


def test_a_half_sent_edition_past_grace_is_left_to_the_operator(
    scheduled: Folder, server: SendGridServer
) -> None:
    write_readers(scheduled, 2500)
    scheduled.env["DIGEST_SENDGRID_CONCURRENCY"] = "1"
    server.slow_next(0, path="/v3/mail/send")
    server.refuse_with(400, "The from address does not match.", path="/v3/mail/send")
    assert tick(scheduled, "2026-03-09T09:05:00-07:00").exit_code == 1
    requests = len(server.requests)
    late = tick(scheduled, "2026-03-09T10:30:00-07:00")
    assert late.exit_code == 1
    assert late.stderr.strip().endswith(
        "edition 2026-03-09 is half-sent: nothing sent; finish it with"
        " `digest send --edition 2026-03-09`"
    )
    assert len(server.requests) == requests


def test_the_edition_is_the_runs_date_when_the_grace_period_crosses_midnight(
    scheduled: Folder, server: SendGridServer
) -> None:
    scheduled.env["DIGEST_SCHEDULE_CRON"] = "30 23 * * MON"
    result = tick(scheduled, "2026-03-10T00:10:00-07:00")
    assert result.exit_code == 0, result.output
    assert first_line(result) == (
        "run 2026-03-09T23:30:00-07:00 is due (40 min late): sending edition 2026-03-09"
    )
    assert {request.body["custom_args"]["edition"] for request in server.requests} == {"2026-03-09"}


def test_nothing_new_is_one_line_and_exit_0(scheduled: Folder, server: SendGridServer) -> None:
    first_edition(scheduled)
    result = tick(scheduled, "2026-03-09T09:00:00-07:00")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == (
        "no new posts since the last edition: nothing to send for 2026-03-09"
        " (10 passed over: 10 seen in earlier editions)"
    )


# The preflight ---------------------------------------------------------------------------


def test_a_failed_check_refuses_to_send_and_a_warning_does_not(
    scheduled: Folder, server: SendGridServer
) -> None:
    server.account.scopes.remove("mail.send")
    refused = tick(scheduled, "2026-03-09T09:00:00-07:00")
    assert refused.exit_code == 1
    assert "fail  api key: SENDGRID_API_KEY lacks the mail.send scope" in refused.stderr
    assert "warn  unsubscribe: https://127.0.0.1:9/unsubscribe does not answer" in (refused.stderr)
    assert refused.stderr.splitlines()[-1].startswith(
        "error: edition 2026-03-09 not sent: 1 check failed, the first: api key:"
    )
    assert server.requests == []
    server.account.scopes.append("mail.send")
    sent = tick(scheduled, "2026-03-09T09:10:00-07:00")
    assert sent.exit_code == 0, sent.output
    assert sent_to(server) == Counter(active_readers(scheduled))


def test_a_due_send_first_marks_in_the_list_who_sendgrid_says_left(
    scheduled: Folder, server: SendGridServer
) -> None:
    readers = active_readers(scheduled)
    gone = readers[0]
    server.account.bounces.add(gone, created=1_700_000_000, reason="550 no such user")
    result = tick(scheduled, "2026-03-09T09:00:00-07:00")
    assert result.exit_code == 0, result.output
    listed = (scheduled.path / "subscribers.csv").read_text(encoding="utf-8")
    assert any(line.startswith(f"{gone},") and ",bounced" in line for line in listed.splitlines())
    assert sent_to(server) == Counter(readers[1:])


def test_a_sync_that_fails_is_warned_of_and_the_edition_still_goes(
    scheduled: Folder, server: SendGridServer
) -> None:
    before = (scheduled.path / "subscribers.csv").read_bytes()
    scheduled.env["DIGEST_SENDGRID_MAX_RETRIES"] = "1"
    for _ in range(2):
        server.fail_next(500, path="/v3/suppression/bounces")
    result = tick(scheduled, "2026-03-09T09:00:00-07:00")
    assert result.exit_code == 0, result.output
    assert "the edition goes to the list as it was" in result.stderr
    assert (scheduled.path / "subscribers.csv").read_bytes() == before
    assert sent_to(server) == Counter(active_readers(scheduled))


def test_a_list_the_sync_cannot_rewrite_is_warned_of_and_the_edition_still_goes(
    scheduled: Folder, server: SendGridServer
) -> None:
    """Here the new list's temporary name would pass the file system's 255 bytes (as a
    read-only folder would stop it, but not for root)."""
    name = "l" * 246 + ".csv"
    listed = (scheduled.path / "subscribers.csv").read_bytes()
    (scheduled.path / name).write_bytes(listed)
    scheduled.env["DIGEST_SUBSCRIBERS_PATH"] = name
    readers = active_readers(scheduled)
    server.account.bounces.add(readers[0], created=1_700_000_000, reason="550 no such user")
    result = tick(scheduled, "2026-03-09T09:00:00-07:00")
    assert result.exit_code == 0, result.output
    assert f"cannot write the new {name} beside it" in result.stderr
    assert "the edition goes to the list as it was" in result.stderr
    assert (scheduled.path / name).read_bytes() == listed
    # SendGrid itself drops its bounced address; the stand-in records what it was sent.
    assert sent_to(server) == Counter(readers)


def test_in_sandbox_mode_each_run_is_rehearsed_once(
    scheduled: Folder, server: SendGridServer
) -> None:
    scheduled.env["DIGEST_SENDGRID_SANDBOX"] = "true"
    rehearsed = tick(scheduled, "2026-03-09T09:00:00-07:00")
    assert rehearsed.exit_code == 0, rehearsed.output
    assert "Rehearsal of edition 2026-03-09" in rehearsed.stdout
    assert all(request.sandbox for request in server.requests)
    again = tick(scheduled, "2026-03-09T09:15:00-07:00")
    assert again.stdout.strip() == (
        "edition 2026-03-09 (run 2026-03-09T09:00:00-07:00) was rehearsed already: nothing to do"
    )
    scheduled.env["DIGEST_SENDGRID_SANDBOX"] = "false"
    real = tick(scheduled, "2026-03-09T09:30:00-07:00")
    assert real.exit_code == 0, real.output
    assert "Edition 2026-03-09 is complete." in real.stdout


# The loop, as a process ------------------------------------------------------------------


def loop_process(folder: Folder) -> subprocess.Popen[str]:
    env = {**os.environ, **folder.env, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "schedule"],
        cwd=folder.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def read_until(process: subprocess.Popen[str], wanted: str) -> list[str]:
    """Lines of stdout up to the first that holds ``wanted``."""
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, f"the loop ended early: {seen}"
        seen.append(line.rstrip("\n"))
        if wanted in line:
            return seen
    raise AssertionError(f"no {wanted!r} in {seen}")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_during_the_wait_ends_the_loop_at_once(
    scheduled: Folder, sig: signal.Signals
) -> None:
    scheduled.env["DIGEST_SCHEDULE_CRON"] = "0 9 1 1 *"  # next January: a long wait
    process = loop_process(scheduled)
    read_until(process, "next run ")
    started = time.monotonic()
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=30)
    assert time.monotonic() - started < 5
    assert process.returncode == 0, stderr
    assert stdout.strip().endswith(f"stopped by {sig.name}")


@pytest.mark.slow
def test_a_restart_mid_wait_never_sends_twice(scheduled: Folder, server: SendGridServer) -> None:
    scheduled.env["DIGEST_SCHEDULE_CRON"] = "* * * * *"  # due at start, and every minute
    first = loop_process(scheduled)
    said = read_until(first, "next run ")
    assert any("sending edition" in line for line in said), said
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=30)
    requests = len(server.requests)
    assert sent_to(server) == Counter(active_readers(scheduled))

    second = loop_process(scheduled)
    said = read_until(second, "next run ")
    assert any("was sent already: nothing to do" in line for line in said), said
    second.send_signal(signal.SIGTERM)
    second.communicate(timeout=30)
    assert second.returncode == 0
    assert len(server.requests) == requests


@pytest.mark.slow
def test_a_stop_during_the_sync_starts_no_edition(
    scheduled: Folder, server: SendGridServer
) -> None:
    scheduled.env["DIGEST_SCHEDULE_CRON"] = "* * * * *"  # due at start
    server.slow_next(2.0, path="/v3/suppression/unsubscribes")
    process = loop_process(scheduled)
    said = read_until(process, "sending edition")
    time.sleep(0.5)  # the sync waits for SendGrid's answer
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert stdout.strip().endswith("stopped by SIGTERM"), said + stdout.splitlines()
    assert not any(request.path == "/v3/mail/send" for request in server.requests)
    history = scheduled.run("history")
    assert "No editions" in history.stdout, history.stdout
