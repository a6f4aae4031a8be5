"""Feed text that used to break the build: control characters, noncharacters, halves of
characters and references to no character, in every field of every kind of source."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.models import Post
from digest.sources import load_posts

SITE = "https://controls.example.com"
KEPT = "\t\n\r"


def load(kind: str, path: Path) -> list[Post]:
    return load_posts(kind, path.name, base_dir=path.parent, site_url=SITE, timeout=5)


def unwanted(text: str) -> list[str]:
    """The characters no post field may carry: controls (but tab and line breaks),
    noncharacters and surrogate halves."""
    return [
        char
        for char in text
        if (ord(char) < 0x20 and char not in KEPT)
        or 0x7F <= ord(char) <= 0x9F
        or 0xFDD0 <= ord(char) <= 0xFDEF
        or ord(char) & 0xFFFE == 0xFFFE
        or 0xD800 <= ord(char) <= 0xDFFF
    ]


def texts(post: Post) -> dict[str, str]:
    """Every text field of a post, tags joined."""
    fields = asdict(post)
    fields["tags"] = " ".join(post.tags)
    return {name: value for name, value in fields.items() if isinstance(value, str)}


@pytest.fixture
def controls(data_dir: Path) -> Path:
    return data_dir / "controls"


@pytest.mark.parametrize(
    ("kind", "name"),
    [("feed", "controls.xml"), ("feed", "controls.json"), ("markdown", ".")],
    ids=["rss", "json-feed", "markdown"],
)
def test_no_post_field_keeps_a_control_character(controls: Path, kind: str, name: str) -> None:
    posts = load(kind, (controls / name).resolve())
    assert posts
    for post in posts:
        for field, text in texts(post).items():
            assert not unwanted(text), (post.url, field, text)


def test_the_text_around_control_characters_is_kept(controls: Path) -> None:
    post, no_character = load("feed", controls / "controls.xml")
    # feedparser reads a C1 control as the Windows-1252 character it stands for, as browsers do.
    assert post.title == "Red[31m alert[2J and bell and nonchar\u203aacters"
    assert post.url == f"{SITE}/posts/[31mred/"
    assert post.id == "controls-1"
    assert post.author == "Ann[1m Author"
    assert post.tags == ("Tag[0m one",)
    assert post.summary == "Summary [2J with bold text\u2026."
    assert post.content.startswith("<p>Body [31mred[0m, bell, null\ufffd and end.</p>")
    assert f'<a href="{SITE}/[1mlink/" rel="noopener">a link</a>' in post.content
    assert post.image == f"{SITE}/media.jpg"
    assert "\ufffd" in no_character.title and "none" in no_character.title


def test_references_to_no_character_become_the_replacement_character(controls: Path) -> None:
    """feedparser's lenient parser used to crash on them (UnicodeEncodeError, ValueError,
    OverflowError): one broken item took the whole feed down with a traceback."""
    _, post = load("feed", controls / "controls.xml")
    assert post.title == "Half \ufffd and \ufffd a character, \ufffd none \ufffd at all"
    assert post.id == "controls-2\ufffd"


def test_markdown_front_matter_escapes_and_body_are_cleaned(controls: Path) -> None:
    (post,) = load("markdown", controls)
    assert post.title == "Markdown[31m title"
    assert post.author == "Mark Down"
    # CommonMark reads a reference to a control character as U+FFFD itself.
    assert post.content == (
        "<p>Markdown body ESC[31m, \ufffd[0m, \ufffd and \ufffdend.</p>\n<p>Raw HTML block </p>"
    )


def test_a_lone_surrogate_in_a_json_feed_is_one_line_naming_the_feed(controls: Path) -> None:
    with pytest.raises(SourceError) as caught:
        load("feed", controls / "surrogate.json")
    message = str(caught.value)
    assert message.startswith(f"{controls / 'surrogate.json'}: a text in the feed holds half")
    assert "\n" not in message


def test_a_json_feed_nested_beyond_any_reader_is_one_line(tmp_path: Path) -> None:
    deep = b'{"version": "https://jsonfeed.org/version/1.1", "items": [' + b"[" * 100_000
    (tmp_path / "deep.json").write_bytes(deep)
    with pytest.raises(SourceError, match=r"deep\.json: .*nested too deeply"):
        load("feed", tmp_path / "deep.json")


def test_a_reference_to_no_character_in_a_utf16_feed_is_one_line(tmp_path: Path) -> None:
    """The references of a UTF-16 feed are not rewritten before feedparser reads them."""
    feed = (
        '<?xml version="1.0" encoding="UTF-16"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>a &#55296; b</title><link>https://x.example.com/a</link></item>"
        "</channel></rss>"
    )
    (tmp_path / "utf16.xml").write_bytes(feed.encode("utf-16"))
    with pytest.raises(SourceError) as caught:
        load("feed", tmp_path / "utf16.xml")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'utf16.xml'}: feedparser cannot read the feed (")
    assert "\n" not in message
