"""A post's title is text: `<`, `>` and `&` show as written, in every kind of source, unless
the feed says the title is HTML (Atom's type="html" or "xhtml", or an RSS title escaped twice).
The fixtures are in data/titles/."""

from __future__ import annotations

from pathlib import Path

from digest.sources import load_posts

TITLES = Path(__file__).parent / "data" / "titles"
SITE = "https://titles.example.com"


def titles(kind: str, location: str) -> list[str]:
    posts = load_posts(kind, location, base_dir=TITLES, site_url=SITE, timeout=5)
    return [post.title for post in posts]


def test_rss_titles_are_text_unless_escaped_twice() -> None:
    assert titles("feed", "rss.xml") == [
        "AT&T <3 R&D",
        "Use <b> for bold",
        "5 < 6 && 7 > 3",
        # feedparser takes a closing tag for HTML; the RSS Advisory Board says it is text.
        "Close <em> with </em>, not </i>",
        '<script>alert("title")</script> is text & stays text',
        # A character reference left after the XML is read: written as HTML.
        "Ben & Jerry\u2019s <new> flavour",
        "Fresh & new",
    ]


def test_atom_titles_are_what_their_type_says() -> None:
    assert titles("feed", "atom.xml") == [
        "<em> is the emphasis tag",  # type="html" holding &lt;em&gt;
        "Atom & HTML",
        "Use <b> for bold &amp; more",  # type="text": as written
        "AT&T <3 R&D",  # no type: text
        "X & Y",  # type="xhtml"
    ]


def test_json_feed_titles_are_plain_text() -> None:
    assert titles("feed", "feed.json") == [
        "AT&T <3 R&D",
        "Use <b> for bold",
        "5 < 6 && 7 > 3",
        "&lt;em&gt; &amp; friends, as written",
    ]


def test_markdown_front_matter_titles_are_plain_text() -> None:
    assert sorted(titles("markdown", "markdown")) == [
        "&amp; is how HTML writes &",
        "AT&T <3 R&D",
        "Use <b> for bold",
    ]
