"""Fetch a feed over http(s) within one deadline; each failure is one SourceError naming the URL.

Redirects are followed here rather than by urllib, so that only http(s) ones are (urllib
would follow one to ftp://) and a loop is said as one. The download runs in a thread the
caller stops waiting for at the deadline: a server that sends a byte a second, in its
headers or its body, cannot keep a build running past ``[source] timeout``.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.error
import urllib.request
from email.message import Message
from typing import IO, NoReturn
from urllib.parse import urljoin

from ..errors import SourceError
from ..urls import is_url

USER_AGENT = "digest (newsletter digest builder; feed reader)"
ACCEPT = (
    "application/feed+json, application/rss+xml, application/atom+xml, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
MAX_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK = 64 * 1024
CHECK_URL = "check the URL in [source] location"


def fetch(url: str, *, timeout: float) -> bytes:
    """The body of ``url``, through at most MAX_REDIRECTS http(s) redirects, or a
    SourceError that says what went wrong.

    ``timeout`` (seconds) bounds the whole download, redirects included. The thread left
    behind at the deadline ends at its next read, within ``timeout`` of it.
    """
    download = _Download(url, timeout)
    worker = threading.Thread(target=download.run, name="digest feed download", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        download.abandoned.set()
        raise download.timed_out()
    return download.result()


class _Redirect(Exception):
    """A redirect handed back to ``_Download``, which follows or refuses it itself."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class _HandBackRedirects(urllib.request.HTTPRedirectHandler):
    """Raises _Redirect where urllib would follow a redirect."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> NoReturn:
        fp.close()
        raise _Redirect(newurl)


class _Download:
    """One download, with the outcome the waiting caller collects."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.abandoned = threading.Event()
        self._opener = urllib.request.build_opener(_HandBackRedirects)
        self._body = b""
        self._error: Exception | None = None

    def run(self) -> None:
        try:
            self._body = self._follow()
        except Exception as error:  # handed to the caller's thread, which raises it
            self._error = error

    def result(self) -> bytes:
        if self._error is not None:
            raise self._error
        return self._body

    def _follow(self) -> bytes:
        """The body at the end of the redirects; each one checked before it is followed."""
        visited = [self.url]
        while True:
            try:
                return self._get(visited[-1])
            except _Redirect as redirect:
                visited.append(self._checked(redirect.target, visited))

    def _checked(self, target: str, visited: list[str]) -> str:
        if not is_url(target):
            raise SourceError(
                f"{self.url}: the server redirects to {target!r}, which is not an http(s) URL",
                "digest follows only http(s) redirects: set [source] location to the feed's "
                "own http(s) URL",
            )
        if target in visited:
            raise SourceError(
                f"{self.url}: the server redirects in a loop (back to {target!r})",
                f"{CHECK_URL}; the site's redirects need fixing",
            )
        if len(visited) > MAX_REDIRECTS:
            raise SourceError(
                f"{self.url}: more than {MAX_REDIRECTS} redirects (the last to {target!r})",
                f"set [source] location to the feed's final URL, {target!r}",
            )
        return target

    def _get(self, url: str) -> bytes:
        """The body at ``url``; raises _Redirect for a redirect, SourceError for a failure."""
        try:
            request = urllib.request.Request(
                url, headers={"User-Agent": USER_AGENT, "Accept": ACCEPT}
            )
        except ValueError as exc:
            raise SourceError(f"{url}: not a valid URL ({exc})", CHECK_URL) from None
        try:
            with self._opener.open(request, timeout=self._remaining()) as response:
                return self._read(response)
        except urllib.error.HTTPError as exc:
            with exc:
                raise self._refused(url, exc) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise self.timed_out() from None
            raise SourceError(
                f"{self.url}: cannot reach the server ({exc.reason})",
                f"{CHECK_URL} and that the site is up and reachable from here",
            ) from None
        except TimeoutError:
            raise self.timed_out() from None
        except (http.client.HTTPException, OSError, ValueError) as exc:
            raise SourceError(f"{self.url}: the download failed ({exc})", CHECK_URL) from None

    def _refused(self, url: str, exc: urllib.error.HTTPError) -> SourceError | _Redirect:
        """What an error status means. urllib refuses itself a redirect to some schemes
        (file:, data:): those come here, to be refused in the same words as ftp:."""
        location = exc.headers.get("Location") if exc.headers else None
        if exc.code in REDIRECTS and location:
            return _Redirect(urljoin(url, location))
        where = "" if url == self.url else f" (at {url!r})"
        return SourceError(
            f"{self.url}: the server answered HTTP {exc.code} {exc.reason}{where}", CHECK_URL
        )

    def _read(self, response: http.client.HTTPResponse) -> bytes:
        """The body, read as it arrives, at most MAX_BYTES of it."""
        if response.length is not None and response.length > MAX_BYTES:
            raise self._too_large()
        chunks, size = [], 0
        while chunk := response.read1(CHUNK):
            if self.abandoned.is_set():
                raise self.timed_out()
            size += len(chunk)
            if size > MAX_BYTES:
                raise self._too_large()
            chunks.append(chunk)
        return b"".join(chunks)

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self.timed_out()
        return remaining

    def timed_out(self) -> SourceError:
        return SourceError(
            f"{self.url}: no complete answer within {self.timeout:g} seconds",
            f"{CHECK_URL}, try again later, or raise [source] timeout",
        )

    def _too_large(self) -> SourceError:
        return SourceError(
            f"{self.url}: the feed is larger than {MAX_BYTES // (1024 * 1024)} MB",
            f"{CHECK_URL}; it should name the feed, not a large file",
        )
