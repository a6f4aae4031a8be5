"""`digest build` around sent editions: `--edition KEY` re-renders one exactly as stored, and
after an edition went out `build` shows the next one as it stands, or says nothing is new
and still lays out the last edition's posts."""

from __future__ import annotations

import json

from digest.audience.personalize import PREVIEW_TOKEN
from digest.ledger import Ledger
from tests.commands.conftest import NOW, Folder
from tests.sendgrid_server import SendGridServer

NEXT_MONDAY = "2026-11-30"  # the schedule's next run after NOW (Fri 2026-11-27, 09:00 PST)
NEW_POST = """    <item>
      <title>A post written after the edition went out</title>
      <link>https://ftvconsulting.example.com/blog/after-the-edition/</link>
      <guid isPermaLink="true">https://ftvconsulting.example.com/blog/after-the-edition/</guid>
      <pubDate>Fri, 27 Nov 2026 12:00:00 GMT</pubDate>
      <description>Written after the send.</description>
    </item>
"""


def sent_edition(ready: Folder) -> str:
    """Send today's edition of the example to the stand-in; its key."""
    result = ready.run("send", "--yes", "--now", NOW)
    assert result.exit_code == 0, result.output
    return "2026-11-27"


def built(folder: Folder, *args: str) -> tuple[dict[str, object], str, str]:
    result = folder.run("build", "--now", NOW, *args)
    assert result.exit_code == 0, result.output
    out = folder.path / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    return manifest, (out / "digest.html").read_text(), result.stdout


def test_edition_rerenders_a_sent_edition_exactly_as_stored(
    ready: Folder, server: SendGridServer
) -> None:
    key = sent_edition(ready)
    with Ledger.open(ready.path / ".digest" / "state.db") as ledger:
        stored = ledger.edition(key)
    assert stored is not None
    # Templates changed after the send change nothing in the stored edition's build.
    footer = ready.path / "templates" / "partials" / "footer.mjml.j2"
    footer.write_text(footer.read_text().replace("Unsubscribe", "Leave the list"))
    manifest, html, said = built(ready, "--edition", key)
    assert manifest["edition"] == key and manifest["stored"] is True
    assert manifest["subject"] == stored.subject
    assert manifest["posts"] == list(stored.post_ids)
    assert manifest["rendered_for"] == "ada@example.com"
    assert "Leave the list" not in html and "Unsubscribe" in html
    # The stored HTML with the first reader's values in place of its tokens, and nothing else.
    token = f"%%{stored.token_key}"
    link = f"https://ftvconsulting.example.com/unsubscribe?token={PREVIEW_TOKEN}"
    expected = stored.html.replace(f"{token}.first_name.html%%", "Ada")
    # The unsubscribe URL's template has nothing HTML escapes: its plain token serves the HTML.
    assert html == expected.replace(f"{token}.unsubscribe_url%%", link)
    sent_html = server.requests[0].body["content"][1]["value"]
    assert sent_html == stored.html
    assert f"Built edition {key} as sent" in said


def test_edition_never_sent_is_one_line_naming_it(folder: Folder) -> None:
    result = folder.run("build", "--edition", "2020-01-06")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: edition 2020-01-06 was never sent from this folder; "
        "`digest history` lists the editions sent from this folder"
    )
    assert not (folder.path / "out").exists()


def test_after_a_send_nothing_new_still_lays_out_the_last_editions_posts(
    ready: Folder, server: SendGridServer
) -> None:
    key = sent_edition(ready)
    manifest, _, said = built(ready)
    assert manifest["edition"] == NEXT_MONDAY
    assert f"Nothing new yet for edition {NEXT_MONDAY}" in said
    assert f"edition {key}'s posts" in str(manifest["nothing_new"])
    # Every post of the feed was seen by the edition sent: the selection passed them over.
    posts = (ready.path / "feed.xml").read_text().count("<item>")
    assert f"({posts} passed over: {posts} seen in earlier editions)" in said
    assert manifest["passed_over"] == {
        "seen": posts,
        "too_old": 0,
        "same_link": 0,
        "over_max_posts": 0,
    }
    featured = manifest["featured"]
    assert isinstance(featured, dict) and featured["title"].startswith("TAG and AMPTP")
    assert len(manifest["teasers"]) == 9  # type: ignore[arg-type]
    # A template change between editions shows at once.
    header = ready.path / "templates" / "partials" / "header.mjml.j2"
    header.write_text(header.read_text().replace("{{ newsletter.name }}</a>", "Changed</a>"))
    assert ">Changed</a>" in built(ready)[1]


def test_after_a_send_new_posts_make_the_next_edition(
    ready: Folder, server: SendGridServer
) -> None:
    sent_edition(ready)
    feed = ready.path / "feed.xml"
    text = feed.read_text()
    feed.write_text(text.replace("    <item>", NEW_POST + "    <item>", 1))
    manifest, _, said = built(ready)
    assert manifest["edition"] == NEXT_MONDAY
    assert manifest["nothing_new"] == ""
    assert manifest["featured"]["title"] == "A post written after the edition went out"  # type: ignore[index]
    assert manifest["teasers"] == []
    assert "Nothing new" not in said
