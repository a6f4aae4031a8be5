"""Text for templates: a post's excerpt, the inbox preview line, dates as readers write them.

Reading HTML as text and cutting it at a word are the ground's (``digest.text``), which
the sources share.
"""

from __future__ import annotations

import re
from datetime import datetime

from ..text import ELLIPSIS, collapse, html_to_text, trim

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
SENTENCE_END = re.compile(r"[.!?…][\"'”’)]*(?= )")
PHRASE_END = re.compile(r"[,;:](?= )| [–—](?= )")


def preview(text: str, max_chars: int) -> str:
    """``text`` as an inbox preview line: whole if it fits, else cut where a reader pauses.

    A preview cut mid-phrase ("could displace 29%…") reads as a broken sentence, so the
    cut falls after the last whole sentence that fits, else before the last comma, colon
    or dash (with "…"), else at a word (``trim``); a boundary in the first half of the
    limit is passed over, as it would leave the preview line mostly empty.
    """
    text = collapse(text)
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
