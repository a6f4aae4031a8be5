"""Fetch a feed over http(s) with a timeout; each failure is one SourceError naming the URL."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request

from ..errors import SourceError

USER_AGENT = "digest (newsletter digest builder; feed reader)"
ACCEPT = (
    "application/feed+json, application/rss+xml, application/atom+xml, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
MAX_BYTES = 20 * 1024 * 1024
CHECK_URL = "check the URL in [source] location"


def is_url(location: str) -> bool:
    """Whether a source location names an http(s) URL rather than a path.

    Only the scheme is looked at, so that a malformed URL is still taken for a URL
    (and ``fetch`` says what is wrong with it) rather than for a missing file.
    """
    scheme, colon, _ = location.strip().partition(":")
    return bool(colon) and scheme.lower() in ("http", "https")


def fetch(url: str, *, timeout: float) -> bytes:
    """The body of ``url`` (redirects followed), or a SourceError that says what went wrong.

    ``timeout`` bounds each wait on the network (connecting, then each read), so a
    server that accepts the connection and never answers fails after ``timeout`` seconds.
    """
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": ACCEPT})
    except ValueError as exc:
        raise SourceError(f"{url}: not a valid URL ({exc})", CHECK_URL) from None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise SourceError(
            f"{url}: the server answered HTTP {exc.code} {exc.reason}", CHECK_URL
        ) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _timed_out(url, timeout) from None
        raise SourceError(
            f"{url}: cannot reach the server ({exc.reason})",
            f"{CHECK_URL} and that the site is up and reachable from here",
        ) from None
    except TimeoutError:
        raise _timed_out(url, timeout) from None
    except (http.client.HTTPException, OSError, ValueError) as exc:
        raise SourceError(f"{url}: the download failed ({exc})", CHECK_URL) from None
    if len(body) > MAX_BYTES:
        raise SourceError(
            f"{url}: the feed is larger than {MAX_BYTES // (1024 * 1024)} MB",
            f"{CHECK_URL}; it should name the feed, not a large file",
        )
    return body


def _timed_out(url: str, timeout: float) -> SourceError:
    return SourceError(
        f"{url}: no answer within {timeout:g} seconds",
        f"{CHECK_URL}, try again later, or raise [source] timeout",
    )
