"""The one-click unsubscribe endpoint (RFC 8058): the ASGI app behind ``unsubscribe.url``.

- ``POST <path>?token=T`` unsubscribes the reader sealed in T and answers 200 with a
  short confirmation page: never a redirect (RFC 8058 forbids one), no cookie, no
  session or CSRF check, since the token is the only credential. A mail client's
  one-click button posts ``List-Unsubscribe=One-Click`` (form-urlencoded or
  multipart) and is recorded as "one-click"; any other POST, such as the button on
  the page below, as "page". A repeat POST answers the same and records nothing new.
- ``GET <path>?token=T`` shows the newsletter's name, the address partly masked and
  one button that POSTs. It never unsubscribes: mail scanners fetch links.
- A token that does not read (forged, cut short, altered, made under a secret no
  longer listed) gets a plain 400 page, and nothing is recorded.
- ``GET /healthz`` answers "ok" when the ledger opens, for the proxy in front.

The path is the one of ``unsubscribe.url``, which must carry the token as
``?token={token}``. An unsubscribe is committed to the ledger before the answer,
waiting up to the ledger's busy timeout if a send holds the write lock (a send holds
it for milliseconds at a time); past that the reader gets a 503 to try again.

``create_app`` is the factory for any ASGI server; ``digest unsubscribe serve`` runs
the same app under uvicorn.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from ..app import Paths
from ..audience.tokens import UnsubscribeTokens
from ..config import Settings, find_config, load_settings
from ..errors import ConfigError, DigestError, LedgerError
from ..ledger import Ledger
from .server import DEFAULT_LIMITS, Button, Limits, configure_logging, error_page, page, web_app

ONE_CLICK = "one-click"
PAGE = "page"
HEALTH_PATH = "/healthz"
RETRY_AFTER_SECONDS = 60


@dataclass(frozen=True)
class _Endpoint:
    """What the handlers need: the newsletter's name, the tokens, the ledger and a clock."""

    name: str
    tokens: UnsubscribeTokens
    ledger_path: Path
    clock: Callable[[], datetime]

    async def reader_page(self, request: Request) -> Response:
        """GET: who is about to unsubscribe, and the button that does it."""
        address = self._reader(request)
        if address is None:
            return _invalid_link()
        return page(
            f"Unsubscribe from {self.name}",
            f"{mask(address)} will get no more emails from {self.name}.",
            button=Button("Unsubscribe", "unsubscribe", "yes"),
        )

    async def unsubscribe(self, request: Request) -> Response:
        """POST: record the unsubscribe at once, then confirm it."""
        address = self._reader(request)
        if address is None:
            return _invalid_link()
        source = await _source(request)
        try:
            await run_in_threadpool(self._record, address, source)
        except LedgerError:
            return error_page(
                503,
                "Your unsubscribe could not be recorded just now. Please try again in a minute.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return page(
            f"You are unsubscribed from {self.name}",
            f"{mask(address)} will get no more emails from {self.name}.",
        )

    async def dispatch(self, request: Request) -> Response:
        """The reader's URL: POST unsubscribes; GET and HEAD show the page."""
        if request.method == "POST":
            return await self.unsubscribe(request)
        return await self.reader_page(request)

    async def health(self, _request: Request) -> Response:
        """Whether the ledger opens: what the endpoint needs to record anything."""
        try:
            await run_in_threadpool(self.check_ledger)
        except LedgerError:
            return PlainTextResponse("the ledger does not open", status_code=503)
        return PlainTextResponse("ok")

    def _reader(self, request: Request) -> str | None:
        return self.tokens.read(request.query_params.get("token", ""))

    def _record(self, address: str, source: str) -> None:
        with Ledger.open(self.ledger_path) as ledger:
            ledger.record_unsubscribe(address, self.clock(), source)

    def check_ledger(self) -> None:
        """Open and close the ledger (creating it in a folder that never sent), or raise."""
        Ledger.open(self.ledger_path).close()


async def _source(request: Request) -> str:
    """How the reader unsubscribed: ONE_CLICK for RFC 8058's body, else PAGE (the page's
    button, or any other POST: the token is the credential, the body only a label, so a
    body that does not parse loses no unsubscribe)."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return PAGE
    try:
        async with request.form(max_files=0, max_fields=20) as form:
            return ONE_CLICK if form.get("List-Unsubscribe") == "One-Click" else PAGE
    except HTTPException:
        return PAGE


def _invalid_link() -> Response:
    return page(
        "This unsubscribe link does not work",
        "It may have been cut short or changed on its way here. Open the unsubscribe "
        "link at the bottom of the newsletter's latest email again.",
        status=400,
    )


def mask(address: str) -> str:
    """The address with its local part hidden but for the first character: a***@example.com."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def endpoint_path(url: str) -> str:
    """The path the endpoint serves: the path of ``unsubscribe.url``, which must carry the
    token as ``?token={token}`` (the query parameter the endpoint reads)."""
    if not url:
        raise ConfigError(
            "unsubscribe.url is not set, so no email links to this endpoint",
            "set it to the https URL where the endpoint is reached, such as "
            "https://news.example.com/unsubscribe?token={token}",
        )
    parts = urlsplit(url)
    path = unquote(parts.path) or "/"
    if ("token", "{token}") not in parse_qsl(parts.query) or "{" in path or "}" in path:
        raise ConfigError(
            f"unsubscribe.url {url!r} does not carry the token as ?token={{token}}, "
            "where digest's endpoint reads it",
            "write it as https://news.example.com/unsubscribe?token={token}",
        )
    if path == HEALTH_PATH:
        raise ConfigError(f"unsubscribe.url's path cannot be {HEALTH_PATH}, the health check's")
    return path


def make_app(
    settings: Settings, *, clock: Callable[[], datetime], limits: Limits = DEFAULT_LIMITS
) -> ASGIApp:
    """The endpoint for one newsletter folder, or a DigestError saying why it cannot run:
    no secret, an unsubscribe URL it cannot serve, a ledger that does not open."""
    secret = settings.secrets.unsubscribe_secret
    if not secret:
        raise ConfigError(
            "DIGEST_UNSUBSCRIBE_SECRET is not set, and without it no unsubscribe token reads",
            "export the same secret the sends use",
        )
    path = endpoint_path(settings.unsubscribe.url)
    endpoint = _Endpoint(
        name=settings.newsletter.name,
        tokens=UnsubscribeTokens(secret, settings.secrets.unsubscribe_retired),
        ledger_path=Paths.of(settings).ledger,
        clock=clock,
    )
    endpoint.check_ledger()
    routes = [
        Route(path, endpoint.dispatch, methods=["GET", "POST"]),
        Route(HEALTH_PATH, endpoint.health, methods=["GET"]),
    ]
    return web_app(routes, limits=limits)


def create_app() -> ASGIApp:
    """The endpoint for the newsletter folder of DIGEST_CONFIG, else of the working
    directory, as the CLI finds it: the factory for ASGI servers
    (``uvicorn --factory digest.web.unsubscribe:create_app``).

    A folder it cannot serve is one line on stderr and exit 1, as with the CLI.
    """
    env = dict(os.environ)
    try:
        settings = load_settings(find_config(None, env), env)
        app = make_app(settings, clock=lambda: datetime.now(UTC))
    except DigestError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    configure_logging(uvicorn_too=False)
    return app
