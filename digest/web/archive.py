"""The web edition: one static page per sent edition, an index of them and an Atom feed.

A page is the edition's HTML exactly as the ledger stores it, made no one's: the
per-reader tokens get a nameless reader's values (the greeting reads "Hi there"), the
unsubscribe link becomes a sentence saying where to find one (a page anyone can open
must not unsubscribe anyone), its "view in browser" link to itself goes, and the
pictures of the newsletter's ``images/`` are linked beside the pages. The stored HTML,
not a new render, because a feed keeps only its latest posts: an edition of a year ago
could not be rendered again.

Where it lives follows ``newsletter.view_online_url``: ``https://example.com/news/{edition}/``
puts each page at ``KEY/index.html`` and the index and ``feed.xml`` at ``news/``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from ..audience.values import nameless
from ..errors import ConfigError
from ..models import HTML, PROVIDER_TAG_START, token, token_pattern
from . import atom
from .images import IMAGES, local_images

FEED = "feed.xml"
INDEX = "index.html"
UNSUBSCRIBE_NOTE = "Subscribers leave the list with the unsubscribe link in any email they get."
# Where each page goes for each way view_online_url may end after {edition}.
_PAGE_FILES = {"/": "{key}/index.html", "": "{key}/index.html", "/index.html": "{key}/index.html"}
_PAGE_FILES[".html"] = "{key}.html"
_SEPARATOR = r"(?:\s*(?:&middot;|&#183;|·|\|))?\s*"


@dataclass(frozen=True)
class Stored:
    """What the archive takes of one edition the ledger keeps."""

    key: str
    subject: str
    preheader: str
    html: str
    token_key: str
    sent_at: datetime


@dataclass(frozen=True)
class Layout:
    """Where the archive's files go and the addresses they have, from view_online_url."""

    base_url: str  # the index's address, ending in "/"
    url_template: str  # view_online_url
    page_file: str  # "{key}/index.html" or "{key}.html"

    @classmethod
    def of(cls, view_online_url: str) -> Layout:
        """The layout ``view_online_url`` implies, or a ConfigError naming the key."""
        example = "https://example.com/newsletter/{edition}/"
        if not view_online_url:
            raise ConfigError(
                "newsletter.view_online_url is not set, so no email links to the archive "
                "and its pages and feed have no address",
                f"set it to where you will publish the archive, such as {example}",
            )
        base, found, rest = view_online_url.partition("{edition}")
        if not found or not base.endswith("/") or rest not in _PAGE_FILES or "?" in base:
            raise ConfigError(
                f"newsletter.view_online_url {view_online_url!r} does not name a page per "
                "edition that a static host can serve",
                f"end it with {{edition}}/ or {{edition}}.html, such as {example}",
            )
        return cls(base, view_online_url, _PAGE_FILES[rest])

    def page(self, key: str) -> str:
        """The page's file, relative to the archive's folder."""
        return self.page_file.format(key=key)

    def url(self, key: str) -> str:
        return self.url_template.replace("{edition}", key)


def page(edition: Stored, layout: Layout, *, site_url: str, images: Path) -> str:
    """The edition's page: its stored HTML made no one's, its pictures linked locally."""
    document = _without_links(edition.html, edition.token_key, layout.url(edition.key))
    document = _fill_tokens(document, edition.token_key)
    up = "../" * layout.page(edition.key).count("/")
    document = local_images(document, site_url, images, lambda path: f"{up}{IMAGES}/{path}")
    feed = f'<link rel="alternate" type="application/atom+xml" href="{up}{FEED}">'
    return re.sub(r"</head>", lambda _: f"{feed}</head>", document, count=1, flags=re.IGNORECASE)


def _without_links(document: str, key: str, own_url: str) -> str:
    """The unsubscribe link a sentence, the preferences link and the link to this very
    page gone (with the separator before them)."""
    unsubscribe = [token("unsubscribe_url", key, variant) for variant in ("", "html")]
    unsubscribe.append("<%asm_group_unsubscribe_raw_url%>")
    preferences = [token("preferences_url", key, variant) for variant in ("", "html")]
    preferences.append("<%asm_preferences_raw_url%>")
    note = f"<span>{html.escape(UNSUBSCRIBE_NOTE)}</span>"
    document = _anchors(unsubscribe).sub(lambda _: note, document)
    for targets in (preferences, [html.escape(own_url), own_url]):
        document = re.compile(_SEPARATOR + _anchors(targets).pattern, re.S | re.I).sub("", document)
    return document


def _anchors(targets: Sequence[str]) -> re.Pattern[str]:
    """Links (``<a ...>...</a>``) to any of ``targets``."""
    choice = "|".join(re.escape(target) for target in targets)
    return re.compile(
        rf"""<a\b[^>]*?\bhref\s*=\s*(["'])\s*(?:{choice})\s*\1[^>]*>.*?</a\s*>""", re.S | re.I
    )


def _fill_tokens(document: str, key: str) -> str:
    """Every per-reader token with a nameless reader's value ("there" for a name or first
    name, filters applied), escaped as its variant says; provider tags emptied."""

    def fill(found: re.Match[str]) -> str:
        value = nameless(found.group(1))
        variant = found.group(2)
        return (
            html.escape(value) if variant == HTML else quote(value, safe="") if variant else value
        )

    document = token_pattern(key).sub(fill, document)
    return re.sub(re.escape(PROVIDER_TAG_START) + r"[A-Za-z_]+%>", "", document)


def index(editions: Sequence[Stored], layout: Layout, *, name: str) -> str:
    """The list of editions, newest first, each linked to its page."""
    items = "".join(
        f'<li><a href="{html.escape(layout.page(e.key).removesuffix(INDEX))}">'
        f'{html.escape(e.subject)}</a> <time datetime="{e.sent_at.date().isoformat()}">'
        f"{e.sent_at:%B} {e.sent_at.day}, {e.sent_at.year}</time></li>"
        for e in sorted(editions, key=lambda e: e.sent_at, reverse=True)
    )
    title = html.escape(f"{name}: past editions")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f'<link rel="alternate" type="application/atom+xml" href="{FEED}">'
        f"<title>{title}</title><style>{_STYLE}</style></head>"
        f'<body><main><h1>{title}</h1><p><a href="{FEED}">Atom feed</a></p>'
        f"<ol reversed>{items}</ol></main></body></html>\n"
    )


def feed(editions: Sequence[Stored], layout: Layout, *, name: str, now: datetime) -> bytes:
    """The Atom feed of the editions, newest first."""
    entries = [
        atom.Entry(
            id=layout.url(e.key),
            title=e.subject,
            link=layout.url(e.key),
            updated=e.sent_at,
            summary=e.preheader,
        )
        for e in sorted(editions, key=lambda e: e.sent_at, reverse=True)
    ]
    return atom.feed(
        title=name,
        id=layout.base_url,
        link=layout.base_url,
        self_link=layout.base_url + FEED,
        updated=max((e.sent_at for e in editions), default=now),
        entries=entries,
    )


_STYLE = (
    "body{margin:0;font:16px/1.6 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "color:#1f2328;background:#f6f8fa}main{max-width:40rem;margin:8vh auto;padding:2rem}"
    "h1{font-size:1.5rem}li{margin:.4rem 0}time{color:#57606a;white-space:nowrap}"
    "a{color:#0550ae}@media (prefers-color-scheme:dark){body{background:#0d1117;"
    "color:#e6edf3}time{color:#8d96a0}a{color:#4493f8}}"
)
