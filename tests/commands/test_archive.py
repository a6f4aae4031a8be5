"""`digest archive`: the web edition of what was sent, with no reader's data in it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from digest.audience.tokens import UnsubscribeTokens
from digest.ledger import Ledger
from digest.web.archive import UNSUBSCRIBE_NOTE
from tests.commands.conftest import NOW, SECRET, Folder
from tests.sendgrid_server import SendGridServer

KEY = "2026-11-27"
ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "https://ftvconsulting.example.com/newsletter/"


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"] or "")
        if tag == "img" and values.get("src"):
            self.srcs.append(values["src"] or "")


def links(document: str) -> Links:
    parser = Links()
    parser.feed(document)
    return parser


def archived(ready: Folder, *args: str) -> Path:
    assert ready.run("send", "--yes", "--now", NOW).exit_code == 0
    result = ready.run("archive", *args)
    assert result.exit_code == 0, result.output
    assert "Archived 1 edition and 10 images" in result.stdout
    return ready.path / "archive"


def subscribers(folder: Folder) -> list[tuple[str, str]]:
    rows = (folder.path / "subscribers.csv").read_text().splitlines()[1:]
    return [(row.split(",")[0], row.split(",")[1]) for row in rows]


def test_an_archive_page_carries_no_readers_address_name_or_token(
    ready: Folder, server: SendGridServer
) -> None:
    out = archived(ready)
    page = (out / KEY / "index.html").read_text()
    sent = server.requests[0].body
    personalizations = sent["personalizations"]
    assert len(personalizations) == 4
    for email, name in subscribers(ready):
        assert email not in page and name not in page, email
        assert UnsubscribeTokens(SECRET).make(email) not in page
    for person in personalizations:
        for value in person["substitutions"].values():
            assert value not in page
    assert "%%" not in page and "<%" not in page
    # Where the stored email names its reader, the page has a nameless reader's "there".
    with Ledger.open(ready.path / ".digest" / "state.db") as ledger:
        stored = ledger.edition(KEY)
    assert stored is not None
    at = stored.html.index(f"%%{stored.token_key}.first_name.html%%")
    assert stored.html[at - 40 : at] + "there" in page
    assert UNSUBSCRIBE_NOTE in page
    hrefs = links(page).hrefs
    assert not [href for href in hrefs if "unsubscribe" in href]
    assert "View in browser" not in page and f"{BASE}{KEY}/" not in hrefs
    # The rest is the email as sent: its subject, posts and links.
    assert sent["subject"] in page
    assert "https://ftvconsulting.example.com/blog/tag-amptp" in " ".join(hrefs)


def test_the_archive_links_its_own_copies_of_the_pictures(
    ready: Folder, server: SendGridServer
) -> None:
    out = archived(ready)
    sources = links((out / KEY / "index.html").read_text()).srcs
    assert len(sources) == 10
    for source in sources:
        assert source.startswith("../images/")
        copy = out / KEY / source
        assert copy.read_bytes() == (ready.path / "images" / copy.name).read_bytes()


def test_the_index_and_the_atom_feed_list_the_editions(
    ready: Folder, server: SendGridServer
) -> None:
    out = archived(ready)
    subject = server.requests[0].body["subject"]
    index = (out / "index.html").read_text()
    assert links(index).hrefs == ["feed.xml", f"{KEY}/"]
    assert subject.replace("&", "&amp;") in index
    root = ET.fromstring((out / "feed.xml").read_bytes())
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}id") == BASE
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    (entry,) = root.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == subject
    assert entry.findtext(f"{ATOM}id") == f"{BASE}{KEY}/"
    assert entry.find(f"{ATOM}link").get("href") == f"{BASE}{KEY}/"  # type: ignore[union-attr]
    assert re.fullmatch(r"2026-11-27T17:00:00Z", entry.findtext(f"{ATOM}updated") or "")


def test_html_pages_follow_a_view_online_url_ending_in_html(
    ready: Folder, server: SendGridServer
) -> None:
    ready.edit_config(lambda text: text.replace("newsletter/{edition}/", "news/{edition}.html"))
    out = archived(ready, "--out", "site")
    assert out.name == "archive" and not out.exists()
    site = ready.path / "site"
    page = (site / f"{KEY}.html").read_text()
    assert "../" not in page and 'src="images/' in page
    assert links((site / "index.html").read_text()).hrefs == ["feed.xml", f"{KEY}.html"]


def test_without_a_view_online_url_the_archive_is_one_line(folder: Folder) -> None:
    folder.edit_config(lambda text: re.sub(r"view_online_url = .*\n", "", text))
    result = folder.run("archive")
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: newsletter.view_online_url is not set")


def test_a_view_online_url_a_static_host_cannot_serve_is_one_line(folder: Folder) -> None:
    folder.edit_config(
        lambda text: text.replace("newsletter/{edition}/", "archive?edition={edition}")
    )
    result = folder.run("archive")
    assert result.exit_code == 1
    assert "does not name a page per edition that a static host can serve" in result.stderr
    assert "Traceback" not in result.stderr


def test_nothing_sent_yet_is_said_and_writes_nothing(folder: Folder) -> None:
    result = folder.run("archive")
    assert result.exit_code == 0
    assert "No editions sent from this folder yet" in result.stdout
    assert not (folder.path / "archive").exists()
