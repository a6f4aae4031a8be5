"""The one adapter for mjml-python (MRML, the Rust port of MJML): MJML markup in, HTML out.

MRML compiles what it does not know without a word: an unknown tag (``<mj-buton>``)
or an HTML tag between MJML's goes into the HTML as it is, and a component where
MJML does not allow it is laid out anyhow. So the markup is checked first against
the tags MJML defines and where each may go (MJML's own validator's rules), and
every tag left open or closed twice is found there too, where MRML would only say
"unexpected end of stream". Each fault is a TemplateError naming the template file
and line that wrote the tag (``where``: templates.Traced.where), an included partial
rather than ``digest.mjml.j2``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

from mjml import mjml2html

from ..errors import TemplateError

POSITION = re.compile(r"at position (\d+)")

Where = Callable[[int], str]

# Where each MJML component may go: its parent's allowed children (mjml-preset-core's
# dependencies.js); mj-attributes takes any component's name.
CHILDREN: dict[str, frozenset[str]] = {
    "mjml": frozenset({"mj-body", "mj-head", "mj-raw"}),
    "mj-head": frozenset(
        {"mj-attributes", "mj-breakpoint", "mj-html-attributes", "mj-font", "mj-preview"}
        | {"mj-style", "mj-title", "mj-raw"}
    ),
    "mj-body": frozenset({"mj-raw", "mj-section", "mj-wrapper", "mj-hero"}),
    "mj-wrapper": frozenset({"mj-hero", "mj-raw", "mj-section"}),
    "mj-section": frozenset({"mj-column", "mj-group", "mj-raw"}),
    "mj-group": frozenset({"mj-column", "mj-raw"}),
    "mj-column": frozenset(
        {"mj-accordion", "mj-button", "mj-carousel", "mj-divider", "mj-image", "mj-raw"}
        | {"mj-social", "mj-spacer", "mj-table", "mj-text", "mj-navbar"}
    ),
    "mj-navbar": frozenset({"mj-navbar-link", "mj-raw"}),
    "mj-social": frozenset({"mj-social-element", "mj-raw"}),
    "mj-accordion": frozenset({"mj-accordion-element", "mj-raw"}),
    "mj-accordion-element": frozenset({"mj-accordion-title", "mj-accordion-text", "mj-raw"}),
    "mj-carousel": frozenset({"mj-carousel-image"}),
    "mj-html-attributes": frozenset({"mj-selector"}),
    "mj-selector": frozenset({"mj-html-attribute"}),
}
CHILDREN["mj-hero"] = CHILDREN["mj-column"]
# Components whose content is HTML or text, not components ("ending tags").
ENDING = frozenset(
    {"mj-text", "mj-button", "mj-table", "mj-navbar-link", "mj-accordion-title"}
    | {"mj-accordion-text", "mj-social-element", "mj-html-attribute", "mj-title", "mj-preview"}
)
# Components whose content is passed on unread: MRML takes HTML left open in mj-raw.
RAW = frozenset({"mj-raw", "mj-style"})
LEAVES = frozenset(
    {"mj-attributes", "mj-all", "mj-class", "mj-breakpoint", "mj-font", "mj-image"}
    | {"mj-divider", "mj-spacer", "mj-carousel-image"}
)
TAGS = frozenset(CHILDREN) | ENDING | RAW | LEAVES
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"}
    | {"source", "track", "wbr"}
)
RAW_HTML = frozenset({"script", "style"})

_PIECE = re.compile(
    r"""(?P<comment><!--.*?-->|<!\[CDATA\[.*?\]\]>|<![^>]*>)
      | <(?P<close>/)?(?P<name>[A-Za-z][^\s/>]*)(?:"[^"]*"|'[^']*'|[^'">])*?(?P<empty>/)?>
      | (?P<lone><)""",
    re.DOTALL | re.VERBOSE,
)


def compile_mjml(source: str, where: Where) -> str:
    """Check MJML markup, then compile it to HTML; a TemplateError names the template and
    line at fault (``where(offset)`` for an offset in ``source``).

    No web fonts: MJML's default Google Fonts import would make clients (and
    premailer) fetch fonts.googleapis.com, and the design uses a system font stack.
    """
    check_mjml(source, where)
    try:
        return mjml2html(source, fonts={}, disable_comments=True)
    except ValueError as exc:
        found = POSITION.search(str(exc))
        offset = _char_offset(source, int(found.group(1))) if found else 0
        raise TemplateError(
            f"{where(offset)}: MJML could not compile it: {exc}",
            "check that every mj-* tag is closed and nested as MJML expects",
        ) from None


def _char_offset(source: str, byte_offset: int) -> int:
    """The character offset of MRML's byte offset, at the start of the tag it falls in."""
    offset = len(source.encode("utf-8")[:byte_offset].decode("utf-8", "ignore"))
    start = source.rfind("<", 0, offset + 1)
    return start if start >= 0 else offset


@dataclass
class _Open:
    name: str
    offset: int


def check_mjml(source: str, where: Where) -> None:
    """Raise a TemplateError for the first fault MRML would pass over or not place."""
    stack: list[_Open] = []
    done = 0
    while found := _PIECE.search(source, done):
        _check_text(source[done : found.start()], stack, done, where)
        done = found.end()
        if found.group("comment"):
            continue
        if found.group("lone"):
            raise _error(where, found.start(), "a '<' that starts no tag", "write it as &lt;")
        name, at = found.group("name"), found.start()
        if found.group("close"):
            _close(name, at, stack, where)
        elif _is_mjml(name):
            _open_mjml(name, at, stack, where)
            if found.group("empty") is None:
                stack.append(_Open(name, at))
                if name in RAW:
                    done = _skip_raw(source, name, found.end(), where)
        else:
            _open_html(name, at, stack, where)
            if found.group("empty") is None and name.lower() not in VOID:
                stack.append(_Open(name, at))
                if name.lower() in RAW_HTML:
                    done = _skip_raw(source, name, found.end(), where)
    if stack:
        unclosed = stack[-1]
        raise _error(where, unclosed.offset, f"<{unclosed.name}> is never closed")


def _is_mjml(name: str) -> bool:
    return name.startswith("mj-") or name == "mjml"


def _mjml_parent(stack: list[_Open]) -> str:
    return stack[-1].name if stack else ""


def _in_html(stack: list[_Open]) -> str:
    """The ending component the next tag is inside ("" when it is among components)."""
    return next((item.name for item in reversed(stack) if item.name in ENDING), "")


def _open_mjml(name: str, at: int, stack: list[_Open], where: Where) -> None:
    if name not in TAGS:
        near = difflib.get_close_matches(name, sorted(TAGS), n=1)
        hint = f"did you mean <{near[0]}>?" if near else "see MJML's list of components"
        if name == "mj-include":
            hint = "digest's MJML compiler reads no files: use Jinja's {% include \"...\" %}"
        raise _error(where, at, f"<{name}> is not an MJML tag", hint)
    inside = _in_html(stack)
    if inside:
        raise _error(
            where,
            at,
            f"<{name}> inside <{inside}>, whose content is HTML",
            f"close <{inside}> first",
        )
    parent = _mjml_parent(stack)
    if parent == "mj-attributes" or (not parent and name == "mjml"):
        return
    if name in CHILDREN.get(parent, frozenset()):
        return
    if stack and any(name in CHILDREN.get(item.name, ()) for item in stack):
        # Allowed further out: the element it is in was surely left open.
        raise _error(
            where,
            stack[-1].offset,
            f"<{parent}> is not closed before <{name}> at {where(at)}",
            f"add </{parent}>",
        )
    places = sorted(item for item, children in CHILDREN.items() if name in children)
    inside_what = f"<{parent}>" if parent else "the document's top"
    raise _error(
        where,
        at,
        f"<{name}> cannot be inside {inside_what}",
        f"it goes inside {', '.join(f'<{place}>' for place in places) or '<mj-attributes>'}",
    )


def _open_html(name: str, at: int, stack: list[_Open], where: Where) -> None:
    if not _in_html(stack):
        parent = _mjml_parent(stack)
        raise _error(
            where,
            at,
            f"HTML <{name}> directly inside <{parent or 'nothing'}>",
            "put HTML inside <mj-text> or <mj-raw>",
        )


def _close(name: str, at: int, stack: list[_Open], where: Where) -> None:
    if stack and stack[-1].name.lower() == name.lower():
        stack.pop()
        return
    if any(item.name.lower() == name.lower() for item in stack):
        unclosed = stack[-1]
        raise _error(
            where,
            unclosed.offset,
            f"<{unclosed.name}> is not closed before </{name}> at {where(at)}",
            f"add </{unclosed.name}>",
        )
    raise _error(where, at, f"</{name}> closes nothing that is open", "remove it")


def _check_text(text: str, stack: list[_Open], start: int, where: Where) -> None:
    """Text may only be inside an ending component; elsewhere MRML drops or misplaces it."""
    if text.strip() and not _in_html(stack):
        parent = _mjml_parent(stack)
        shown = " ".join(text.split())[:40]
        raise _error(
            where,
            start + len(text) - len(text.lstrip()),
            f"text {shown!r} directly inside <{parent or 'nothing'}>",
            "put text inside <mj-text>",
        )


def _skip_raw(source: str, name: str, start: int, where: Where) -> int:
    """The offset after the content of a raw element (``<mj-raw>``, ``<style>``), checked
    for MJML tags, which do not work there; its closing tag is left to read."""
    end = re.compile(rf"</{re.escape(name)}\s*>", re.IGNORECASE).search(source, start)
    stop = end.start() if end else len(source)
    inner = re.compile(r"</?(mj-[\w-]*|mjml)\b").search(source, start, stop)
    if inner and name.lower() not in RAW_HTML:
        raise _error(
            where,
            inner.start(),
            f"<{inner.group(1)}> inside <{name}>, whose content is passed on as it is",
            f"close <{name}> first",
        )
    return stop


def _error(where: Where, offset: int, problem: str, hint: str = "") -> TemplateError:
    return TemplateError(f"{where(offset)}: {problem}", hint or "fix the MJML there")
