"""Plain functions about text that every stage may use.

Untrusted text (a subscriber's name, a feed's title, a server's error message) reaches
the terminal in digest's own lines. A terminal obeys what such text may hide: escape
sequences that clear the screen, set the window title or recolour what follows,
carriage returns and backspaces that overwrite a line, bidirectional overrides
that show text in another order than it is. ``terminal_safe`` shows each of those
as an inert escape instead, and leaves every other character as it is.

``readable_time`` writes an instant as a person reads it, to the minute, in a zone
(the schedule's, where the newsletter is made): ``2026-03-09 09:00 PDT``.

``html_to_text`` reads the visible text of well-formed HTML, such as sanitized post
content, for an excerpt. Post content can be any size (a megabyte is not unusual for
a long post with inline images), while an excerpt needs a few hundred characters, so
the HTML is parsed incrementally and parsing stops as soon as enough text was
collected: the cost is bounded by the text wanted, not the post. (Markup from a feed,
untrusted and often malformed, is read by the sanitizer's own parser:
``sources.sanitize.html_to_text``.)
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

# Every control character (C0 with tab, newline, carriage return, backspace, bell and
# ESC; DEL; C1 with CSI), the line and paragraph separators, the bidirectional
# embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), and lone
# surrogates, which no terminal encoding can write.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def terminal_safe(text: str) -> str:
    """``text`` with each character a terminal would act on shown as its Python escape
    (``\\x1b``, ``\\n``, ``\\u202e``): one line that looks like what it says."""
    if text.isprintable():  # the common case: nothing above is printable
        return text
    return _UNSAFE.sub(_escape, text)


def _escape(found: re.Match[str]) -> str:
    return ascii(found.group())[1:-1]


ELLIPSIS = "…"
_CHUNK = 2048
SKIPPED_TAGS = frozenset({"script", "style", "template", "noscript", "svg", "math", "head"})
BREAKING_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
_WHITESPACE = re.compile(r"\s+")


def collapse(text: str) -> str:
    """Text with every run of whitespace (newlines included) made one space, ends trimmed."""
    return _WHITESPACE.sub(" ", text).strip()


class _TextCollector(HTMLParser):
    """Collects the visible text of an HTML fragment, a space wherever a block breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.size = 0
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_TAGS:
            self.skipping += 1
        elif tag in BREAKING_TAGS:
            self._add(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BREAKING_TAGS:
            self._add(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in BREAKING_TAGS:
            self._add(" ")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self._add(data)

    def _add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)


def html_to_text(html: str, limit: int | None = None) -> str:
    """The visible text of an HTML fragment, whitespace collapsed.

    With ``limit``, parsing stops once well over ``limit`` characters were read,
    so the result is at least ``limit`` long when the text is, and cheap whatever
    the size of ``html``. Chunks double in size, so a huge tag (an inline data:
    image) that the parser must rescan on every feed costs linear time, not quadratic.
    """
    collector = _TextCollector()
    enough = None if limit is None else 2 * limit + 64
    start, chunk = 0, _CHUNK
    while start < len(html):
        collector.feed(html[start : start + chunk])
        if enough is not None and collector.size >= enough:
            break
        start, chunk = start + chunk, chunk * 2
    else:
        collector.close()
    return collapse("".join(collector.parts))


def trim(text: str, max_chars: int, max_words: int | None = None) -> str:
    """``text`` cut at a word boundary to at most ``max_chars`` (and ``max_words``), with "…".

    Whitespace is collapsed first. A first word longer than the limit is cut inside.
    """
    text = collapse(text)
    words = text.split(" ")
    if len(text) <= max_chars and (max_words is None or len(words) <= max_words):
        return text
    kept: list[str] = []
    size = len(ELLIPSIS)
    for word in words[:max_words]:
        extra = len(word) + (1 if kept else 0)
        if size + extra > max_chars:
            break
        kept.append(word)
        size += extra
    if not kept:
        return text[: max_chars - len(ELLIPSIS)] + ELLIPSIS
    return " ".join(kept).rstrip(",;:.!?-–—") + ELLIPSIS


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like a misspelled ``word`` (difflib's ratio at least 0.6), for a
    "did you mean": None when nothing is that close."""
    found = difflib.get_close_matches(word, list(choices), n=1)
    return found[0] if found else None


def plural(count: int, noun: str, nouns: str = "") -> str:
    """``count`` with its noun in the number it takes: "1 post", "0 posts", "2 posts"
    (``nouns``, the plural, when adding an "s" does not make it: "addresses")."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def readable_time(moment: datetime, zone: tzinfo | str = UTC) -> str:
    """A moment as a message shows it: to the minute, in ``zone`` (a tzinfo or an IANA
    name), with the zone's abbreviation: "2026-12-07 14:07 UTC", "2026-03-09 09:00 PDT"
    (or its offset, "+0530", where the zone has no abbreviation)."""
    local = moment.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone)
    name = local.tzname() or ""
    if not name or name[0] in "+-":
        name = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {name}"
