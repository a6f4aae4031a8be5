"""A cheap linear pre-pass that bounds how deep untrusted HTML nests, before it is sanitized.

An HTML parser checks scopes by walking its stack of open elements, so its work grows
with depth times length: one post of 100,000 nested ``<div>``s kept the sanitizer busy
for minutes, and beyond about 250 levels premailer's parser silently drops the rest of
the email (the footer and its unsubscribe link with it). ``cap_nesting`` finds where a
fragment would first nest deeper than a limit and cuts it there.

It follows the HTML parsing rules that decide depth closely enough to never count less
than a parser builds, except by a small constant factor: tags close only what they
would close in a browser (an end tag beyond a table cell's scope is ignored, ``<p>`` and
``<li>`` close their open siblings), formatting elements such as ``<b>`` stay counted
until their own end tag (a parser reopens them in every following block), text inside
``<script>`` or a comment is not markup, and ``<path/>`` closes itself only inside SVG
or MathML. Where a rule is unsure it counts more, never less: a sloppy but ordinary post
(unclosed paragraphs, list items, table cells) stays far below the limit.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

MAX_DEPTH = 100

VOID = frozenset({
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img",
    "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
})  # fmt: skip
# Whose text is never markup (noscript is left out: without scripting it is markup).
RAW_TEXT = frozenset({
    "iframe", "noembed", "noframes", "plaintext", "script", "style", "textarea", "title", "xmp",
})  # fmt: skip
# Reopened by the parser in each following block until their own end tag closes them.
FORMATTING = frozenset({
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt",
    "u",
})  # fmt: skip
# Formatting opened inside one of these ends with it.
MARKERS = frozenset({"applet", "caption", "marquee", "object", "td", "template", "th"})
# A start tag closes these while they are the innermost open element.
_TABLE_PARTS = frozenset({
    "caption", "colgroup", "p", "tbody", "td", "tfoot", "th", "thead", "tr",
})  # fmt: skip
IMPLIED_ENDS = {
    "p": frozenset({"p"}),
    "li": frozenset({"li", "p"}),
    "dd": frozenset({"dd", "dt", "p"}),
    "dt": frozenset({"dd", "dt", "p"}),
    "option": frozenset({"option"}),
    "optgroup": frozenset({"option", "optgroup"}),
    "tr": frozenset({"p", "td", "th", "tr"}),
    "td": frozenset({"p", "td", "th"}),
    "th": frozenset({"p", "td", "th"}),
    "tbody": _TABLE_PARTS,
    "thead": _TABLE_PARTS,
    "tfoot": _TABLE_PARTS,
}
# An end tag closes its element only if none of these lies between (the element's scope).
_SCOPE = frozenset({
    "applet", "caption", "html", "marquee", "object", "table", "td", "template", "th",
})  # fmt: skip
_TABLE_SCOPE = frozenset({"html", "table", "template"})
_TABLE_ELEMENTS = ("caption", "colgroup", "table", "tbody", "td", "tfoot", "th", "thead", "tr")
SCOPES = {
    **dict.fromkeys(_TABLE_ELEMENTS, _TABLE_SCOPE),
    "li": _SCOPE | {"ol", "ul"},
    "p": _SCOPE | {"button"},
}
FOREIGN_ROOTS = frozenset({"math", "svg"})
# Inside SVG or MathML, these hold HTML again.
INTEGRATION_POINTS = frozenset({
    "annotation-xml", "desc", "foreignobject", "mi", "mn", "mo", "ms", "mtext", "title",
})  # fmt: skip
# Inside SVG or MathML, these end the foreign content and open as HTML.
BREAKOUT = frozenset({
    "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em",
    "embed", "font", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li",
    "listing", "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s", "small", "span", "strike",
    "strong", "sub", "sup", "table", "tt", "u", "ul", "var",
})  # fmt: skip
# How many identical formatting elements a parser keeps open ("Noah's Ark").
KEPT_ALIKE = 3

_MARKUP = re.compile(r"<(?:(/?)([A-Za-z][^\t\n\f\r />]*)([^>]*)>?|!--|[!?/])")
_COMMENT_END = re.compile(r"--!?>")


class _Open(NamedTuple):
    """An open element: its name, how much formatting was open when it started, and
    whether what it holds is SVG or MathML (foreign content) rather than HTML."""

    name: str
    formatting: int
    foreign: bool


class _Tree:
    """The open elements as a parser would hold them, kept only as far as depth needs:
    the elements, the formatting a parser would reopen, and whether the innermost
    element holds foreign content."""

    __slots__ = ("foreign", "formatting", "stack")

    def __init__(self) -> None:
        self.stack: list[_Open] = []
        self.formatting: list[tuple[str, str]] = []
        self.foreign = False

    @property
    def depth(self) -> int:
        return len(self.stack) + len(self.formatting)

    def start(self, name: str, attributes: str) -> None:
        """Open ``name``, unless it is void (or closes itself, in SVG or MathML)."""
        if self.foreign and name in BREAKOUT:
            while self.foreign:
                self._pop()
        if self.foreign:
            if not attributes.rstrip().endswith("/"):
                self._push(name, foreign=name not in INTEGRATION_POINTS)
        elif name in FORMATTING:
            self._open_formatting(name, attributes.strip())
        elif name not in VOID:
            implied = IMPLIED_ENDS.get(name, ())
            while self.stack and self.stack[-1].name in implied:
                self._pop()
            self._push(name, foreign=name in FOREIGN_ROOTS)

    def end(self, name: str) -> None:
        """Close ``name`` as a parser would; ignored when it is not open within its scope."""
        if name in FORMATTING:
            for index in range(len(self.formatting) - 1, -1, -1):
                if self.formatting[index][0] == name:
                    del self.formatting[index]
                    return
            return
        scope = SCOPES.get(name, _SCOPE)
        for index in range(len(self.stack) - 1, -1, -1):
            open_name = self.stack[index].name
            if open_name == name:
                while len(self.stack) > index:
                    self._pop()
                return
            if open_name in scope:
                return

    def _push(self, name: str, *, foreign: bool) -> None:
        self.stack.append(_Open(name, len(self.formatting), foreign))
        self.foreign = foreign

    def _pop(self) -> None:
        closed = self.stack.pop()
        if closed.name in MARKERS:
            del self.formatting[closed.formatting :]
        self.foreign = bool(self.stack) and self.stack[-1].foreign

    def _open_formatting(self, name: str, attributes: str) -> None:
        """Formatting joins the list a parser reopens; a new ``<a>`` ends the link before
        it, and a fourth element alike (same name and attributes) drops the oldest."""
        entry = (name, attributes)
        if name == "a":
            self.formatting = [held for held in self.formatting if held[0] != "a"]
        else:
            alike = [index for index, held in enumerate(self.formatting) if held == entry]
            if len(alike) >= KEPT_ALIKE:
                del self.formatting[alike[0]]
        self.formatting.append(entry)


def cap_nesting(fragment: str, max_depth: int = MAX_DEPTH) -> tuple[str, bool]:
    """``fragment`` cut before the first tag that would nest deeper than ``max_depth``
    elements, and whether it was cut. Linear in the fragment's length."""
    if fragment.count("<") <= max_depth:
        return fragment, False
    tree = _Tree()
    position = 0
    while (match := _MARKUP.search(fragment, position)) is not None:
        closing, name, attributes = match.groups()
        position = match.end()
        if name is None:
            position = _after_comment(fragment, match)
            continue
        name = name.lower()
        if closing:
            tree.end(name)
            continue
        raw_text = name in RAW_TEXT and not tree.foreign
        tree.start(name, attributes)
        if tree.depth > max_depth:
            return fragment[: match.start()], True
        if raw_text:
            position = _after_raw_text(fragment, name, position)
    return fragment, False


def _after_comment(fragment: str, match: re.Match[str]) -> int:
    """Where markup resumes after ``<!--`` (which ``<!-->`` ends at once), ``<!``, ``<?``
    or ``</`` not followed by a letter (up to the next ``>``): the end when it never does."""
    if match.group(0) == "<!--":
        end = _COMMENT_END.search(fragment, match.start() + 2)
        return end.end() if end else len(fragment)
    end = fragment.find(">", match.end())
    return end + 1 if end >= 0 else len(fragment)


def _after_raw_text(fragment: str, name: str, position: int) -> int:
    """Where markup resumes after a raw text element's text: at its end tag, else the end."""
    end = _raw_text_end(name).search(fragment, position)
    return end.start() if end else len(fragment)


@functools.cache
def _raw_text_end(name: str) -> re.Pattern[str]:
    return re.compile(rf"</{name}[\t\n\f\r />]", re.IGNORECASE)
