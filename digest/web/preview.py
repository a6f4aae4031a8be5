"""The editor's preview: the next edition as its readers will get it, redrawn as files change.

Routes: ``/`` the page (``preview_page``); ``/state`` what it shows, as JSON, for a reader
(``?reader=ADDRESS``, the first active one by default); ``/email`` the email itself for
the page's sandboxed frames (``?scheme=light|dark``, ``&reader=``); ``/readers`` the list,
paged and searched (``?q=&page=``); ``/events`` server-sent events, one ``render`` each
time a render finishes; ``/images/...`` the newsletter folder's ``images/``; ``POST
/test-send`` a test of the edition through the configured backend, as `digest send --to`.

Any web page the editor visits can make the browser send requests to a loopback server,
and a name that resolves to 127.0.0.1 (DNS rebinding) can even read the answers. So
every request must name the preview's own loopback address in ``Host``, and a test send
also needs the page's ``Origin``, a JSON body and the per-run token the page carries
(``X-Digest-Token``); anything else is refused with 403 and logged.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import DigestError, WebError
from ..sending.samples import send_configured_test
from ..text import plural
from . import preview_page
from .frames import FRAME_CSP, SCHEMES, in_scheme, links_outside
from .images import IMAGES, local_images
from .server import LOG, error_page, printable, web_app
from .watch import changes
from .workbench import Workbench, described, reader_entry

KEEP_ALIVE_SECONDS = 15.0
MAX_TEST_ADDRESSES = 10
MAX_ADDRESS_CHARS = 320
TOKEN_HEADER = "x-digest-token"


def check_loopback(host: str) -> None:
    """Refuse a host that is not this machine's loopback: the preview sends tests."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        raise WebError(f"cannot listen on {host}: {exc.strerror or exc}") from None
    if not addresses or not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise WebError(
            f"the preview listens on this machine's loopback only, not on {host}: any page "
            "that can reach it could read your list and send tests",
            "use --host 127.0.0.1 (the default); from another machine, tunnel to it "
            "(ssh -L 8000:127.0.0.1:8000 this-host)",
        )


class Preview:
    """The preview's routes over one Workbench, and what keeps them to the editor."""

    def __init__(self, bench: Workbench, *, token: str | None = None) -> None:
        self.bench = bench
        self.token = token or secrets.token_urlsafe(32)
        self.hosts: frozenset[str] = frozenset()
        self._changed: anyio.Event | None = None
        self._stop: anyio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def listening(self, base_url: str) -> None:
        """The server is bound at ``base_url``: its loopback names are the Hosts answered."""
        port = urlsplit(base_url).port
        names = {urlsplit(base_url).netloc, f"localhost:{port}"}
        names |= {f"127.0.0.1:{port}", f"[::1]:{port}"}
        self.hosts = frozenset(names)

    def app(self) -> ASGIApp:
        routes = [
            Route("/", self.page),
            Route("/state", self.state),
            Route("/email", self.email),
            Route("/readers", self.readers),
            Route("/events", self.events),
            Route("/test-send", self.test_send, methods=["POST"]),
            Mount(f"/{IMAGES}", StaticFiles(directory=self.bench.images, check_dir=False)),
        ]
        return web_app(
            routes, csp=preview_page.PAGE_CSP, guard=self._own_host_only, lifespan=self._lifespan
        )

    def _own_host_only(self, app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
                if host not in self.hosts:
                    LOG.warning("refused a request for Host %s: not the preview's", printable(host))
                    await error_page(403, "This preview answers its own address only.")(
                        scope, receive, send
                    )
                    return
            await app(scope, receive, send)

        return guarded

    @asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        self._changed, self._stop = anyio.Event(), anyio.Event()
        self._loop = asyncio.get_running_loop()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._watch, self._stop)
            yield
            self._stop_now()

    def stopping(self) -> None:
        """The server is stopping: end the event streams and the watch (from any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop_now)

    def _stop_now(self) -> None:
        if self._stop is not None and self._changed is not None:
            self._stop.set()
            self._changed.set()

    async def _watch(self, stop: anyio.Event) -> None:
        """Render again after each change, until stopped; a change to what is watched
        (a new source, say) starts a new watch."""
        while not stop.is_set():
            watched = self.bench.watched()
            async for _paths in changes(watched.files, watched.folders, stop):
                await run_in_threadpool(self.bench.refresh)
                changed, self._changed = self._changed, anyio.Event()
                if changed is not None:
                    changed.set()
                if self.bench.watched() != watched:
                    break

    async def page(self, _request: Request) -> Response:
        return HTMLResponse(preview_page.document(self.token))

    async def state(self, request: Request) -> Response:
        render = self.bench.current
        seen = await run_in_threadpool(self.bench.look, render, _reader(request))
        return JSONResponse(described(render, seen))

    async def email(self, request: Request) -> Response:
        scheme = request.query_params.get("scheme", "light")
        if scheme not in SCHEMES:
            return error_page(400, "The color scheme is light or dark.")
        render = self.bench.current
        seen = await run_in_threadpool(self.bench.look, render, _reader(request))
        if seen is None:
            document = "<p>Nothing has rendered yet: see the error above.</p>"
        else:
            site = render.app.settings.newsletter.site_url
            document = local_images(seen.email.html, site, self.bench.images, _image_link)
            document = links_outside(in_scheme(document, scheme))
        headers = {"Content-Security-Policy": FRAME_CSP, "X-Frame-Options": "SAMEORIGIN"}
        return HTMLResponse(document, headers=headers)

    async def readers(self, request: Request) -> Response:
        query = request.query_params.get("q", "")
        try:
            page = min(max(int(request.query_params.get("page", "0")), 0), 100_000)
        except ValueError:
            page = 0
        found, more = await run_in_threadpool(self.bench.readers, query, page)
        return JSONResponse({"readers": [reader_entry(r) for r in found], "more": more})

    async def events(self, _request: Request) -> Response:
        return StreamingResponse(
            self._renders(),
            media_type="text/event-stream",
            headers={"X-Accel-Buffering": "no"},
        )

    async def _renders(self) -> AsyncIterator[str]:
        """One ``render`` event now and after each render; a comment now and then keeps
        the connection open through proxies."""
        sent = -1
        while self._stop is None or not self._stop.is_set():
            changed = self._changed
            version = self.bench.current.version
            if version != sent:
                sent = version
                yield f"event: render\ndata: {version}\n\n"
            with anyio.move_on_after(KEEP_ALIVE_SECONDS) as waited:
                await (changed.wait() if changed is not None else anyio.sleep_forever())
            if waited.cancelled_caught:
                yield ": still here\n\n"

    async def test_send(self, request: Request) -> Response:
        refused = self._refusal(request)
        if refused:
            LOG.warning("refused a test send: %s", refused)
            return JSONResponse({"ok": False, "message": f"refused: {refused}"}, status_code=403)
        try:
            addresses = _addresses(json.loads(await request.body()))
        except ValueError as problem:
            return JSONResponse({"ok": False, "message": str(problem)}, status_code=400)
        return JSONResponse(await run_in_threadpool(self._send, addresses))

    def _refusal(self, request: Request) -> str:
        """Why a test send is refused ("" when it is not): the token, Origin and body type."""
        given = request.headers.get(TOKEN_HEADER, "")
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return "no valid X-Digest-Token (the preview page's)"
        origin = request.headers.get("origin", "")
        if origin != f"http://{request.headers.get('host', '')}":
            return f"Origin {printable(origin) or '(none)'} is not the preview's"
        if request.headers.get("content-type", "").partition(";")[0].strip() != "application/json":
            return "the body is not JSON"
        return ""

    def _send(self, addresses: list[str]) -> dict[str, Any]:
        render = self.bench.current
        if render.draft is None:
            return {"ok": False, "message": "nothing has rendered yet: fix the error first"}
        try:
            sample = send_configured_test(render.app, addresses, render.draft.key)
        except DigestError as error:
            return {"ok": False, "message": str(error)}
        sent_to = plural(sample.recipients, "address", "addresses")
        return {"ok": True, "message": f"Sent a test of edition {sample.key} to {sent_to}."}


def _reader(request: Request) -> str:
    return request.query_params.get("reader", "")[:MAX_ADDRESS_CHARS]


def _image_link(path: str) -> str:
    return f"/{IMAGES}/{path}"


def _addresses(body: object) -> list[str]:
    """The test's addresses from ``{"to": [...]}``, or ValueError saying what is wrong."""
    to = body.get("to") if isinstance(body, dict) else None
    if not isinstance(to, list) or not all(isinstance(a, str) for a in to) or not to:
        raise ValueError('give the test\'s addresses as {"to": ["you@example.com"]}')
    if len(to) > MAX_TEST_ADDRESSES or any(len(a) > MAX_ADDRESS_CHARS for a in to):
        raise ValueError(f"a test goes to at most {MAX_TEST_ADDRESSES} addresses")
    return to


def make_preview(bench: Workbench) -> tuple[Preview, ASGIApp]:
    """The preview over ``bench``, and its ASGI app."""
    preview = Preview(bench)
    return preview, preview.app()
