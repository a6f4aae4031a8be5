"""Untrusted post HTML and text made safe, plain and absolute: the one module that imports nh3.

Everything a source reads (a feed from anywhere, a Markdown file from anyone) passes
through here before it becomes a Post: content keeps only email-safe formatting with
absolute http(s)/mailto links, titles and summaries become plain text, URLs are
resolved against the site, and no field keeps a control character. nh3 serializes its
output in a normal form (attributes as ``name="value"`` with ``"`` escaped), which the
small regular expressions below rely on.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime

import nh3

from ..models import Post
from ..text import collapse, trim
from ..urls import absolute_url, is_web_url
from .nesting import MAX_DEPTH, MAX_PARSE_DEPTH, cap_nesting

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "div", "dl",
    "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
# Dropped together with everything inside them (other unknown tags keep their text).
DROPPED_WITH_CONTENT = {
    "applet", "audio", "button", "canvas", "embed", "frame", "frameset", "head", "iframe",
    "math", "noscript", "object", "script", "select", "style", "svg", "template", "textarea",
    "title", "video",
}  # fmt: skip
# No width/height: a fixed pixel width on an image breaks the one-column phone layout.
ATTRIBUTES = {
    "*": {"dir", "lang"},
    "a": {"href"},
    "img": {"src", "alt"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "abbr": {"title"},
}
LINK_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener"
SUMMARY_LIMIT = 300
TITLE_LIMIT = 80
# A summary needs only a post's opening words: reading this much HTML for them keeps a
# megabyte-long post from being parsed a second time.
TEXT_PREFIX = 64 * 1024
# Far beyond what an email can show (Gmail clips at about 102 KB), and cleaned in a fraction
# of a second.
MAX_CONTENT_CHARS = 2_000_000
UNTITLED = "Untitled"

_BLOCK_START = re.compile(
    r"<(?=/?(?:p|div|br|hr|li|dd|dt|h[1-6]|blockquote|pre|tr|td|th|figure|figcaption|ul|ol|"
    r"table|caption)\b)",
    re.IGNORECASE,
)
_ATTRS = r'((?:\s+[\w:-]+="[^"]*")*)'
_IMG = re.compile(rf"<img{_ATTRS}\s*/?>")
_ATTR = re.compile(r'([\w:-]+)="([^"]*)"')
_LINK = re.compile(rf"<a{_ATTRS}>(.*?)</a>", re.DOTALL)
_WHITESPACE = re.compile(r"\s+")
# What no text may carry: C0 controls but tab, line feed and carriage return; DEL and the C1
# controls; Unicode's noncharacters. MJML's parser fails on some (and the build then blames
# the template) and a terminal obeys others. Lone surrogates (half a character, which no
# encoder takes) are among them too, to become U+FFFD.
_UNWANTED = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff\ud800-\udfff]"
)
# The noncharacters beyond the first plane, looked for only in text that reaches that far
# (a class of 32 characters makes every search several times slower).
_FAR = re.compile("[\U0001fffe-\U0010ffff]")
_PLANES = range(0x10000, 0x110000, 0x10000)
_FAR_NONCHARACTERS = re.compile(f"[{''.join(chr(p + 0xFFFE) + chr(p + 0xFFFF) for p in _PLANES)}]")
_BLANK_LINE = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class RawPost:
    """A post as a source found it, every text field as HTML (sources escape plain text)."""

    id: str = ""
    url: str = ""
    title: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    author: str = ""
    summary: str = ""
    content: str = ""
    image: str = ""
    image_alt: str = ""
    tags: Sequence[str] = ()

    def to_post(self, base_url: str) -> Post | None:
        """The safe Post, or None when there is nothing to link to or remember it by.

        The url falls back to an http(s) id (a permalink guid), then, for an entry that
        has an id but no link at all, to the site's home page. A missing title becomes
        the opening words of the post, a missing summary its text, a missing image the
        first image of the content.
        """
        notes: list[str] = []
        raw = self._prepared(notes)
        entry_id = collapse(raw.id)
        url = absolute_url(raw.url, base_url) or (entry_id if is_web_url(entry_id) else "")
        if not url and entry_id:
            url = absolute_url(base_url, "")
        if not url:
            return None
        content = _shallow(clean_html(raw.content, base_url), base_url, notes)
        text = html_to_text(raw.summary) or html_to_text(content[:TEXT_PREFIX])
        image = absolute_url(raw.image, base_url)
        alt = html_to_text(raw.image_alt) or image_alt(content, image)
        if not image:
            image, alt = first_image(content)
        return Post(
            id=entry_id or url,
            title=html_to_text(raw.title) or summarize(text, TITLE_LIMIT) or UNTITLED,
            url=url,
            published=as_utc(raw.published),
            updated=as_utc(raw.updated),
            author=html_to_text(raw.author),
            summary=summarize(text),
            content=content,
            image=image,
            image_alt=alt,
            tags=_unique(html_to_text(tag) for tag in raw.tags),
            warnings=tuple(f"post {url}: {note}" for note in notes),
        )

    def _prepared(self, notes: list[str]) -> RawPost:
        """The same post ready to parse: ``visible_text`` in every field (what an entity such
        as ``&#x1b;`` decodes to goes later, as the HTML is cleaned or made text), and each
        HTML field within bounds, noting what a reader would miss (see ``_bounded``)."""
        texts = {
            item.name: visible_text(value)
            for item in fields(self)
            if isinstance(value := getattr(self, item.name), str)
        }
        raw = replace(self, **texts, tags=[visible_text(tag) for tag in self.tags])
        return replace(
            raw,
            title=_bounded(raw.title, "title", TEXT_PREFIX, notes),
            author=_bounded(raw.author, "author", TEXT_PREFIX, notes),
            # Only a summary's opening words are used: what a cut leaves out is no loss (and
            # feedparser often fills the summary with the content, warned about already).
            summary=cap_nesting(raw.summary[:TEXT_PREFIX], MAX_PARSE_DEPTH)[0],
            content=_bounded(raw.content, "content", MAX_CONTENT_CHARS, notes),
            image_alt=_bounded(raw.image_alt, "image alt text", TEXT_PREFIX, notes),
            tags=[_bounded(tag, "tag", TEXT_PREFIX, notes) for tag in raw.tags],
        )


def _bounded(fragment: str, field: str, limit: int, notes: list[str]) -> str:
    """``fragment`` cut at ``limit`` characters, and where it nests deeper than a parser
    should be led (its work grows with depth times length: a post of 100,000 nested divs
    took minutes). A cut is noted in ``notes``, naming the field."""
    kept, deep = cap_nesting(fragment[:limit], MAX_PARSE_DEPTH)
    if deep:
        notes.append(_too_deep(field))
    elif len(fragment) > limit:
        notes.append(f"its {field} is longer than {limit:,} characters: the rest was left out")
    return kept


def _shallow(content: str, base_url: str, notes: list[str]) -> str:
    """Cleaned content cut where it nests more than MAX_DEPTH deep (and cleaned again, to
    close what the cut left open): beyond about 250 levels, premailer silently drops the
    rest of the email, its footer and unsubscribe link included."""
    kept, deep = cap_nesting(content, MAX_DEPTH)
    if not deep:
        return content
    if _too_deep("content") not in notes:
        notes.append(_too_deep("content"))
    return clean_html(kept, base_url)


def _too_deep(field: str) -> str:
    return f"its {field} nests elements too deeply (past {MAX_DEPTH} levels): it was cut there"


def as_utc(moment: datetime | None) -> datetime | None:
    """A timezone-aware UTC datetime; a naive one is taken to be UTC already."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+05:00 is before the first representable moment
        return None


def clean_html(fragment: str, base_url: str) -> str:
    """Sanitized HTML: safe tags only, links and images absolute, unusable links unwrapped.

    A link whose URL is not http(s) or mailto (``javascript:``, ``data:``, an empty
    ``href`` as feedparser leaves them, a bare ``#fragment``) loses its ``<a>`` but keeps
    its text; an image without a usable ``src`` is dropped; every image gets an ``alt``.
    """
    cleaned = nh3.clean(
        fragment,
        tags=TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ATTRIBUTES,
        attribute_filter=_keep_attribute,
        url_schemes=LINK_SCHEMES,
        url_relative=("rewrite_with_base", base_url) if is_web_url(base_url) else "deny",
        link_rel=LINK_REL,
    )
    cleaned = _LINK.sub(_unwrap_hrefless_link, cleaned)
    return visible_text(_IMG.sub(_fix_image, cleaned))


def html_to_text(fragment: str) -> str:
    """The plain text of an HTML fragment: tags stripped, entities decoded, whitespace collapsed.

    Read by nh3's parser (a browser's), as the sanitizer reads the content, not by the
    ground's ``text.html_to_text`` (Python's HTMLParser, for well-formed HTML): a feed's
    title or summary is untrusted and often malformed markup, and the two read such
    markup differently (an unclosed ``<tag`` at the end, ``<title>`` or ``<xmp>`` text).
    """
    spaced = _BLOCK_START.sub(" <", fragment)
    stripped = nh3.clean(spaced, tags=set(), clean_content_tags=DROPPED_WITH_CONTENT)
    return collapse(visible_text(html.unescape(stripped)))


def text_to_html(text: str) -> str:
    """Plain text as HTML paragraphs (split at blank lines), every character escaped."""
    paragraphs = _BLANK_LINE.split(text.strip())
    return "".join(f"<p>{html.escape(collapse(part))}</p>" for part in paragraphs if part.strip())


def visible_text(text: str) -> str:
    """``text`` without control characters (tab and line breaks kept) and noncharacters, and
    with U+FFFD for each lone surrogate."""
    if _FAR.search(text):
        text = _FAR_NONCHARACTERS.sub("", text)
    return _UNWANTED.sub(_replacement, text)


def _replacement(match: re.Match[str]) -> str:
    return "\ufffd" if "\ud800" <= match.group() <= "\udfff" else ""


def summarize(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """Plain text cut to at most ``limit`` characters at a word boundary, ending in an ellipsis."""
    return trim(text, limit)


def first_image(fragment: str) -> tuple[str, str]:
    """The ``src`` and ``alt`` of the first image in HTML that ``clean_html`` produced."""
    match = _IMG.search(fragment)
    if match is None:
        return "", ""
    attributes = _attributes(match.group(1))
    return attributes.get("src", ""), attributes.get("alt", "")


def image_alt(fragment: str, src: str) -> str:
    """The ``alt`` of the first image in cleaned HTML whose ``src`` is ``src``; else ""."""
    for match in _IMG.finditer(fragment):
        attributes = _attributes(match.group(1))
        if attributes.get("src") == src:
            return attributes.get("alt", "")
    return ""


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value for value in values if value))


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    """nh3 keeps an empty or fragment-only URL (resolving it to the base page): drop it instead."""
    if attribute in ("href", "src") and value.strip()[:1] in ("", "#"):
        return None
    return value


def _unwrap_hrefless_link(match: re.Match[str]) -> str:
    """A link nh3 stripped of its URL keeps only its contents (HTML never nests links)."""
    return match.group(0) if "href" in _attributes(match.group(1)) else match.group(2)


def _fix_image(match: re.Match[str]) -> str:
    attributes = _attributes(match.group(1))
    if not is_web_url(attributes.get("src", "")):
        return ""
    if "alt" in attributes:
        return match.group(0)
    return f'<img{match.group(1)} alt="">'


def _attributes(text: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _ATTR.findall(text)}
