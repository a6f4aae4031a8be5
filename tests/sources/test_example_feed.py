"""The example feed that `digest init` scaffolds: the seed page's post and its nine teasers."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from datetime import UTC, date
from pathlib import Path

import pytest

import digest
from digest.models import Post
from digest.sources import load_posts

SITE = "https://ftvconsulting.example.com"
EXAMPLE = Path(digest.__file__).parent / "scaffold" / "feed.xml"
TEASER_DATES = [date(2026, 1, day) for day in (30, 26, 22, 19, 16, 13, 8, 5, 2)]
FEATURED_TITLE = "TAG and AMPTP to Discuss AI, Job Security, and Outsourcing in New Agreement"


def load_example(site_url: str = SITE) -> list[Post]:
    return load_posts("feed", EXAMPLE.name, base_dir=EXAMPLE.parent, site_url=site_url, timeout=5)


@pytest.fixture(scope="module")
def posts() -> list[Post]:
    return load_example()


def test_the_example_is_well_formed_utf8_rss_with_the_media_namespace() -> None:
    raw = EXAMPLE.read_bytes()
    raw.decode("utf-8")
    root = ET.fromstring(raw)
    assert root.tag == "rss" and root.get("version") == "2.0"
    assert b'xmlns:media="http://search.yahoo.com/mrss/"' in raw


def test_ten_posts_the_teasers_dated_as_on_the_seed_page(posts: list[Post]) -> None:
    assert len(posts) == 10
    teasers = [post for post in posts if "featured" not in post.tags]
    assert [post.published.date() for post in teasers] == TEASER_DATES
    assert all(post.published.tzinfo == UTC for post in posts)


def test_the_tag_amptp_post_is_the_only_featured_one_and_older_than_the_teasers(
    posts: list[Post],
) -> None:
    featured = [post for post in posts if "featured" in post.tags]
    assert [post.title for post in featured] == [FEATURED_TITLE]
    assert {"Labor Relations", "Animation"} <= set(featured[0].tags)
    assert featured[0].published < min(post.published for post in posts if post not in featured)


def test_the_featured_post_carries_the_seed_facts(posts: list[Post]) -> None:
    (featured,) = [post for post in posts if "featured" in post.tags]
    text = featured.content
    for fact in ("August 12", "29%", "three years", "CAA", "CVL", "a third", "Asia", "Europe"):
        assert fact in text, fact
    assert "<ul>" in text and text.count("<li>") == 3
    assert 'href="https://' in text


def test_every_post_has_an_absolute_url_image_and_a_real_alt_text(posts: list[Post]) -> None:
    for post in posts:
        assert post.url.startswith(f"{SITE}/blog/") and post.url.endswith("/")
        assert post.id == post.url
        assert post.image.startswith(f"{SITE}/images/") and post.image.endswith(".jpg")
        assert len(post.image_alt) > 20 and post.image_alt[0].isupper()
        assert "laptio" not in post.image_alt
        assert post.author == "FTV Consulting"
    assert len({post.url for post in posts}) == 10
    assert len({post.image_alt for post in posts}) == 10


def test_every_post_has_a_one_line_summary_tags_and_content(posts: list[Post]) -> None:
    for post in posts:
        assert 40 < len(post.summary) < 200 and "\n" not in post.summary
        assert post.tags and all(tag.strip() == tag for tag in post.tags)
        assert post.content.startswith("<p>")
    topics = {tag for post in posts for tag in post.tags}
    assert {"Payroll", "Compliance", "Labor Relations", "Training"} <= topics


def test_all_hosts_are_example_hosts(posts: list[Post]) -> None:
    raw = EXAMPLE.read_text(encoding="utf-8")
    hosts = {part.split("/")[0] for part in raw.split("https://")[1:]}
    assert hosts and all(host.endswith(".example.com") for host in hosts), hosts


def test_loading_the_example_is_fast() -> None:
    load_example()
    started = time.perf_counter()
    load_example()
    assert time.perf_counter() - started < 0.5


def test_every_example_image_ships_as_a_small_jpeg_under_images(posts: list[Post]) -> None:
    """The example shows its pictures (in the preview and the archive) before anything is
    published: each post's image is a file of the scaffold's images/ folder."""
    folder = EXAMPLE.parent / "images"
    shipped = sorted(path.name for path in folder.iterdir())
    wanted = sorted(post.image.removeprefix(f"{SITE}/images/") for post in posts)
    assert shipped == wanted
    for post in posts:
        assert post.image_alt.strip()
        data = (folder / post.image.rsplit("/", 1)[1]).read_bytes()
        assert data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9", "a whole JPEG"
        assert 2_000 < len(data) < 50_000
