"""How deep HTML nests, counted in one cheap linear pass, to cut it where it goes too deep.

An HTML parser checks scopes by walking its stack of open elements, so its work grows
with depth times length: one post of 100,000 nested ``<div>``s kept the sanitizer busy
for minutes. And beyond about 250 levels premailer's parser silently drops the rest of
the email, the footer and its unsubscribe link with it.

``cap_nesting`` counts the elements a parser has open, but closes one only when the parser
surely does: when its end tag, or a start tag that implies its end (``<li>`` ends the
``<li>`` before it), comes while it is the innermost element, or while only formatting
(``<b>``...) or a ``<p>`` is open inside it (or a list item in a list, a cell in a table).
Where a parser would close more (an end tag past other elements, SVG's ``<path/>``), the
count stays higher. Formatting closed by another element's end stays counted until its own
end tag, as a parser reopens it in every following block. So the parser is never much
deeper than the count (by a table's implied ``<tbody>`` and ``<tr>``), whatever the
markup; the price is that very long sloppy markup (hundreds of paragraphs each leaving a
``<font>`` open) counts deep too. Text a parser reads as text (comments, ``<script>``) is
skipped only where it surely is text: a comment ends at its earliest possible end, and
where SVG, MathML or a ``<select>`` is open, ``<script>`` is read as markup and a comment
ends at the next ``>``. On well-formed HTML, such as the sanitizer's own output, the count
is exact.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

# Where cleaned post HTML is cut (premailer drops all beyond about 250 levels, and the
# email's own layout takes some 25 of them).
MAX_DEPTH = 100
# Where HTML is cut before it is parsed: a parser at a few times this depth still takes
# only a second or two over a two-megabyte post.
MAX_PARSE_DEPTH = 400

VOID = frozenset({
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img",
    "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
})  # fmt: skip
# Whose text is no markup, in HTML (in SVG, MathML or a <select> it may be). noscript is
# among them as the sanitizer's parser runs with scripting on, as browsers do.
RAW_TEXT = frozenset({
    "iframe", "noembed", "noframes", "noscript", "plaintext", "script", "style", "textarea",
    "title", "xmp",
})  # fmt: skip
RAW_TEXT_OFF = ("math", "select", "svg")
# A fragment is parsed inside a body: these start tags open nothing.
IGNORED = frozenset({"body", "frameset", "head", "html"})
FORMATTING = frozenset({
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt",
    "u",
})  # fmt: skip
# Formatting opened inside one of these is reopened only inside it.
MARKERS = frozenset({"applet", "caption", "marquee", "object", "td", "template", "th"})
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
TABLE_PARTS = frozenset({"caption", "colgroup", "tbody", "td", "tfoot", "th", "thead", "tr"})
# What an end tag closes past (and the start tags that end an element): formatting and
# <p>, and what the element itself may hold with its end tag left out.
_PAST = FORMATTING | {"p"}
PAST: dict[str, frozenset[str]] = {
    "ul": _PAST | {"li"},
    "ol": _PAST | {"li"},
    "dl": _PAST | {"dd", "dt"},
    "select": _PAST | {"optgroup", "option"},
    "optgroup": _PAST | {"option"},
    "ruby": _PAST | {"rb", "rp", "rt", "rtc"},
    **dict.fromkeys(TABLE_PARTS | {"table"}, _PAST | TABLE_PARTS),
}
# How far from the innermost element an end is looked for: farther is no ordinary markup.
_REACH = 16

# What an element's start tag ends, rule by rule: an element of the first set, when only
# elements of the second set are open inside it.
Rule = tuple[frozenset[str], frozenset[str]]
_P: Rule = (frozenset({"p"}), FORMATTING)
_CLOSING_P = (
    "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div",
    "dl", "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "hr",
    "listing", "main", "menu", "nav", "ol", "p", "plaintext", "pre", "search", "section",
    "summary", "ul", "xmp",
)  # fmt: skip
START_ENDS: dict[str, tuple[Rule, ...]] = {
    **dict.fromkeys(_CLOSING_P, (_P,)),
    **dict.fromkeys(HEADINGS, (_P, (HEADINGS, frozenset()))),
    "a": ((frozenset({"a"}), FORMATTING),),
    "li": ((frozenset({"li"}), _PAST), _P),
    "dd": ((frozenset({"dd", "dt"}), _PAST), _P),
    "dt": ((frozenset({"dd", "dt"}), _PAST), _P),
    "option": ((frozenset({"option"}), frozenset()),),
    "optgroup": ((frozenset({"option"}), frozenset()),),
    "table": (_P, (frozenset({"table"}), frozenset())),
    "td": ((frozenset({"td", "th"}), _PAST),),
    "th": ((frozenset({"td", "th"}), _PAST),),
    "tr": ((frozenset({"td", "th", "tr"}), _PAST),),
    **dict.fromkeys(("caption", "colgroup", "tbody", "tfoot", "thead"), ((TABLE_PARTS, _PAST),)),
}

_MARKUP = re.compile(r"<(?:(/?)([A-Za-z][^\t\n\f\r />]*)[^>]*>?|!--|[!?/])")
_COMMENT_END = re.compile(r"--!?>")


class _Stack:
    """The elements a parser has open (closed only where it surely closes them), and the
    formatting it will reopen, by name, in segments: from the innermost table cell (or
    other marker) on, where an end tag can stop a parser reopening one."""

    __slots__ = ("counts", "names", "reopened", "segments")

    def __init__(self) -> None:
        self.names: list[str] = []
        self.counts: dict[str, int] = {}
        self.segments: list[dict[str, int]] = [{}]
        self.reopened = 0

    @property
    def depth(self) -> int:
        return len(self.names) + self.reopened

    def has(self, names: Iterable[str]) -> bool:
        return any(self.counts.get(name) for name in names)

    def start(self, name: str) -> None:
        """Open ``name``, after ending what its start tag surely ends."""
        if name in IGNORED:
            return
        for rule in START_ENDS.get(name, ()):
            while self._ends(*rule):
                pass
        if name == "a":  # a new link ends the one before, even one waiting to be reopened
            self._forget("a")
        if name not in VOID:
            self.names.append(name)
            self.counts[name] = self.counts.get(name, 0) + 1
            if name in MARKERS:
                self.segments.append({})

    def end(self, name: str) -> None:
        """Close ``name`` if its end tag surely closes it (``</h2>`` any heading)."""
        if name in FORMATTING:
            if not self._ends(frozenset({name}), FORMATTING) and not self.counts.get(name):
                self._forget(name)
        else:
            self._ends(HEADINGS if name in HEADINGS else frozenset({name}), PAST.get(name, _PAST))

    def _ends(self, names: frozenset[str], inside: frozenset[str]) -> bool:
        """Close the innermost element of ``names`` if only elements of ``inside`` are
        open within it, and say whether there was one."""
        if not self.has(names):
            return False
        for index in range(len(self.names) - 1, max(len(self.names) - _REACH, 0) - 1, -1):
            if self.names[index] in names:
                while len(self.names) > index:
                    self._pop(reopen=len(self.names) - 1 > index)
                return True
            if self.names[index] not in inside:
                return False
        return False

    def _pop(self, *, reopen: bool) -> None:
        """Close the innermost element: formatting closed by another's end is counted as
        reopened, and what a marker's segment held stays counted after it (a parser
        forgets it there, but the marker may be one the parser never opened)."""
        name = self.names.pop()
        self.counts[name] -= 1
        if name in MARKERS:
            for held, count in self.segments.pop().items():
                self.segments[-1][held] = self.segments[-1].get(held, 0) + count
        elif reopen and name in FORMATTING:
            self.segments[-1][name] = self.segments[-1].get(name, 0) + 1
            self.reopened += 1

    def _forget(self, name: str) -> None:
        """One formatting element ``name`` is no longer to be reopened (its end tag came
        while none was open, or a new link replaces it)."""
        segment = self.segments[-1]
        if segment.get(name):
            segment[name] -= 1
            self.reopened -= 1


def cap_nesting(fragment: str, max_depth: int = MAX_DEPTH) -> tuple[str, bool]:
    """``fragment`` cut before the first tag that would open more than ``max_depth``
    elements (see the module's docstring for how they are counted), and whether it was."""
    if fragment.count("<") <= max_depth:
        return fragment, False
    stack = _Stack()
    position = 0
    while (match := _MARKUP.search(fragment, position)) is not None:
        closing, name = match.groups()
        position = match.end()
        if name is None:
            position = _after_comment(fragment, match, cautious=stack.has(RAW_TEXT_OFF))
            continue
        if name.isascii():  # as HTML lowercases names: the Kelvin sign is no k
            name = name.lower()
        if closing:
            stack.end(name)
            continue
        stack.start(name)
        if stack.depth > max_depth:
            return fragment[: match.start()], True
        if name in RAW_TEXT and not stack.has(RAW_TEXT_OFF):
            position = _after_raw_text(fragment, name, position)
    return fragment, False


def _after_comment(fragment: str, match: re.Match[str], *, cautious: bool) -> int:
    """Where markup resumes after ``<!--`` (which ``<!-->`` ends at once), ``<!``, ``<?``
    or ``</`` not followed by a letter (up to the next ``>``): the end when it never does.

    It resumes at the earliest place a parser could, never later. ``cautious`` (where
    raw text is read as markup: ``<!--`` may be no comment) resumes at the next ``>``.
    """
    if match.group(0) == "<!--" and not cautious:
        end = _COMMENT_END.search(fragment, match.start() + 2)
        return end.end() if end else len(fragment)
    end = fragment.find(">", match.start() + 2)
    return end + 1 if end >= 0 else len(fragment)


def _after_raw_text(fragment: str, name: str, position: int) -> int:
    """Where markup resumes after a raw text element's text: at its end tag, else the end."""
    end = _raw_text_end(name).search(fragment, position)
    return end.start() if end else len(fragment)


@functools.cache
def _raw_text_end(name: str) -> re.Pattern[str]:
    return re.compile(rf"</{name}[\t\n\f\r />]", re.IGNORECASE)
