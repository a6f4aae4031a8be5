"""Titles that are text about markup (`Use <b> for bold`, `AT&T <3 R&D`) reach every output
as written: the subject, the HTML (escaped: shown, never live), the text part, the
manifest and the history."""

from __future__ import annotations

import email
import json
from email import policy
from html.parser import HTMLParser
from pathlib import Path

from tests.commands.conftest import NOW, Folder
from tests.commands.test_build_sources import use_source

FEED = Path(__file__).resolve().parents[1] / "sources" / "data" / "titles" / "rss.xml"
# What a reader must see, newest (the featured post) first.
TITLES = [
    "AT&T <3 R&D",
    "Use <b> for bold",
    "5 < 6 && 7 > 3",
    "Close <em> with </em>, not </i>",
    '<script>alert("title")</script> is text & stays text',
    "Ben & Jerry\u2019s <new> flavour",
    "Fresh & new",
]


class Headings(HTMLParser):
    """The text of each h1 and h3 as a browser shows it, and every tag the HTML holds."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.tags: set[str] = set()
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag in ("h1", "h3"):
            self._inside = True
            self.texts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h3"):
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.texts[-1] += data


def test_titles_show_as_written_in_every_output(folder: Folder) -> None:
    use_source(folder, FEED)

    result = folder.run("build", "--now", NOW)

    assert result.exit_code == 0, result.output
    out = folder.path / "out"
    headings = Headings()
    headings.feed((out / "digest.html").read_text(encoding="utf-8"))
    assert [" ".join(text.split()) for text in headings.texts] == TITLES
    assert not headings.tags & {"b", "em", "i", "new", "script"}, "no title's markup is live"
    text_lines = (out / "digest.txt").read_text(encoding="utf-8").splitlines()
    assert all(title in text_lines for title in TITLES)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [manifest["featured"]["title"], *(t["title"] for t in manifest["teasers"])] == TITLES
    assert manifest["subject"] == TITLES[0]
    message = email.message_from_bytes((out / "digest.eml").read_bytes(), policy=policy.default)
    assert message["Subject"] == TITLES[0]


def test_a_title_as_the_subject_shows_as_written_in_the_history(ready: Folder) -> None:
    use_source(ready, FEED)
    ready.env["DIGEST_NEWSLETTER_SUBJECT"] = "{{ teasers[0].title }}"

    sent = ready.run("send", "--yes", "--now", NOW)
    history = ready.run("history")

    assert sent.exit_code == 0, sent.output
    assert history.exit_code == 0, history.output
    assert "\tUse <b> for bold\t" in history.output
