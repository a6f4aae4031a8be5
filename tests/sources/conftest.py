"""Fixtures for the sources tests: the data folder, the hostile feed, a local HTTP server."""

from __future__ import annotations

import contextlib
import http.server
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
HOSTILE_SITE = "https://hostile.example.com"
MEGABYTE_MARKER = "<!-- MEGABYTE POST -->"
MEGABYTE_URL = f"{HOSTILE_SITE}/posts/megabyte/"


def megabyte_item() -> str:
    """An RSS item whose content is a little over a megabyte of mixed, partly hostile HTML."""
    paragraphs = []
    size = 0
    number = 0
    while size < 1_100_000:
        number += 1
        paragraph = (
            f'<p>Paragraph {number}: <a href="/long/{number}">a relative link</a>, '
            f"<strong>bold</strong>, emoji 🎬, 中文 and עברית.</p>"
        )
        if number % 500 == 0:
            paragraph += '<script>alert("deep")</script><img src="x" onerror="alert(1)">'
        paragraphs.append(paragraph)
        size += len(paragraph.encode("utf-8"))
    return (
        "<item><title>A megabyte-long post</title>"
        f"<link>{MEGABYTE_URL}</link>"
        "<pubDate>Wed, 07 Jan 2026 12:00:00 GMT</pubDate>"
        f"<content:encoded><![CDATA[{''.join(paragraphs)}]]></content:encoded></item>"
    )


@pytest.fixture
def data_dir() -> Path:
    """The folder of source fixtures (feeds, a Markdown folder)."""
    return DATA


@pytest.fixture(scope="session")
def hostile_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/hostile.xml with its megabyte-long post put in (kept out of the repository)."""
    text = (DATA / "hostile.xml").read_text(encoding="utf-8")
    assert MEGABYTE_MARKER in text
    path = tmp_path_factory.mktemp("hostile") / "hostile.xml"
    path.write_text(text.replace(MEGABYTE_MARKER, megabyte_item()), encoding="utf-8")
    return path


@pytest.fixture
def http_server() -> Iterator[Callable[[dict[str, tuple[bytes, str]]], str]]:
    """Start a server on 127.0.0.1 answering each path with (body, content type), else 404.

    Returns the server's base URL.
    """
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(routes: dict[str, tuple[bytes, str]]) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path in routes:
                    body, content_type = routes[self.path]
                    self.send_response(200)
                else:
                    body, content_type = b"not found", "text/plain"
                    self.send_response(404)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Keep test output quiet."""

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


Respond = Callable[[http.server.BaseHTTPRequestHandler], None]


@pytest.fixture
def scripted_server() -> Iterator[Callable[[dict[str, Respond]], str]]:
    """Start a server on 127.0.0.1 where each path's function writes the whole answer
    (status line, headers, body) to the handler; other paths get a 404.

    Returns the server's base URL. Handlers still writing when the test ends are left to
    fail on the closed connection.
    """
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(routes: dict[str, Respond]) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                respond = routes.get(self.path)
                if respond is not None:
                    with contextlib.suppress(OSError):
                        respond(self)
                    return
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Keep test output quiet."""

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers: the URL of a hanging feed."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/feed.xml"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.fixture
def closed_port_url() -> str:
    """The URL of a port on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.xml"


DEEP_MARKER = re.compile(r"<!-- DEEP (.*?) -->")
DEEP_LEVELS = 100_000


@pytest.fixture(scope="session")
def deep_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/deep.xml with each DEEP marker's markup repeated 100,000 times, never closed."""
    text = (DATA / "deep.xml").read_text(encoding="utf-8")
    path = tmp_path_factory.mktemp("deep") / "deep.xml"
    path.write_text(DEEP_MARKER.sub(lambda m: m.group(1) * DEEP_LEVELS, text), encoding="utf-8")
    return path
