"""Plain-text helpers for templates: HTML to a bounded text excerpt, trimming, dates.

Post content can be any size (a megabyte is not unusual for a long post with
inline images), while an excerpt needs a few hundred characters. The HTML is
therefore parsed incrementally, chunk by chunk, and parsing stops as soon as
enough text has been collected: the cost is bounded by the excerpt, not the post.
"""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser

ELLIPSIS = "…"
CHUNK = 2048
SKIPPED_TAGS = frozenset({"script", "style", "template", "noscript", "svg", "math", "head"})
BREAKING_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
WHITESPACE = re.compile(r"\s+")
SENTENCE_END = re.compile(r"[.!?…][\"'”’)]*(?= )")
PHRASE_END = re.compile(r"[,;:](?= )| [–—](?= )")


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
    start, chunk = 0, CHUNK
    while start < len(html):
        collector.feed(html[start : start + chunk])
        if enough is not None and collector.size >= enough:
            break
        start, chunk = start + chunk, chunk * 2
    else:
        collector.close()
    return WHITESPACE.sub(" ", "".join(collector.parts)).strip()


def trim(text: str, max_chars: int, max_words: int | None = None) -> str:
    """``text`` cut at a word boundary to at most ``max_chars`` (and ``max_words``), with "…"."""
    text = WHITESPACE.sub(" ", text).strip()
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


def preview(text: str, max_chars: int) -> str:
    """``text`` as an inbox preview line: whole if it fits, else cut where a reader pauses.

    A preview cut mid-phrase ("could displace 29%…") reads as a broken sentence, so the
    cut falls after the last whole sentence that fits, else before the last comma, colon
    or dash (with "…"), else at a word (``trim``); a boundary in the first half of the
    limit is passed over, as it would leave the preview line mostly empty.
    """
    text = WHITESPACE.sub(" ", text).strip()
    if len(text) <= max_chars:
        return text
    floor = max_chars // 2
    sentences = [m.end() for m in SENTENCE_END.finditer(text, 0, max_chars + 1)]
    if sentences and sentences[-1] >= floor:
        return text[: sentences[-1]]
    phrases = [m.start() for m in PHRASE_END.finditer(text, 0, max_chars)]
    if phrases and phrases[-1] >= floor:
        return text[: phrases[-1]] + ELLIPSIS
    return trim(text, max_chars)


def excerpt(html: str, max_chars: int, max_words: int | None = None) -> str:
    """A plain-text excerpt of an HTML fragment of any size."""
    return trim(html_to_text(html, limit=max_chars), max_chars, max_words)


def format_date(moment: datetime | None) -> str:
    """A date as readers expect it in the email, "January 30, 2026"; empty without a date."""
    if moment is None:
        return ""
    return f"{MONTHS[moment.month - 1]} {moment.day}, {moment.year}"
