"""Feed files: RSS 2.0, Atom and JSON Feed read into Posts; what is not a feed is an error."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.models import Post
from digest.sources import load_posts

SITE = "https://site.example.com"


def load(data_dir: Path, name: str, site_url: str = SITE) -> list[Post]:
    return load_posts("feed", name, base_dir=data_dir, site_url=site_url, timeout=5)


# RSS 2.0


def test_rss_items_in_source_order_with_their_fields(data_dir: Path) -> None:
    first, second, third = load(data_dir, "rss.xml")
    assert first.id == "reel-post-2"
    assert first.title == "Budgeting fringes"
    assert first.url == f"{SITE}/posts/budgeting-fringes/"
    assert first.published == datetime(2026, 1, 13, 7, 30, tzinfo=UTC)
    assert first.author == "Ana Ruiz"
    assert first.tags == ("Payroll", "Budgets")
    assert first.summary == "How fringes add up."
    assert f'<a href="{SITE}/guides/fringes/" rel="noopener">the guide</a>' in first.content
    assert first.image == f"{SITE}/img/fringes-thumb.jpg"
    assert second.id == second.url == "https://reel.example.com/posts/meal-penalties/"
    assert second.image == "https://reel.example.com/img/meal.jpg"
    assert second.summary == "Breaks matter. A lot."
    assert third.published is None and third.updated is None


def test_rss_relative_links_fall_back_to_the_feeds_own_link(data_dir: Path) -> None:
    first = load(data_dir, "rss.xml", site_url="")[0]
    assert first.url == "https://reel.example.com/posts/budgeting-fringes/"
    assert 'src="https://reel.example.com/img/chart.png"' in first.content


def test_rss_without_an_updated_date_has_none(data_dir: Path) -> None:
    assert [post.updated for post in load(data_dir, "rss.xml")] == [None, None, None]


# Atom


def test_atom_entries_with_their_fields(data_dir: Path) -> None:
    first = load(data_dir, "atom.xml")[0]
    assert first.id == "tag:studio.example.com,2026:animation-ai"
    assert first.title == "Animation & AI"
    assert first.url == f"{SITE}/log/animation-ai/"
    assert first.published == datetime(2026, 1, 20, 16, 0, tzinfo=UTC)
    assert first.updated == datetime(2026, 1, 21, 9, 0, tzinfo=UTC)
    assert first.author == "Lee Park"
    assert first.tags == ("Animation", "AI")
    assert first.summary == "A plain-text summary <with brackets>."
    assert first.image == "https://studio.example.com/img/storyboard.jpg"
    assert first.image_alt == "A storyboard pinned to a wall"


def test_atom_text_titles_are_taken_literally_and_xhtml_content_is_kept(data_dir: Path) -> None:
    second = load(data_dir, "atom.xml")[1]
    assert second.title == "1 < 2 & plain text"
    assert "<strong>XHTML</strong>" in second.content
    assert second.published == second.updated == datetime(2026, 1, 10, tzinfo=UTC)


def test_media_description_does_not_overwrite_the_entrys_summary(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_text(
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        "<title>t</title><link>https://m.example.com/</link><item>"
        "<title>Real title</title><link>https://m.example.com/a/</link>"
        '<media:content url="https://m.example.com/a.jpg" medium="image">'
        "<media:title>Image title</media:title>"
        "<media:description>Two cats on a sofa</media:description></media:content>"
        "<description>The real summary.</description></item></channel></rss>",
        encoding="utf-8",
    )
    (post,) = load(tmp_path, "feed.xml")
    assert post.title == "Real title"
    assert post.summary == "The real summary."
    assert post.image_alt == "Two cats on a sofa"


# JSON Feed


def test_json_feed_items_with_their_fields(data_dir: Path) -> None:
    first, second, third = load(data_dir, "feed.json")
    assert first.id == "crew-3"
    assert first.title == "Residuals <in> 2026"
    assert first.url == f"{SITE}/bulletin/residuals/"
    assert first.published == datetime(2026, 1, 22, 14, 0, tzinfo=UTC)
    assert first.updated == datetime(2026, 1, 23, 9, 0, tzinfo=UTC)
    assert first.author == "Sam Lee"
    assert first.summary == "What changes for residuals."
    assert first.tags == ("Payroll", "Residuals")
    assert first.image == f"{SITE}/img/residuals.png"
    assert first.image_alt == "Residual checks on a desk"
    assert second.id == "42"
    assert second.url == "https://elsewhere.example.com/story"
    assert second.published is None
    assert second.author == "Old Style Author"
    assert second.content == "<p>First paragraph &amp; more.</p><p>Second paragraph.</p>"
    assert second.title.startswith("First paragraph & more.")
    assert third.published == datetime(2026, 1, 2, 10, 0, tzinfo=UTC)


def test_json_feed_with_a_byte_order_mark(tmp_path: Path, data_dir: Path) -> None:
    raw = (data_dir / "feed.json").read_bytes()
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + raw)
    assert [post.id for post in load(tmp_path, "bom.json")] == ["crew-3", "42", "crew-1"]


# Not a feed


@pytest.mark.parametrize(
    ("name", "body"),
    [
        (
            "page.html",
            b"<!doctype html><html><head><title>Blog</title></head><body>Hi</body></html>",
        ),
        ("garbage.xml", b"\x00\x01 this is \xff not a feed at all"),
        ("empty.xml", b""),
        ("list.json", b'[{"title": "not a feed"}]'),
        ("other.json", b'{"version": "1.0", "items": []}'),
        ("broken.json", b'{"version": "https://jsonfeed.org/version/1.1", "items": ['),
        ("noitems.json", b'{"version": "https://jsonfeed.org/version/1"}'),
    ],
)
def test_a_file_that_is_not_a_feed_is_an_error_naming_it(
    tmp_path: Path, name: str, body: bytes
) -> None:
    (tmp_path / name).write_bytes(body)
    with pytest.raises(SourceError) as caught:
        load(tmp_path, name)
    message = str(caught.value)
    assert name in message
    assert "not an RSS, Atom or JSON feed" in message
    assert "\n" not in message


def test_a_missing_feed_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.xml: no such feed file"):
        load(tmp_path, "nope.xml")


def test_a_folder_given_as_a_feed_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "posts").mkdir()
    with pytest.raises(SourceError, match="is a folder, not a feed file"):
        load(tmp_path, "posts")


def test_an_empty_but_valid_feed_has_no_posts(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_text(
        '<rss version="2.0"><channel><title>Quiet</title></channel></rss>', encoding="utf-8"
    )
    assert load(tmp_path, "feed.xml") == []


def test_an_unknown_source_type_is_an_error(data_dir: Path) -> None:
    with pytest.raises(SourceError, match="type 'mastodon' is unknown"):
        load_posts("mastodon", "rss.xml", base_dir=data_dir, site_url=SITE, timeout=5)


def test_dates_out_of_range_and_unparsable_urls_never_crash_a_feed(tmp_path: Path) -> None:
    items = [
        {"id": "a", "url": "https://x.example.com/a", "title": "Year one, east of UTC",
         "date_published": "0001-01-01T00:00:00+05:00"},
        {"id": "b", "url": "https://[::1/b", "title": "Unclosed IPv6 link"},
        {"id": "c", "url": "https://x.example.com/c", "title": "Unclosed IPv6 image",
         "image": "https://[::1/i.png", "content_html": '<a href="https://[::1/x">x</a>'},
    ]  # fmt: skip
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": items}
    (tmp_path / "feed.json").write_text(json.dumps(feed), encoding="utf-8")

    posts = {post.id: post for post in load(tmp_path, "feed.json")}

    assert posts["a"].published is None, "a date no clock can show counts as no date"
    assert posts["b"].url == SITE, "an unusable link falls back to the site, as a missing one"
    assert posts["c"].image == "" and "[::1" not in posts["c"].content


def test_a_feed_cut_short_is_an_error_not_a_shorter_post(tmp_path: Path, data_dir: Path) -> None:
    whole = (data_dir / "rss.xml").read_bytes()
    last_item = whole.rindex(b"</item>")
    for cut in (len(whole) // 2, last_item - 5):  # inside a tag; inside the last item's text
        (tmp_path / "cut.xml").write_bytes(whole[:cut])
        with pytest.raises(SourceError, match=r"cut\.xml: the feed stops in the middle of its"):
            load(tmp_path, "cut.xml")
    # Every item whole, only the closing tags (or a trailing comment) missing: read.
    count = len(load(data_dir, "rss.xml"))
    for ending in (b"", b"\n<!-- footer"):
        (tmp_path / "open.xml").write_bytes(whole[: last_item + len(b"</item>")] + ending)
        assert len(load(tmp_path, "open.xml")) == count


def test_a_feed_whose_items_all_lack_a_link_is_an_error_not_no_news(tmp_path: Path) -> None:
    items = "<item><title>One</title></item><item><title>Two</title></item>"
    rss = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
    )
    (tmp_path / "nolinks.xml").write_text(rss, encoding="utf-8")
    with pytest.raises(SourceError, match=r"nolinks\.xml: none of its 2 items has a link") as no:
        load(tmp_path, "nolinks.xml", site_url="")
    assert "or set newsletter.site_url for relative ones" in str(no.value)
