"""A hostile feed: whatever real feeds carry, the posts come out safe, plain and absolute."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.models import Post
from digest.sources import load_posts

SITE = "https://news.example.com"
FEED_SITE = "https://hostile.example.com"
DANGEROUS = re.compile(
    r"<\s*/?\s*(script|style|iframe|form|input|button|select|textarea|object|embed|svg|math|"
    r"video|audio|meta|link|base|noscript|body)\b"
    r"|\son\w+\s*="
    r"|javascript:|vbscript:|data:"
    r'|href=""|\sstyle=|\sclass=|\sid=',
    re.IGNORECASE,
)
URL_ATTRIBUTE = re.compile(r'\s(?:href|src)="([^"]*)"')


def load(path: Path, site_url: str) -> list[Post]:
    return load_posts("feed", path.name, base_dir=path.parent, site_url=site_url, timeout=5)


@pytest.fixture(scope="module")
def post_list(hostile_feed: Path) -> list[Post]:
    return load(hostile_feed, SITE)


@pytest.fixture(scope="module")
def posts(post_list: list[Post]) -> dict[str, Post]:
    """The hostile feed's posts by url path (the part after the host)."""
    return {post.url.split(".example.com", 1)[1]: post for post in post_list}


def test_forty_odd_items_load_and_only_the_unlinkable_one_is_skipped(
    post_list: list[Post],
) -> None:
    assert len(post_list) == 45
    titles = [post.title for post in post_list]
    assert "Neither link nor guid" not in titles
    assert "Guid only" in titles


def test_no_content_carries_anything_dangerous(post_list: list[Post]) -> None:
    for post in post_list:
        found = DANGEROUS.search(post.content)
        assert found is None, (post.url, found and found.group(0))


def test_every_link_and_image_in_content_is_absolute_http_or_mailto(post_list: list[Post]) -> None:
    for post in post_list:
        for url in URL_ATTRIBUTE.findall(post.content):
            assert url.startswith(("https://", "http://", "mailto:")), (post.url, url)
        for field in (post.url, post.image):
            assert field == "" or field.startswith("https://"), field


def test_dropped_content_is_gone_with_its_text(posts: dict[str, Post]) -> None:
    assert posts["/posts/script/"].content == "<p>Before after.</p>"
    assert "fallback text" not in posts["/posts/iframes/"].content
    assert "object text" not in posts["/posts/iframes/"].content
    assert "Send it" not in posts["/posts/forms/"].content
    assert "typed" not in posts["/posts/forms/"].content
    assert "<p>After the form.</p>" in posts["/posts/forms/"].content
    assert "svg text" not in posts["/posts/svg/"].content
    assert "secret comment" not in posts["/posts/comments/"].content
    assert "mso only" not in posts["/posts/comments/"].content


def test_event_handlers_are_stripped_but_the_elements_stay(posts: dict[str, Post]) -> None:
    content = posts["/posts/handlers/"].content
    assert "<p>Hover me</p>" in content
    assert f'<img src="{FEED_SITE}/a.png" alt="An image">' in content


def test_unsafe_links_lose_the_link_but_keep_the_text(posts: dict[str, Post]) -> None:
    content = posts["/posts/links/"].content
    for text in ("js link", "mixed case", "tab entity", "data link", "vb link", "empty link"):
        assert text in content
        assert f">{text}</a>" not in content
    assert "fragment link" in content and ">fragment link</a>" not in content
    assert '<a href="mailto:editor@hostile.example.com" rel="noopener">mail us</a>' in content
    assert f'<a href="{FEED_SITE}/ok/" rel="noopener">fine link</a>' in content
    assert "<img" not in content


def test_relative_links_resolve_against_the_site_url(posts: dict[str, Post]) -> None:
    post = posts["/posts/relative/"]
    assert post.url == f"{SITE}/posts/relative/"
    assert f'href="{SITE}/about/"' in post.content
    assert f'href="{SITE}/sibling/"' in post.content
    assert 'href="https://cdn.hostile.example.com/file.pdf"' in post.content
    assert post.image == f"{SITE}/images/relative.png"
    assert post.image_alt == "A relative image"


def test_without_a_site_url_relative_links_resolve_against_the_feeds_link(
    hostile_feed: Path,
) -> None:
    (post,) = [post for post in load(hostile_feed, "") if post.title == "Relative links"]
    assert post.url == f"{FEED_SITE}/posts/relative/"
    assert f'href="{FEED_SITE}/about/"' in post.content


def test_tracking_duplicates_are_both_kept_with_their_urls_intact(post_list: list[Post]) -> None:
    duplicates = [post for post in post_list if post.title == "Tracked duplicate"]
    assert [post.url for post in duplicates] == [
        f"{FEED_SITE}/posts/duplicate/",
        f"{FEED_SITE}/posts/duplicate/?utm_source=twitter&utm_medium=social&utm_campaign=launch",
    ]
    assert duplicates[0].id != duplicates[1].id


def test_entries_without_a_usable_date_are_kept_undated(posts: dict[str, Post]) -> None:
    assert posts["/posts/no-date/"].published is None
    assert posts["/posts/bad-date/"].published is None


def test_dates_are_utc(posts: dict[str, Post], post_list: list[Post]) -> None:
    assert posts["/posts/offset/"].published == datetime(2026, 1, 5, 16, 30, tzinfo=UTC)
    assert all(post.published is None or post.published.tzinfo == UTC for post in post_list)


def test_markup_and_entities_in_titles_become_plain_text(posts: dict[str, Post]) -> None:
    assert posts["/posts/markup-title/"].title == "Bold &"
    assert posts["/posts/entity-title/"].title == 'Entities & such: café <3 "quoted"'


def test_emoji_cjk_and_right_to_left_text_are_preserved(posts: dict[str, Post]) -> None:
    assert posts["/posts/emoji/"].title == "Emoji 🎬🍿✨ party"
    assert "👨‍👩‍👧‍👦" in posts["/posts/emoji/"].content
    assert posts["/posts/cjk/"].title == "中文标题：动画工会谈判"
    assert "日本語のテキスト" in posts["/posts/cjk/"].summary
    hebrew = posts["/posts/rtl-hebrew/"]
    assert hebrew.title == "עדכון משא ומתן"
    assert hebrew.content == '<p dir="rtl" lang="he">איגוד האנימציה החל במשא ומתן.</p>'
    assert posts["/posts/rtl-arabic/"].summary == "بدأت نقابة الرسوم المتحركة المفاوضات."


def test_missing_titles_use_the_opening_words_else_untitled(posts: dict[str, Post]) -> None:
    assert posts["/posts/untitled/"].title.startswith("This post has no title element")
    assert posts["/posts/blank-title/"].title == "Untitled"


def test_links_fall_back_to_a_permalink_guid_then_the_home_page(posts: dict[str, Post]) -> None:
    assert "/posts/permalink-guid/" in posts
    home = posts[""]
    assert home.url == SITE
    assert home.title == "Guid only"
    assert home.id == "urn:uuid:2f6b3c1e-0000-4000-8000-000000000001"


def test_images_come_from_media_enclosures_or_the_content(posts: dict[str, Post]) -> None:
    assert posts["/posts/enclosure/"].image == f"{FEED_SITE}/images/enclosure.jpg"
    inline = posts["/posts/content-image/"]
    assert (inline.image, inline.image_alt) == (f"{SITE}/images/inline.jpg", "A bowl of popcorn")
    titled = posts["/posts/media-title/"]
    assert (titled.image, titled.image_alt) == (
        f"{FEED_SITE}/images/media.jpg",
        "A film reel on a desk",
    )
    assert posts["/posts/media-first/"].image_alt == "A clapperboard"
    assert posts["/posts/media-first/"].summary == "The real description."
    assert posts["/posts/video/"].image == f"{FEED_SITE}/images/clip-thumb.jpg"


def test_summaries_are_plain_one_line_and_bounded(posts: dict[str, Post]) -> None:
    assert posts["/posts/description-only/"].summary == "Only a description, as HTML."
    assert "<em>description</em>" in posts["/posts/description-only/"].content
    assert posts["/posts/whitespace/"].summary == "lots of space"
    long = posts["/posts/long-summary/"].summary
    assert len(long) <= 300 and long.endswith("…")


def test_tags_are_plain_and_unique_and_authors_plain(posts: dict[str, Post]) -> None:
    assert posts["/posts/tags/"].tags == ("Payroll", "Italic tag")
    assert posts["/posts/author/"].author == "Writer Name"


def test_broken_markup_is_repaired(posts: dict[str, Post]) -> None:
    assert posts["/posts/unclosed/"].content == (
        f'<p><b>bold <i>italic <a href="{SITE}/x" rel="noopener">link</a></i></b></p>'
    )


def test_the_megabyte_post_is_read_whole_and_clean(posts: dict[str, Post]) -> None:
    post = posts["/posts/megabyte/"]
    assert len(post.content.encode("utf-8")) > 1_000_000
    assert DANGEROUS.search(post.content) is None
    assert f'<a href="{SITE}/long/2000" rel="noopener">' in post.content
    assert len(post.summary) <= 300 and post.summary.startswith("Paragraph 1: a relative link")


def test_the_hostile_feed_loads_in_well_under_a_few_seconds(hostile_feed: Path) -> None:
    started = time.perf_counter()
    load(hostile_feed, SITE)
    assert time.perf_counter() - started < 5
