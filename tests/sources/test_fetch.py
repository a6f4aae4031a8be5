"""Feeds over http(s), from servers on 127.0.0.1 that each test starts itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.models import Post
from digest.sources import load_posts
from tests.sources.conftest import Respond

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
    assert "no complete answer within 0.3 seconds" in str(caught.value)
    assert "[source] timeout" in str(caught.value)
    assert elapsed < 3


@pytest.mark.parametrize("url", ["http://[::1", "HTTPS://[oops/feed.xml"])
def test_a_malformed_url_is_an_error_naming_it(url: str) -> None:
    with pytest.raises(SourceError) as caught:
        fetch_posts(url)
    assert str(caught.value).startswith(f"{url}: not a valid URL (Invalid IPv6 URL)")


# Deadline, redirects and size: servers that answer as a hostile or broken one would.

Scripted = Callable[[dict[str, Respond]], str]
RSS = (
    b'<rss version="2.0"><channel><title>t</title>'
    b"<item><title>A</title><link>/a</link></item></channel></rss>"
)


def redirect(location: str, status: int = 302) -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return respond


def feed(body: bytes = RSS, *, length: bool = True) -> Respond:
    """The body whole; without ``length``, closed by the end of the connection instead."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", XML)
        if length:
            handler.send_header("Content-Length", str(len(body)))
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def drip(*, in_headers: bool, seconds_per_byte: float = 0.05) -> Respond:
    """An answer sent a byte at a time, each well within any per-read timeout."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {XML}\r\nContent-Length: {len(RSS)}\r\n"
        padding = "X-Padding: " + "x" * 100 + "\r\n" if in_headers else ""
        slow, fast = (head + padding + "\r\n").encode(), RSS
        if not in_headers:
            slow, fast = fast, b""
            handler.wfile.write((head + "\r\n").encode())
        for byte in slow:
            handler.wfile.write(bytes([byte]))
            time.sleep(seconds_per_byte)
        handler.wfile.write(fast)

    return respond


@pytest.mark.parametrize("in_headers", [True, False], ids=["headers", "body"])
def test_a_server_that_drips_its_answer_is_stopped_at_the_timeout(
    scripted_server: Scripted, in_headers: bool
) -> None:
    """A byte every 0.05 s keeps each read within any timeout: the answer (5 s of it
    here) used to be waited for whole, a minute and more for a larger one."""
    base = scripted_server({"/feed.xml": drip(in_headers=in_headers)})
    started = time.perf_counter()
    with pytest.raises(SourceError) as caught:
        fetch_posts(f"{base}/feed.xml", timeout=0.5)
    assert time.perf_counter() - started < 2
    assert str(caught.value).startswith(f"{base}/feed.xml: no complete answer within 0.5 seconds; ")


def test_an_http_redirect_is_followed(scripted_server: Scripted) -> None:
    base = scripted_server({"/old.xml": redirect("/feed.xml", 301), "/feed.xml": feed()})
    (post,) = fetch_posts(f"{base}/old.xml")
    assert post.title == "A"


@pytest.mark.parametrize(
    "target", ["ftp://127.0.0.1/feed.xml", "file:///etc/passwd", "data:,<rss/>"]
)
def test_a_redirect_to_anything_but_http_is_refused(scripted_server: Scripted, target: str) -> None:
    base = scripted_server({"/feed.xml": redirect(target)})
    with pytest.raises(SourceError) as caught:
        fetch_posts(f"{base}/feed.xml")
    assert str(caught.value).startswith(
        f"{base}/feed.xml: the server redirects to {target!r}, which is not an http(s) URL; "
        "digest follows only http(s) redirects"
    )


def test_a_redirect_loop_is_one_line(scripted_server: Scripted) -> None:
    base = scripted_server({"/a.xml": redirect("/b.xml"), "/b.xml": redirect("/a.xml")})
    with pytest.raises(SourceError) as caught:
        fetch_posts(f"{base}/a.xml")
    message = str(caught.value)
    assert message.startswith(f"{base}/a.xml: the server redirects in a loop (back to ")
    assert "\n" not in message


def test_more_than_five_redirects_are_refused(scripted_server: Scripted) -> None:
    routes = {f"/{n}.xml": redirect(f"/{n + 1}.xml") for n in range(6)}
    base = scripted_server({**routes, "/6.xml": feed()})
    with pytest.raises(SourceError, match=r"/0\.xml: more than 5 redirects \(the last to '"):
        fetch_posts(f"{base}/0.xml")


def test_an_error_after_a_redirect_names_where_it_happened(scripted_server: Scripted) -> None:
    base = scripted_server({"/feed.xml": redirect("/moved.xml")})
    with pytest.raises(SourceError) as caught:
        fetch_posts(f"{base}/feed.xml")
    assert f"{base}/feed.xml: the server answered HTTP 404 " in str(caught.value)
    assert f"(at '{base}/moved.xml')" in str(caught.value)


@pytest.mark.parametrize("length", [True, False], ids=["declared", "streamed"])
def test_a_body_over_20_mb_is_refused_and_the_limit_said(
    scripted_server: Scripted, length: bool
) -> None:
    base = scripted_server({"/feed.xml": feed(b" " * (20 * 1024 * 1024 + 1), length=length)})
    with pytest.raises(SourceError) as caught:
        fetch_posts(f"{base}/feed.xml")
    assert str(caught.value).startswith(f"{base}/feed.xml: the feed is larger than 20 MB; ")
