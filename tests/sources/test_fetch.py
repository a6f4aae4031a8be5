"""Feeds over http(s), from servers on 127.0.0.1 that each test starts itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.models import Post
from digest.sources import load_posts

Serve = Callable[[dict[str, tuple[bytes, str]]], str]
XML = "application/xml"


def fetch_posts(url: str, site_url: str = "", timeout: float = 5) -> list[Post]:
    return load_posts(
        "feed", url, base_dir=Path("/nonexistent"), site_url=site_url, timeout=timeout
    )


def test_an_rss_feed_over_http(http_server: Serve, data_dir: Path) -> None:
    base = http_server({"/feed.xml": ((data_dir / "rss.xml").read_bytes(), XML)})
    posts = fetch_posts(f"{base}/feed.xml")
    assert [post.title for post in posts] == [
        "Budgeting fringes",
        "Meal penalties, explained",
        "A note without a date",
    ]
    assert posts[0].url == "https://reel.example.com/posts/budgeting-fringes/"


def test_a_json_feed_over_http(http_server: Serve, data_dir: Path) -> None:
    body = (data_dir / "feed.json").read_bytes()
    base = http_server({"/feed.json": (body, "application/feed+json")})
    assert [post.id for post in fetch_posts(f"{base}/feed.json")] == ["crew-3", "42", "crew-1"]


def test_relative_links_fall_back_to_the_feed_url(http_server: Serve) -> None:
    body = (
        b'<rss version="2.0"><channel><title>t</title><item><title>A</title>'
        b"<link>/posts/a/</link></item></channel></rss>"
    )
    base = http_server({"/blog/feed.xml": (body, XML)})
    (post,) = fetch_posts(f"{base}/blog/feed.xml")
    assert post.url == f"{base}/posts/a/"


def test_an_html_page_at_the_url_is_not_a_feed(http_server: Serve) -> None:
    page = b"<!doctype html><html><body><h1>Welcome</h1></body></html>"
    base = http_server({"/": (page, "text/html")})
    with pytest.raises(SourceError, match=rf"{base}/: not an RSS, Atom or JSON feed"):
        fetch_posts(f"{base}/")


def test_http_404_is_an_error_naming_the_url(http_server: Serve) -> None:
    base = http_server({})
    with pytest.raises(SourceError) as caught:
        fetch_posts(f"{base}/missing.xml")
    message = str(caught.value)
    assert f"{base}/missing.xml" in message and "HTTP 404" in message
    assert "[source] location" in message


def test_an_unreachable_server_is_an_error_naming_the_url(closed_port_url: str) -> None:
    with pytest.raises(SourceError) as caught:
        fetch_posts(closed_port_url)
    message = str(caught.value)
    assert closed_port_url in message and "cannot reach the server" in message


def test_a_server_that_never_answers_times_out(silent_server: str) -> None:
    started = time.perf_counter()
    with pytest.raises(SourceError) as caught:
        fetch_posts(silent_server, timeout=0.3)
    elapsed = time.perf_counter() - started
    assert silent_server in str(caught.value)
    assert "no answer within 0.3 seconds" in str(caught.value)
    assert "[source] timeout" in str(caught.value)
    assert elapsed < 3


@pytest.mark.parametrize("url", ["http://[::1", "HTTPS://[oops/feed.xml"])
def test_a_malformed_url_is_an_error_naming_it(url: str) -> None:
    with pytest.raises(SourceError) as caught:
        fetch_posts(url)
    assert str(caught.value).startswith(f"{url}: not a valid URL (Invalid IPv6 URL)")
