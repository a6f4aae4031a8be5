"""What goes into an edition (only posts that appeared since the previous one), when posts
count as seen, sandbox rehearsals, edition keys, `digest history` and the advice a
failed send gives: `digest build` and `digest send` against the local SendGrid server."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.ledger import MIGRATIONS, Ledger
from tests.commands.conftest import NOW, Folder
from tests.commands.feeds import post_url, write_feed
from tests.commands.test_send import send
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
    assert "1 posts (15 passed over: 15 seen in earlier editions)" in built.stdout
    manifest = json.loads((ready.path / "out" / "manifest.json").read_text())
    assert manifest["featured"]["url"] == post_url("fresh")
    assert manifest["teasers"] == []
    assert manifest["passed_over"] == {"seen": 15, "too_old": 0, "over_max_posts": 0}

    requests = len(server.requests)
    second = ready.run("send", "--yes", "--now", NEXT_WEEK)
    assert second.exit_code == 0, second.output
    html = html_of(server.requests[requests])
    assert "A fresh post" in html
    assert posts_in(html, old) == []
    with ledger_of(ready) as ledger:
        editions = [ledger.edition(key) for key in ("2026-11-27", "2026-12-04")]
    assert [len(edition.post_ids) for edition in editions if edition] == [10, 1]


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
    assert "1 posts (3 passed over: 3 too old (selection.max_age_days))" in built.stdout
    manifest = json.loads((folder.path / "out" / "manifest.json").read_text())
    assert manifest["passed_over"] == {"seen": 0, "too_old": 3, "over_max_posts": 0}


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
    assert "1 posts (15 passed over: 15 seen in earlier editions)" in built.stdout


def test_a_fresh_folder_has_no_ledger_until_a_send(folder: Folder) -> None:
    assert folder.run("build", "--now", NOW).exit_code == 0
    assert not Path(folder.path / ".digest" / "state.db").exists()
