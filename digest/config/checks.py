"""The rules a key's value must follow beyond its type, one function each.

A check takes the key's label (``sendgrid.timeout``, or the environment variable that
set it) and its value, already of the key's type, and returns the problem in one line
naming the label, or "" when the value is fine. Each rule is checked here, once, as the
settings load (see ``settings.py``, where each key names its rule); the code downstream
trusts the settings it is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..urls import is_url

# A check of one converted value: the problem, naming ``label``, or "" when the value is fine.
Check = Callable[[str, Any], str]

MAX_TIMEOUT = 3600.0
MAX_GRACE_MINUTES = 7 * 24 * 60
# SendGrid's documented limits on a message's categories.
MAX_CATEGORIES = 10
MAX_CATEGORY_CHARS = 255
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def not_negative(label: str, value: float) -> str:
    """What any number without a rule of its own must be."""
    return f"{label} must not be negative, not {value!r}" if value < 0 else ""


def seconds(label: str, value: float) -> str:
    """A network timeout: 0 would fail every wait, and an hour is already longer than useful."""
    if 0 < value <= MAX_TIMEOUT:
        return ""
    return f"{label} must be more than 0 and at most {MAX_TIMEOUT:g} seconds, not {value!r}"


def between(low: int, high: int | None, note: str = "") -> Check:
    """Whole numbers from ``low`` to ``high`` (no upper bound when None)."""

    def check(label: str, value: int) -> str:
        if value < low:
            return f"{label} must be at least {low}, not {value!r}"
        if high is not None and value > high:
            return f"{label} must be at most {high}{note}, not {value!r}"
        return ""

    return check


def http_url(example: str, *, optional: bool = False) -> Check:
    """An absolute http(s) URL with a host; the empty string too when ``optional``."""

    def check(label: str, value: str) -> str:
        if optional and not value:
            return ""
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 (raises ValueError for a port that is not one)
            valid = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        except ValueError:
            valid = False
        if valid and value.isprintable() and not any(char.isspace() for char in value):
            return ""
        return f"{label} must be an http(s) URL such as {example}, not {value!r}"

    return check


def unsubscribe_url(label: str, value: str) -> str:
    """Empty, or an http(s) URL in plain ASCII: it goes into the List-Unsubscribe header,
    where anything else would be encoded out of recognition (and one-click lost).

    It must not carry ``{email}``: the token alone names the reader, and an address in
    a URL ends up in web logs and Referer headers (and costs a spam-filter point).
    """
    if not value:
        return ""
    if not value.isascii():
        return (
            f"{label} must be plain ASCII (percent-encode the path, write the host in its "
            f"xn-- form), not {value!r}"
        )
    if "{email}" in value:
        return (
            f"{label} must not carry {{email}}: the token alone names the reader, and an "
            f"address in a URL ends up in web logs; write it as "
            f"https://example.com/unsubscribe?token={{token}}, not {value!r}"
        )
    return http_url("https://example.com/unsubscribe?token={token}")(label, value)


def header_text(label: str, value: str) -> str:
    """Text for a header such as From: printable, on one line."""
    if value.isprintable():
        return ""
    return f"{label} must be printable text on one line, not {value!r}"


def address(label: str, value: str) -> str:
    """Empty, or shaped as a bare address (the sender's display name is newsletter.name).

    Only the shape: a send validates the address fully, while build and the dry run
    may well use a test domain such as localhost that no real send would take.
    """
    if not value or _bare_address(value):
        return ""
    return (
        f"{label} must be a bare address such as news@example.com (the display name "
        f"comes from newsletter.name), not {value!r}"
    )


def _bare_address(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return (
        bool(at and local and domain)
        and value.isprintable()
        and not any(char.isspace() or char in '<>(),;:"[]\\' for char in value)
    )


def mailto(label: str, value: str) -> str:
    """Empty, or an ASCII address (``mailto:`` and a ``?subject=`` query allowed) for the
    List-Unsubscribe header, where anything else would be encoded out of recognition."""
    bare, _, query = value.strip().removeprefix("mailto:").partition("?")
    if not value or (
        value.isascii()
        and _bare_address(bare)
        and query.isprintable()
        and not any(char.isspace() or char in "<>" for char in query)
    ):
        return ""
    return (
        f"{label} must be a plain ASCII address such as unsubscribe@example.com "
        f"(optionally with ?subject=...), not {value!r}"
    )


def host_name(label: str, value: str) -> str:
    """A host name or IP address the network can look up."""
    try:
        valid = bool(value) and value.isprintable() and " " not in value
        value.encode("idna")
    except UnicodeError:
        valid = False
    if valid:
        return ""
    return f"{label} must be the server's host name, such as smtp.example.com, not {value!r}"


def source_location(label: str, value: str) -> str:
    """A file path, or an http(s) URL: anything else with a scheme (ftp://, file://) would
    otherwise be taken for a relative path that does not exist."""
    url = value.strip()
    if is_url(url):
        return http_url("https://example.com/feed.xml")(label, url)
    if _URL_SCHEME.match(url):
        return f"{label} must be a file path or an http(s) URL, not {value!r}"
    return file_path(label, value)


def file_path(label: str, value: str) -> str:
    """A path the file system can take (a NUL byte ends a path in C) and whose ``~user``, if
    it starts with one, exists."""
    if "\0" in value:
        return f"{label} must not contain a NUL character, not {value!r}"
    if value.startswith("~"):
        try:
            Path(value).expanduser()
        except RuntimeError:
            return f"{label}: {value!r} starts with ~ but names no user's home folder"
    return ""


def categories(label: str, value: list[str]) -> str:
    """SendGrid's documented limits, checked here so that no send starts with a doomed request."""
    if len(value) > MAX_CATEGORIES:
        return f"{label} must have at most {MAX_CATEGORIES} categories, not {len(value)}"
    if any(not 1 <= len(name) <= MAX_CATEGORY_CHARS for name in value):
        return f"{label}: each category must be 1 to {MAX_CATEGORY_CHARS} characters long"
    repeated = sorted({name for name in value if value.count(name) > 1})
    if repeated:
        return f"{label} names {', '.join(map(repr, repeated))} more than once"
    return ""


def grace_problem(label: str, minutes: int) -> str:
    """Whole minutes from 1 (a run itself takes a moment) to a week."""
    if 1 <= minutes <= MAX_GRACE_MINUTES:
        return ""
    return f"{label} must be from 1 to {MAX_GRACE_MINUTES} minutes (a week), not {minutes!r}"


def zone_problem(label: str, name: str) -> str:
    """An IANA zone name this machine's time zone database knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"{label}: unknown time zone {name!r}; use an IANA name such as America/Los_Angeles"
    return ""


def api_key(label: str, value: str) -> str:
    """An API key goes into an HTTP header: printable ASCII without spaces. Never shown."""
    if not value or (value.isascii() and value.isprintable() and " " not in value):
        return ""
    return (
        f"{label} has characters no API key has (a space, a line break?): set it to the key alone"
    )


def utf8_text(label: str, value: str) -> str:
    """Real text: an environment variable that is not UTF-8 reaches Python with its bad
    bytes as lone surrogates, which nothing can encode or print. Never shown."""
    return "" if is_text(value) else f"{label} is not valid UTF-8 text"


def is_text(value: str) -> bool:
    """Whether ``value`` encodes as UTF-8 (see ``utf8_text``)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
