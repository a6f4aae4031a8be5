"""What goes into an edition (only posts that appeared since the previous one), when posts
count as seen, sandbox rehearsals, edition keys, `digest history` and the advice a
failed send gives: `digest build` and `digest send` against the local SendGrid server."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.app import App
from digest.audience.packing import AudiencePacker
from digest.config import load_settings
from digest.ledger import MIGRATIONS, Ledger
from digest.models import Subscriber
from digest.web.workbench import Workbench, described
from tests.commands.conftest import NOW, Folder
from tests.commands.feeds import post_url, write_feed
from tests.commands.test_send import active_readers, send, write_readers
from tests.sendgrid_server import RecordedRequest, SendGridServer

NEXT_WEEK = "2026-12-04T09:00:00-08:00"
OLD = datetime(2026, 6, 1, 17, tzinfo=UTC)


def backlog(count: int) -> list[tuple[str, str, datetime]]:
    """``count`` months-old posts, ``Backlog post 01`` the oldest, a week apart."""
    return [
        (f"backlog-{n:02d}", f"Backlog post {n:02d}", OLD + timedelta(weeks=n))
        for n in range(1, count + 1)
    ]


def html_of(request: RecordedRequest) -> str:
    (html,) = [part["value"] for part in request.body["content"] if part["type"] == "text/html"]
    return html


def posts_in(html: str, posts: list[tuple[str, str, datetime]]) -> list[str]:
    return [title for _, title, _ in posts if title in html]


def ledger_of(folder: Folder) -> Ledger:
    return Ledger.open(folder.path / ".digest" / "state.db")


def history_rows(folder: Folder) -> list[dict[str, object]]:
    result = folder.run("history", "--json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


# What goes into an edition --------------------------------------------------------------


def test_the_newcomers_backlog_a_new_post_is_the_next_edition_alone(
    ready: Folder, server: SendGridServer
) -> None:
    """15 posts, the first send took 10, one new post: the next edition is that post alone,
    not the new post with five months-old ones under "More Posts"."""
    old = backlog(15)
    write_feed(ready, old)
    first = send(ready)
    assert first.exit_code == 0, first.output
    assert posts_in(html_of(server.requests[0]), old) == [t for _, t, _ in old[5:]]
    fresh = ("fresh", "A fresh post", datetime(2026, 12, 1, 17, tzinfo=UTC))
    write_feed(ready, [fresh, *old])

    built = ready.run("build", "--now", NEXT_WEEK)
    assert built.exit_code == 0, built.output
    assert "1 post (15 passed over: 15 seen in earlier editions)" in built.stdout
    manifest = json.loads((ready.path / "out" / "manifest.json").read_text())
    assert manifest["featured"]["url"] == post_url("fresh")
    assert manifest["teasers"] == []
    assert manifest["passed_over"] == {
        "seen": 15,
        "too_old": 0,
        "same_link": 0,
        "over_max_posts": 0,
    }

    requests = len(server.requests)
    second = ready.run("send", "--yes", "--now", NEXT_WEEK)
    assert second.exit_code == 0, second.output
    html = html_of(server.requests[requests])
    assert "A fresh post" in html
    assert posts_in(html, old) == []
    with ledger_of(ready) as ledger:
        editions = [ledger.edition(key) for key in ("2026-11-27", "2026-12-04")]
    assert [len(edition.post_ids) for edition in editions if edition] == [10, 1]


def test_the_preview_lists_the_posts_the_selection_passed_over_with_its_reasons(
    ready: Folder, server: SendGridServer
) -> None:
    """The preview's "passed over" is the selection's own verdict: after a first send took
    10 of 15 posts, all 15 are seen, the five it left out as much as the ten it sent."""
    old = backlog(15)
    write_feed(ready, old)
    assert send(ready).exit_code == 0
    fresh = ("fresh", "A fresh post", datetime(2026, 12, 1, 17, tzinfo=UTC))
    write_feed(ready, [fresh, *old])
    config = ready.path / "digest.toml"
    settings = load_settings(config, {})
    app = App.start(settings, {}, now=datetime.fromisoformat(NEXT_WEEK), quiet=True)
    state = described(Workbench(app, config, lambda: settings).refresh(), None)
    assert state["featured"]["title"] == "A fresh post" and state["teasers"] == []
    assert [(post["title"], post["reason"]) for post in state["passed_over"]] == [
        (title, "seen in an earlier edition") for _, title, _ in old
    ]


def test_the_first_edition_takes_the_newest_and_the_rest_are_never_sent(
    ready: Folder, server: SendGridServer
) -> None:
    old = backlog(15)
    write_feed(ready, old)
    built = ready.run("build", "--now", NOW)
    assert "10 posts (5 passed over: 5 over selection.max_posts)" in built.stdout
    assert send(ready).exit_code == 0
    nothing = ready.run("send", "--yes", "--now", NEXT_WEEK)
    assert nothing.exit_code == 0
    assert nothing.stdout.strip() == (
        "no new posts since the last edition: nothing to send for 2026-12-04 "
        "(15 passed over: 15 seen in earlier editions)"
    )


def test_max_age_days_still_passes_over_old_posts_and_says_how_many(folder: Folder) -> None:
    write_feed(folder, [*backlog(3), ("new", "New post", datetime(2026, 11, 25, tzinfo=UTC))])
    folder.env["DIGEST_SELECTION_MAX_AGE_DAYS"] = "30"
    built = folder.run("build", "--now", NOW)
    assert built.exit_code == 0, built.output
    assert "1 post (3 passed over: 3 too old (selection.max_age_days))" in built.stdout
    manifest = json.loads((folder.path / "out" / "manifest.json").read_text())
    assert manifest["passed_over"] == {"seen": 0, "too_old": 3, "same_link": 0, "over_max_posts": 0}


def test_only_a_send_that_starts_marks_posts_seen(ready: Folder, server: SendGridServer) -> None:
    """Not a build, a dry run, a test, or a send that refuses to start."""
    old = backlog(12)
    write_feed(ready, old)
    assert ready.run("build", "--now", NOW).exit_code == 0
    assert ready.run("send", "--dry-run", "--now", NOW).exit_code == 0
    assert ready.run("send", "--to", "editor@example.com", "--now", NOW).exit_code == 0
    original = (ready.path / "subscribers.csv").read_text()
    (ready.path / "subscribers.csv").write_text("email,name,status\ngone@example.com,,bounced\n")
    refused = send(ready)
    assert refused.exit_code == 1 and "no active subscribers" in refused.stderr
    with ledger_of(ready) as ledger:
        assert ledger.seen_post_ids() == set()
    (ready.path / "subscribers.csv").write_text(original)

    assert send(ready).exit_code == 0
    with ledger_of(ready) as ledger:
        assert {post_url(slug) for slug, _, _ in old} <= ledger.seen_post_ids()


def test_a_ledger_from_before_seen_posts_takes_only_posts_newer_than_its_last_edition(
    folder: Folder,
) -> None:
    """A folder that sent 10 of 15 posts with an older digest: after the upgrade, the five
    older posts it never sent do not flood the next edition."""
    old = backlog(15)
    started = OLD + timedelta(weeks=16)
    path = folder.path / ".digest" / "state.db"
    path.parent.mkdir()
    raw = sqlite3.connect(path, isolation_level=None)
    for number, migration in enumerate(MIGRATIONS[:4]):
        if isinstance(migration, str):
            raw.executescript(f"BEGIN; {migration}; PRAGMA user_version = {number + 1}; COMMIT;")
        else:
            migration(raw)
            raw.execute(f"PRAGMA user_version = {number + 1}")
    raw.execute(
        "INSERT INTO editions (key, status, subject, preheader, html, text, backend, started_at,"
        " finished_at) VALUES ('2026-09-21', 'sent', 's', 'p', 'h', 't', 'sendgrid', ?, ?)",
        (started.isoformat(), started.isoformat()),
    )
    raw.executemany(
        "INSERT INTO edition_posts (edition, position, post_id) VALUES ('2026-09-21', ?, ?)",
        [(n, post_url(slug)) for n, (slug, _, _) in enumerate(old[5:])],
    )
    raw.close()
    fresh = ("fresh", "A fresh post", datetime(2026, 11, 20, tzinfo=UTC))
    write_feed(folder, [fresh, *old])
    built = folder.run("build", "--now", NOW)
    assert built.exit_code == 0, built.output
    assert "1 post (15 passed over: 15 seen in earlier editions)" in built.stdout


# Rehearsals --------------------------------------------------------------------------------


def test_a_sandbox_rehearsal_never_spends_the_edition(
    ready: Folder, server: SendGridServer
) -> None:
    readers = active_readers(ready)
    ready.env["DIGEST_SENDGRID_SANDBOX"] = "true"
    rehearsal = send(ready)
    assert rehearsal.exit_code == 0, rehearsal.output
    assert "Rehearsal of edition 2026-11-27 in SendGrid's sandbox" in rehearsal.stdout
    assert "set sendgrid.sandbox = false and run `digest send --edition 2026-11-27`" in (
        rehearsal.stdout
    )
    assert all(request.sandbox for request in server.requests)
    assert sorted(server.accepted_recipients()) == sorted(readers)
    rehearsed = len(server.requests)

    ready.env["DIGEST_SENDGRID_SANDBOX"] = "false"
    real = send(ready)
    assert real.exit_code == 0, real.output
    assert "Edition 2026-11-27 is complete." in real.stdout
    sent = server.requests[rehearsed:]
    assert sent and not any(request.sandbox for request in sent)
    assert sorted(email for request in sent for email in request.recipients) == sorted(readers)
    assert sent[0].body["subject"] == server.requests[0].body["subject"], "the same posts"

    rows = history_rows(ready)
    assert [(row["edition"], row["kind"], row["status"]) for row in rows] == [
        ("2026-11-27", "edition", "sent"),
        ("2026-11-27", "rehearsal", "rehearsed"),
    ]
    ready.env["DIGEST_SENDGRID_SANDBOX"] = "true"
    again = send(ready)
    assert again.exit_code == 0
    assert "was sent already" in again.stdout and "nothing to rehearse" in again.stdout
    assert len(server.requests) == rehearsed + len(sent)


def test_a_stopped_rehearsal_is_never_resumed_and_never_holds_up_the_real_send(
    ready: Folder, server: SendGridServer
) -> None:
    emails = write_readers(ready, 2500)
    ready.env.update(DIGEST_SENDGRID_CONCURRENCY="1", DIGEST_SENDGRID_SANDBOX="true")
    server.slow_next(0)
    server.refuse_with(400, "The content value must be a string at least one character long.")
    stopped = send(ready)
    assert stopped.exit_code == 1
    assert "the rehearsal of edition 2026-11-27 did not finish" in stopped.stderr
    assert "a rehearsal is never resumed" in stopped.stderr
    ready.env["DIGEST_SENDGRID_SANDBOX"] = "false"
    before = len(server.requests)
    real = send(ready)
    assert real.exit_code == 0, real.output
    assert "Resuming" not in real.stdout
    sent = server.requests[before:]
    assert Counter(email for request in sent for email in request.recipients) == Counter(emails)
    statuses = {(row["kind"], row["status"]) for row in history_rows(ready)}
    assert statuses == {("edition", "sent"), ("rehearsal", "stopped")}


def test_a_half_sent_edition_is_never_finished_in_sandbox_mode(
    ready: Folder, server: SendGridServer
) -> None:
    write_readers(ready, 2500)
    ready.env["DIGEST_SENDGRID_CONCURRENCY"] = "1"
    server.slow_next(0)
    server.refuse_with(400, "The from address does not match a verified Sender Identity.")
    assert send(ready).exit_code == 1
    ready.env["DIGEST_SENDGRID_SANDBOX"] = "true"
    before = len(server.requests)
    refused = send(ready)
    assert refused.exit_code == 1
    assert "edition 2026-11-27 is half-sent for real, and sendgrid.sandbox is true" in (
        refused.stderr
    )
    assert "set sendgrid.sandbox = false, then finish it with `digest send --edition" in (
        refused.stderr
    )
    assert len(server.requests) == before


def test_sandbox_with_a_backend_that_has_none_is_refused(ready: Folder) -> None:
    ready.env.update(DIGEST_SENDGRID_SANDBOX="true", DIGEST_DELIVERY_BACKEND="outbox")
    refused = send(ready)
    assert refused.exit_code == 1
    assert "sendgrid.sandbox is true, but delivery.backend is outbox" in refused.stderr
    assert not (ready.path / "outbox").exists()


# Edition keys ------------------------------------------------------------------------------


def test_an_edition_that_is_not_a_real_date_is_refused(
    ready: Folder, server: SendGridServer
) -> None:
    for key, usage in (("2026-13-45", True), ("2026-02-29", True), ("special", False)):
        for command in (["--yes"], ["--dry-run"], ["--to", "editor@example.com"]):
            result = ready.run("send", "--edition", key, "--now", NOW, *command)
            assert result.exit_code == (2 if usage else 1), result.output
            assert "--edition" in result.stderr
            if usage:
                assert f"'{key}' is not a real date (YYYY-MM-DD)" in result.stderr
            else:
                assert "'special' is not a date written YYYY-MM-DD" in result.stderr
    assert server.requests == []
    assert not (ready.path / "outbox").exists()


def test_an_edition_the_ledger_holds_under_an_older_key_is_still_finished(
    ready: Folder, server: SendGridServer
) -> None:
    readers = [Subscriber(f"legacy{n}@example.com", f"Legacy {n}") for n in range(3)]
    with ledger_of(ready) as ledger:
        ledger.start_edition(
            "2026-03-09-b",
            subject="A special edition",
            preheader="",
            html="<p>Hello %%name%%</p>",
            text="Hello %%name%%",
            post_ids=[],
            audience=AudiencePacker(1000).batches(readers),
            backend="sendgrid",
            started_at=datetime(2026, 3, 9, 17, tzinfo=UTC),
        )
    result = ready.run("send", "--yes", "--edition", "2026-03-09-b", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert sorted(server.accepted_recipients()) == [r.email for r in readers]


# History -----------------------------------------------------------------------------------


def test_history_shows_local_times_and_gives_json_with_iso_times(
    ready: Folder, server: SendGridServer
) -> None:
    assert ready.run("history", "--json").stdout.strip() == "[]"
    assert send(ready).exit_code == 0
    test = ready.run(
        "send", "--to", "editor@example.com", "--edition", "2026-11-27", "--now", NEXT_WEEK
    )
    assert test.exit_code == 0 and "Sent a test" in test.stdout
    table = ready.run("history")
    assert table.exit_code == 0
    header, *rows = table.stdout.splitlines()
    assert header.split("\t")[:4] == ["edition", "kind", "when", "subject"]
    assert [row.split("\t")[2] for row in rows] == ["2026-12-04 09:00 PST", "2026-11-27 09:00 PST"]
    entries = history_rows(ready)
    assert [(e["kind"], e["when"]) for e in entries] == [
        ("test", "2026-12-04T09:00:00-08:00"),
        ("edition", "2026-11-27T09:00:00-08:00"),
    ]
    edition = entries[1]
    readers = len(active_readers(ready))
    assert (edition["recipients"], edition["accepted"], edition["failed"]) == (readers, readers, 0)
    assert (edition["uncertain"], edition["pending"], edition["status"]) == (0, 0, "sent")
    assert edition["finished"] == "2026-11-27T09:00:00-08:00"
    assert ready.run("history", "--json").stdout.isascii()


# Advice ------------------------------------------------------------------------------------


def test_a_failed_test_send_names_the_test_again_never_a_send_to_the_list(
    ready: Folder, server: SendGridServer
) -> None:
    server.refuse_with(403, "The from address does not match a verified Sender Identity.")
    result = ready.run("send", "--to", "editor@example.com", "--now", NOW)
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.endswith(
        "then run `digest send --to editor@example.com` to try the test again (the list got"
        " nothing)"
    )
    assert "resume" not in line and "`digest send`" not in line


def test_a_test_send_refused_before_it_starts_names_only_its_fix(ready: Folder) -> None:
    ready.env["SENDGRID_API_KEY"] = ""
    result = ready.run("send", "--to", "editor@example.com", "--now", NOW)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: SENDGRID_API_KEY is not set; export SENDGRID_API_KEY with a key that has"
        " Mail Send permission"
    )


def test_a_refused_send_names_the_command_that_resumes_that_edition(
    ready: Folder, server: SendGridServer
) -> None:
    server.refuse_with(400, "The from address does not match a verified Sender Identity.")
    result = send(ready)
    assert result.exit_code == 1
    assert result.stderr.strip().endswith(
        "fix what the provider names above, then run `digest send --edition 2026-11-27` to resume"
    )


# The dry run predicts the send ---------------------------------------------------------


def test_a_dry_run_after_the_edition_went_out_says_so_and_writes_nothing(
    ready: Folder, server: SendGridServer
) -> None:
    assert send(ready).exit_code == 0
    result = ready.run("send", "--dry-run", "--now", NOW)
    assert result.exit_code == 0
    assert "Edition 2026-11-27 was sent already" in result.stdout
    assert "`digest send` would send nothing, so the dry run wrote nothing" in result.stdout
    assert not (ready.path / "outbox").exists()


def test_a_dry_run_of_a_half_sent_edition_writes_what_the_resume_sends(
    ready: Folder, server: SendGridServer
) -> None:
    emails = write_readers(ready, 2500)
    ready.env["DIGEST_SENDGRID_CONCURRENCY"] = "1"
    server.slow_next(0)
    server.refuse_with(400, "The from address does not match a verified Sender Identity.")
    assert send(ready).exit_code == 1
    result = ready.run("send", "--dry-run", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "half-sent: `digest send --edition 2026-11-27` resumes it" in result.stdout
    written = sorted((ready.path / "outbox" / "2026-11-27").glob("*.eml"))
    assert len(written) == 1500
    resumed = send(ready)
    assert resumed.exit_code == 0
    assert Counter(server.accepted_recipients()) == Counter(emails)


def test_a_dry_run_warns_of_what_the_send_would_refuse(folder: Folder) -> None:
    folder.env["DIGEST_NEWSLETTER_FROM_EMAIL"] = "news@localhost"
    result = folder.run("send", "--dry-run", "--now", NOW)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "would refuse" in line]
    assert [line.split(": ", 2)[1] for line in warnings] == [
        "`digest send` would refuse",
    ] * 3
    assert "newsletter.from_email 'news@localhost' is not a valid address" in warnings[0]
    assert "SENDGRID_API_KEY is not set" in warnings[1]
    assert "DIGEST_UNSUBSCRIBE_SECRET is not set" in warnings[2]
    assert len(list((folder.path / "outbox").rglob("*.eml"))) == len(active_readers(folder))


def test_a_dry_run_says_when_the_send_would_be_a_rehearsal(ready: Folder) -> None:
    ready.env["DIGEST_SENDGRID_SANDBOX"] = "true"
    result = ready.run("send", "--dry-run", "--now", NOW)
    assert result.exit_code == 0
    assert "sendgrid.sandbox is true: `digest send` would rehearse the edition" in result.stderr


def test_a_dry_run_says_an_earlier_half_sent_edition_would_block_the_send(
    ready: Folder, server: SendGridServer
) -> None:
    write_readers(ready, 2500)
    ready.env["DIGEST_SENDGRID_CONCURRENCY"] = "1"
    server.slow_next(0)
    server.refuse_with(400, "The from address does not match a verified Sender Identity.")
    assert send(ready).exit_code == 1
    write_feed(ready, [("fresh", "A fresh post", datetime(2026, 12, 1, tzinfo=UTC))])
    result = ready.run("send", "--dry-run", "--now", NEXT_WEEK)
    assert result.exit_code == 0, result.output
    assert (
        "`digest send` would refuse: edition 2026-11-27 is not finished; finish it with"
        " `digest send --edition 2026-11-27`"
    ) in result.stderr


def test_a_fresh_folder_has_no_ledger_until_a_send(folder: Folder) -> None:
    assert folder.run("history", "--json").stdout.strip() == "[]"
    assert folder.run("build", "--now", NOW).exit_code == 0
    assert not Path(folder.path / ".digest" / "state.db").exists()
