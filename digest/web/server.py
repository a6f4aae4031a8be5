"""What every digest web app shares: bounded requests, safe pages, one log line a request,
and the uvicorn runner.

``web_app`` wraps a Starlette app so that every request body is read whole, up to
``Limits.max_body_bytes`` (413 past it, before reading it when the length is declared)
and within ``Limits.body_seconds`` (408 after it); every response carries headers
that keep a page from loading anything, being framed, cached or leaking its URL
through a Referer; and each request is logged as one line: method, path (never the
query, where tokens travel), status and duration. ``page`` builds the self-contained
HTML those apps answer with, every piece of text escaped. ``serve`` runs an app
under uvicorn on a socket bound first, so that the URL it announces is the one
that answers, even with port 0.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from http import HTTPStatus
from types import FrameType
from typing import TextIO

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import WebError

LOG = logging.getLogger("digest.web")

# Bounds on what a client can make the server hold or wait for. The request line and
# headers are bounded by uvicorn (16 KB of them; a slow client past the keep-alive
# time is dropped); the reverse proxy in front bounds the rest (README).
LIMIT_CONCURRENCY = 100  # connections and tasks at once; uvicorn answers 503 past them
KEEP_ALIVE_SECONDS = 5
BACKLOG = 2048  # uvicorn's own default
SHUTDOWN_SECONDS = 10
MAX_PATH_LOGGED = 200


@dataclass(frozen=True)
class Limits:
    """How large a request body may be, and how long its arrival may take."""

    max_body_bytes: int = 8 * 1024
    body_seconds: float = 10.0


DEFAULT_LIMITS = Limits()

_STYLE = (
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "color:#1f2328;background:#f6f8fa}"
    "main{max-width:32rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:8px}"
    "h1{font-size:1.4rem;line-height:1.3;margin:0 0 1rem}"
    "button{font:inherit;padding:.6rem 1.4rem;border:0;border-radius:6px;"
    "background:#1f2328;color:#fff;cursor:pointer}"
    "@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}"
    "main{background:#161b22}button{background:#e6edf3;color:#0d1117}}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

# The pages load nothing (their one style is allowed by its hash), post forms only to
# their own origin, and are never framed.
PAGE_CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def security_headers(csp: str) -> list[tuple[bytes, bytes]]:
    """The headers every response carries, with ``csp`` as its Content-Security-Policy."""
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cache-control", b"no-store"),
    ]


@dataclass(frozen=True)
class Button:
    """A form with one button that POSTs ``field=value`` back to the page's own URL."""

    label: str
    field: str
    value: str


def page(
    heading: str,
    *paragraphs: str,
    status: int = 200,
    button: Button | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A small self-contained HTML page; every argument is text, escaped here."""
    escape = html.escape
    body = "".join(f"<p>{escape(text)}</p>" for text in paragraphs)
    if button is not None:
        # No action attribute: the form posts to the page's own URL, query string included.
        body += (
            f'<form method="post"><input type="hidden" name="{escape(button.field)}"'
            f' value="{escape(button.value)}"><button type="submit">'
            f"{escape(button.label)}</button></form>"
        )
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark"><meta name="robots" content="noindex">'
        f"<title>{escape(heading)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{escape(heading)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=headers)


def error_page(status: int, explanation: str, headers: Mapping[str, str] | None = None) -> Response:
    """A page for an HTTP error: the status's own phrase as the heading."""
    return page(HTTPStatus(status).phrase, explanation, status=status, headers=headers)


_EXPLANATIONS = {
    400: "The request could not be read.",
    404: "There is no page at this address.",
    405: "This address does not take that kind of request.",
    408: "The request took too long to arrive. Please try again.",
    413: "The request is larger than this page ever takes.",
}


def web_app(
    routes: Sequence[BaseRoute],
    *,
    limits: Limits = DEFAULT_LIMITS,
    csp: str = PAGE_CSP,
    log: logging.Logger = LOG,
    guard: Callable[[ASGIApp], ASGIApp] | None = None,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
) -> ASGIApp:
    """A Starlette app of ``routes`` with bounded bodies, security headers and a request log;
    ``guard`` wraps it inside those (a check every request passes, its refusals logged too),
    ``lifespan`` runs beside the server (``serve(..., lifespan=True)``)."""
    app: ASGIApp = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    if guard is not None:
        app = guard(app)
    return _RequestLog(_SecurityHeaders(_BoundedBody(app, limits), csp), log)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    explanation = _EXPLANATIONS.get(exc.status_code, "The request could not be answered.")
    return error_page(exc.status_code, explanation, headers=exc.headers)


async def _server_error(_request: Request, _exc: Exception) -> Response:
    return error_page(500, "Something went wrong; nothing was changed. Please try again later.")


class _BoundedBody:
    """Reads each request's body whole before the app sees it, within the limits."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(413, scope, receive, send)
            return
        try:
            with anyio.fail_after(self.limits.body_seconds):
                body = await _read_body(receive, limit)
        except TimeoutError:
            await _refuse(408, scope, receive, send)
            return
        except _ClientGone:
            return
        if body is None:
            await _refuse(413, scope, receive, send)
            return
        await self.app(scope, _replaying(body, receive), send)


class _ClientGone(Exception):
    """The client disconnected before its request's body arrived."""


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None once it grows past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the app the body already read, then waits as the server's does."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(status: int, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer ``status`` and close the connection: the rest of the body is never read."""
    response = error_page(status, _EXPLANATIONS[status], headers={"Connection": "close"})
    await response(scope, receive, send)


# The headers a route may set itself (the preview's frame: framed by its page, its policy).
OWN_HEADERS = frozenset({b"content-security-policy", b"x-frame-options"})


class _SecurityHeaders:
    """Adds the security headers to every response, in place of any the app set but for a
    route's own Content-Security-Policy and X-Frame-Options (``OWN_HEADERS``)."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = security_headers(csp)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                given = message.get("headers", [])
                own = {name.lower() for name, _ in given} & OWN_HEADERS
                added = [h for h in self.headers if h[0] not in own]
                kept = [h for h in given if h[0].lower() not in {n for n, _ in added}]
                message = {**message, "headers": [*kept, *added]}
            await send(message)

        await self.app(scope, receive, sending)


class _RequestLog:
    """One line a request: method, path (never the query string), status, milliseconds."""

    def __init__(self, app: ASGIApp, log: logging.Logger) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.log.info(
                "%s %s %s %.1fms",
                printable(scope["method"]),
                printable(scope["path"]),
                status or "-",
                (time.perf_counter() - started) * 1000,
            )


def printable(text: str) -> str:
    """``text`` for a log line: control characters escaped, cut at MAX_PATH_LOGGED."""
    shown = text if text.isprintable() else repr(text)[1:-1]
    return shown if len(shown) <= MAX_PATH_LOGGED else f"{shown[:MAX_PATH_LOGGED]}..."


def configure_logging(stream: TextIO | None = None, *, uvicorn_too: bool = True) -> None:
    """Request lines (and uvicorn's warnings, when it is run here) to ``stream`` (stderr).

    uvicorn's access log stays off whoever runs it: it writes the query string, and
    with it the tokens.
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    names = {LOG.name: logging.INFO, **({"uvicorn": logging.WARNING} if uvicorn_too else {})}
    for name, level in names.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True


def serve(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    announce: Callable[[str], None],
    lifespan: bool = False,
    shutdown_seconds: int = SHUTDOWN_SECONDS,
    stopping: Callable[[], None] | None = None,
) -> None:
    """Run ``app`` on host:port (0: any free port) until SIGINT or SIGTERM; ``announce``
    gets the base URL once the socket is bound. ``shutdown_seconds`` bounds the requests
    still open then; ``stopping`` is called at the signal, to end those that would not."""
    sock = _listen(host, port)
    configure_logging()
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on" if lifespan else "off",
        limit_concurrency=LIMIT_CONCURRENCY,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=shutdown_seconds,
        backlog=BACKLOG,
    )
    shown = f"[{host}]" if ":" in host else host
    announce(f"http://{shown}:{sock.getsockname()[1]}")
    with sock:
        _Server(config, stopping).run(sockets=[sock])


class _Server(uvicorn.Server):
    """uvicorn's server, telling the app when a signal stops it."""

    def __init__(self, config: uvicorn.Config, stopping: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._stopping = stopping

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._stopping is not None:
            self._stopping()


def _listen(host: str, port: int) -> socket.socket:
    """A TCP socket listening on host:port, or WebError naming why not."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise WebError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        # Listening now, not when uvicorn starts: a client of the announced URL waits in
        # the backlog instead of being refused.
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise WebError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock
