"""Read a feed document into Posts: RSS 2.0 and Atom through feedparser (imported only here),
JSON Feed 1.0/1.1 through json.

Feeds come from anywhere, so nothing in one may crash the build: odd values are read
leniently, entries without a date are kept, and only an entry with neither a link nor
an id (nothing to link to or remember it by) is skipped. feedparser's own sanitizer and
URL resolution are switched off: sanitize.py does both, once, for every source kind.
"""

from __future__ import annotations

import html
import html.entities
import io
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit
from xml.parsers import expat
from xml.sax import SAXParseException

import feedparser

from ..errors import SourceError
from ..models import Post
from ..urls import absolute_url
from .sanitize import RawPost, text_to_html

NOT_A_FEED = "not an RSS, Atom or JSON feed"
NOT_A_FEED_HINT = "point [source] location at the feed itself (often /feed.xml or /index.xml)"
JSON_FEED_VERSION = "https://jsonfeed.org/version/"
MEDIA_NAMESPACES = ("http://search.yahoo.com/mrss/", "http://search.yahoo.com/mrss")
IMAGE_SUFFIXES = {".avif", ".gif", ".jpeg", ".jpg", ".png", ".webp"}


def parse_feed(data: bytes, *, source: str, site_url: str) -> list[Post]:
    """The posts of a feed document, in document order.

    ``source`` (the file or URL it came from) names it in errors. Relative URLs resolve
    against ``site_url``, else the feed's own link, else the feed's URL.
    """
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return _json_feed(data, source, site_url)
    return _xml_feed(data, source, site_url)


def _not_a_feed(source: str, detail: str = "") -> SourceError:
    suffix = f" ({detail})" if detail else ""
    return SourceError(f"{source}: {NOT_A_FEED}{suffix}", NOT_A_FEED_HINT)


def _base_url(site_url: str, feed_link: str, source: str) -> str:
    return absolute_url(site_url, "") or absolute_url(feed_link, source) or absolute_url(source, "")


def _posts(raws: Iterator[RawPost], base_url: str, source: str) -> list[Post]:
    """The items that can be posts; a feed with items but none usable is an error, not the
    "no new posts" an empty feed gives."""
    items = list(raws)
    posts = [post for raw in items if (post := raw.to_post(base_url)) is not None]
    if items and not posts:
        raise SourceError(
            f"{source}: none of its {len(items)} items has a link digest can point readers to",
            "give each item an absolute link (RSS <link>, Atom <link href>, JSON Feed url), "
            "or set newsletter.site_url for relative ones",
        )
    return posts


# RSS and Atom


# What expat says when the document ends inside an element, a tag or a CDATA section.
_CUT_SHORT = frozenset({"no element found", "unclosed token", "unclosed CDATA section"})
_ITEM_START = re.compile(rb"<(?:item|entry)[\s>/]")
_ITEM_END = re.compile(rb"</(?:item|entry)\s*>")
# A numeric character reference long enough to name a surrogate half or no character at all.
_LARGE_REFERENCE = re.compile(rb"&#(?:[xX]0*([0-9a-fA-F]{4,})|0*([0-9]{5,}));?")
REPLACEMENT_REFERENCE = b"&#xFFFD;"


def _refuse_truncated(problem: Exception | None, data: bytes, source: str) -> None:
    """A feed that stops inside its last item (a file or download cut short): that post
    would go out cut short, so the feed is not read at all. A feed that only lacks its
    closing tags, and other XML faults, are read past, as feeds have them."""
    if not (isinstance(problem, SAXParseException) and problem.getMessage() in _CUT_SHORT):
        return
    last_start = max((m.start() for m in _ITEM_START.finditer(data)), default=-1)
    last_end = max((m.start() for m in _ITEM_END.finditer(data)), default=-1)
    if last_start > last_end:
        raise SourceError(
            f"{source}: the feed stops in the middle of its last item, "
            f"at line {problem.getLineNumber()}",
            "the file or its download was cut short: fetch or save it again",
        )


def _xml_feed(data: bytes, source: str, site_url: str) -> list[Post]:
    data, alts = _lift_media_text(_valid_references(data))
    try:
        parsed = feedparser.parse(
            io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False
        )
    except (UnicodeError, ValueError, OverflowError) as exc:
        # What _valid_references cannot reach (a UTF-16 feed's references) crashes it so.
        raise SourceError(
            f"{source}: feedparser cannot read the feed ({type(exc).__name__}: {exc})",
            "a character reference in it names no character: fix the feed, or ask its publisher to",
        ) from None
    if not parsed.get("version"):
        raise _not_a_feed(source)
    _refuse_truncated(parsed.get("bozo_exception"), data, source)
    base_url = _base_url(site_url, parsed.feed.get("link", ""), source)
    is_atom = parsed.version.startswith("atom")
    entries = (_xml_entry(entry, alts, is_atom) for entry in parsed.entries)
    return _posts(entries, base_url, source)


def _valid_references(data: bytes) -> bytes:
    """Each character reference to a surrogate half or beyond U+10FFFF made U+FFFD's, as an
    HTML parser reads it: feedparser's lenient parser would crash on it."""
    return _LARGE_REFERENCE.sub(_valid_reference, data)


def _valid_reference(match: re.Match[bytes]) -> bytes:
    hexadecimal, decimal = match.groups()
    digits = hexadecimal or decimal
    code = int(digits, 16 if hexadecimal else 10) if len(digits) <= 8 else None
    if code is not None and code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
        return match.group(0)
    return REPLACEMENT_REFERENCE


def _lift_media_text(data: bytes) -> tuple[bytes, dict[str, str]]:
    """Cut media:description/media:title out of media:content and media:thumbnail elements.

    feedparser files them under the entry's own summary and title, overwriting those
    (or pushing the real description into the content). Inside media:content they
    describe the image, so they are its alt text: returned by image URL, and cut from
    the bytes feedparser sees (everything else stays byte for byte as it was). A
    document expat cannot read is left to feedparser's lenient parser as it is.
    """
    if b"search.yahoo.com/mrss" not in data or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data, {}
    lifter = _MediaTextLifter(data)
    try:
        lifter.run()
    except expat.ExpatError:
        return data, {}
    return lifter.remaining(), lifter.alts


class _MediaTextLifter:
    """An expat pass noting the byte ranges of media text elements inside media elements."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.parser = expat.ParserCreate(namespace_separator=" ")
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._characters
        self.alts: dict[str, str] = {}
        self.cuts: list[tuple[int, int]] = []
        self.media_url: str | None = None  # set inside a media:content or media:thumbnail
        self.media_texts: dict[str, str] = {}
        self.text_name = ""  # set inside a media:description or media:title being lifted
        self.text_start = 0
        self.text_is_html = False
        self.text_pieces: list[str] = []

    def run(self) -> None:
        self.parser.Parse(self.data, True)

    def remaining(self) -> bytes:
        kept, position = [], 0
        for start, end in self.cuts:
            kept.append(self.data[position:start])
            position = end
        kept.append(self.data[position:])
        return b"".join(kept)

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        namespace, _, local = name.rpartition(" ")
        if namespace not in MEDIA_NAMESPACES:
            return
        if local in ("content", "thumbnail"):
            self.media_url = (attributes.get("url") or "").strip()
            self.media_texts = {}
        elif local in ("description", "title") and self.media_url is not None:
            self.text_name = local
            self.text_start = self.parser.CurrentByteIndex
            self.text_is_html = attributes.get("type") == "html"
            self.text_pieces = []

    def _characters(self, text: str) -> None:
        if self.text_name:
            self.text_pieces.append(text)

    def _end(self, name: str) -> None:
        namespace, _, local = name.rpartition(" ")
        if namespace not in MEDIA_NAMESPACES:
            return
        if self.text_name and local == self.text_name:
            end = self.data.index(b">", self.parser.CurrentByteIndex) + 1
            self.cuts.append((self.text_start, end))
            text = "".join(self.text_pieces).strip()
            self.media_texts[local] = text if self.text_is_html else html.escape(text)
            self.text_name = ""
        elif local in ("content", "thumbnail") and self.media_url is not None:
            alt = self.media_texts.get("description") or self.media_texts.get("title")
            if self.media_url and alt:
                self.alts.setdefault(self.media_url, alt)
            self.media_url = None


def _xml_entry(entry: Mapping[str, Any], alts: Mapping[str, str], is_atom: bool) -> RawPost:
    summary = _as_html(entry.get("summary_detail"), entry.get("summary", ""), is_atom)
    contents = entry.get("content") or []
    content = _as_html(contents[0], contents[0].get("value", ""), is_atom) if contents else ""
    image, image_alt = _entry_image(entry, alts)
    author = (entry.get("author_detail") or {}).get("name") or entry.get("author", "")
    # Read past FeedParserDict, which answers "updated" with the published date when absent.
    updated = _from_struct(dict.get(entry, "updated_parsed"))
    return RawPost(
        id=entry.get("id", ""),
        url=entry.get("link", ""),
        title=_title_as_html(entry.get("title_detail"), entry.get("title", ""), is_atom),
        published=_from_struct(entry.get("published_parsed")) or updated,
        updated=updated,
        author=author,
        summary=summary,
        content=content or summary,
        image=image,
        image_alt=image_alt,
        tags=[tag.get("term") or tag.get("label") or "" for tag in entry.get("tags", [])],
    )


def _as_html(detail: Mapping[str, Any] | None, value: str, is_atom: bool) -> str:
    """An element's value as HTML. Only Atom says for sure that a text is plain text;
    RSS text is HTML by custom, whatever feedparser guesses."""
    if is_atom and detail and detail.get("type") == "text/plain":
        return text_to_html(value)
    return value


# A character reference (``&amp;``, ``&#233;``) still there once the XML is read: the
# publisher escaped the title twice, which only a title written as HTML needs.
_REFERENCE = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|([A-Za-z][A-Za-z0-9]*));")


def _title_as_html(detail: Mapping[str, Any] | None, value: str, is_atom: bool) -> str:
    """A title as HTML. A title is text (the RSS Advisory Board: ``<``, ``>`` and ``&``
    show as written) unless the feed says it is HTML: Atom's ``type="html"`` or
    ``"xhtml"``; in RSS, which cannot say, a character reference left after the XML is
    read. Tags alone never make an RSS title HTML, though feedparser guesses HTML from a
    closing tag: "Close <em> with </em>" is text about markup."""
    if is_atom:
        is_html = (detail or {}).get("type", "text/plain") != "text/plain"
    else:
        is_html = any(_is_reference(found) for found in _REFERENCE.finditer(value))
    return value if is_html else html.escape(value)


def _is_reference(found: re.Match[str]) -> bool:
    """Whether a match of _REFERENCE is one HTML knows (``&T;`` in "AT&T;" is not)."""
    name = found.group(1)
    return name is None or f"{name};" in html.entities.html5


def _from_struct(moment: Any) -> datetime | None:
    """feedparser's parsed dates are UTC struct_times; an impossible one counts as no date."""
    if moment is None:
        return None
    try:
        return datetime(*moment[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _entry_image(entry: Mapping[str, Any], alts: Mapping[str, str]) -> tuple[str, str]:
    """The entry's declared image (media:content, media:thumbnail, an image enclosure)."""
    for media in entry.get("media_content", []):
        url = (media.get("url") or "").strip()
        if url and _is_image(url, media.get("medium", ""), media.get("type", "")):
            return url, alts.get(url, "")
    for thumbnail in entry.get("media_thumbnail", []):
        url = (thumbnail.get("url") or "").strip()
        if url:
            return url, alts.get(url, "")
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure" and (link.get("type") or "").startswith("image/"):
            return link.get("href", ""), ""
    return "", ""


def _is_image(url: str, medium: str, mime_type: str) -> bool:
    if medium or mime_type:
        return medium == "image" or mime_type.startswith("image/")
    return PurePosixPath(urlsplit(url).path).suffix.lower() in IMAGE_SUFFIXES


# JSON Feed

# Python reads "\ud800" alone in a JSON string as half a character, which nothing can
# encode or print; other JSON readers refuse it.
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_feed(data: bytes, source: str, site_url: str) -> list[Post]:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _not_a_feed(source, f"invalid JSON: {exc}") from None
    except RecursionError:
        raise _not_a_feed(source, "invalid JSON: arrays or objects nested too deeply") from None
    if _has_lone_surrogate(data, document):
        raise SourceError(
            f"{source}: a text in the feed holds half a character (a lone surrogate, "
            "such as \\ud800, without its pair)",
            "the feed's generator wrote broken text: fix it there, or ask its publisher to",
        )
    if not isinstance(document, dict) or not _text(document, "version").startswith(
        JSON_FEED_VERSION
    ):
        raise _not_a_feed(source, f"JSON without a {JSON_FEED_VERSION}... version")
    items = document.get("items")
    if not isinstance(items, list):
        raise _not_a_feed(source, "a JSON Feed needs an items list")
    base_url = _base_url(site_url, _text(document, "home_page_url"), source)
    return _posts((_json_item(item) for item in items if isinstance(item, dict)), base_url, source)


def _has_lone_surrogate(data: bytes, document: Any) -> bool:
    """Whether a string of the document holds a surrogate: only an escape can put one there."""
    return bool(_ESCAPED_SURROGATE.search(data)) and bool(
        _SURROGATE.search(json.dumps(document, ensure_ascii=False))
    )


def _json_item(item: Mapping[str, Any]) -> RawPost:
    content = _text(item, "content_html") or text_to_html(_text(item, "content_text"))
    tags = item.get("tags")
    tags = tags if isinstance(tags, list) else []
    return RawPost(
        id=_text(item, "id"),
        url=_text(item, "url") or _text(item, "external_url"),
        title=html.escape(_text(item, "title")),
        published=_from_iso(_text(item, "date_published") or _text(item, "date_modified")),
        updated=_from_iso(_text(item, "date_modified")),
        author=html.escape(_json_author(item)),
        summary=html.escape(_text(item, "summary")),
        content=content,
        image=_text(item, "image") or _text(item, "banner_image"),
        tags=[html.escape(tag) for tag in tags if isinstance(tag, str)],
    )


def _json_author(item: Mapping[str, Any]) -> str:
    """JSON Feed 1.1 lists ``authors``; 1.0 has a single ``author``."""
    authors = item.get("authors")
    candidates = [*authors] if isinstance(authors, list) else []
    candidates.append(item.get("author"))
    for author in candidates:
        if isinstance(author, dict) and _text(author, "name"):
            return _text(author, "name")
    return ""


def _text(mapping: Mapping[str, Any], key: str) -> str:
    """A JSON value as text: strings and numbers (ids are sometimes numbers), else ""."""
    value = mapping.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    return str(value)


def _from_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None
