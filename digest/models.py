"""The data every stage shares: posts, digests, subscribers and rendered email.

Plain frozen dataclasses; no I/O. Per-subscriber values travel through the
rendered email as substitution tokens (``%%k3J9xq2TmQ7a.name%%``) that the delivery
layer fills per recipient, so an edition is rendered once whatever the audience.
Each token carries its edition's random key, which no feed can know: token-like
text in a post (``%%email%%``, or a token with another key) is plain text, filled
by no one. A token may also name a variant, the value escaped for where it lands
(``.html``, ``.url``); an edition started before keys existed has key "".
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache

SUBSCRIBER_STATUSES = ("active", "unsubscribed", "bounced", "complained")
# SendGrid: "The total collective size of your substitutions may not exceed 10,000 bytes"
# per personalization; personalizing keeps every backend's readers within it.
SUBSTITUTIONS_MAX_BYTES = 10_000

# Edition keys name lock files and outbox folders: safe file-name characters only.
_EDITION_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def is_edition_key(key: str) -> bool:
    """Whether ``key`` can name an edition in the ledger (safe as a file name)."""
    return bool(_EDITION_KEY.fullmatch(key))


# An edition's key is the date, in the schedule's zone, of the run that sends it; one a
# day. (Ledgers from before this rule may hold other keys: see App.edition_key.)
_DATE_KEY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def looks_like_date(key: str) -> bool:
    """Whether ``key`` is written YYYY-MM-DD, a real date or not."""
    return bool(_DATE_KEY.fullmatch(key))


def date_key_problem(key: str) -> str:
    """Why ``key`` is not the key of an edition, a real date written YYYY-MM-DD; or ""."""
    if looks_like_date(key):
        try:
            date.fromisoformat(key)
        except ValueError:
            return f"{key!r} is not a real date (YYYY-MM-DD)"
        return ""
    return f"{key!r} is not a date written YYYY-MM-DD"


# What a per-subscriber field may be called to travel as a token: "company", "first_name".
FIELD_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"


# The filters a template may put on a reader's text (``subscriber.name | upper``): the token
# carries them (``%%KEY.name.upper%%``, ``%%KEY.company.default-7468657265%%`` for
# ``default("there")``, its text in hexadecimal) and the sender applies them per reader.
TOKEN_FILTERS = ("upper", "lower", "title", "capitalize", "trim", "default")
DEFAULT_FILTER = "default"
_CASES = "|".join(name for name in TOKEN_FILTERS if name != DEFAULT_FILTER)
_FILTER = rf"(?:{_CASES}|{DEFAULT_FILTER}(?:-[0-9a-f]+)?)"
# A token's name: a field, then its filters.
TOKEN_NAME = rf"{FIELD_NAME}(?:\.{_FILTER})*"


def default_filter(text: str) -> str:
    """How a token's name carries ``default(text)``: ``default-`` and the text's UTF-8 in hex."""
    return f"{DEFAULT_FILTER}-{text.encode().hex()}" if text else DEFAULT_FILTER


def default_text(name_filter: str) -> str:
    """The text of a ``default`` filter as a token's name carries it (see default_filter)."""
    return bytes.fromhex(name_filter[len(DEFAULT_FILTER) + 1 :]).decode("utf-8", "replace")


def split_name(name: str) -> tuple[str, tuple[str, ...]]:
    """A token's name as its field and its filters: ``("name", ("upper",))``."""
    field, *filters = name.split(".")
    return field, tuple(filters)


# The variants of a per-reader value: as it is (subject and text part), HTML-escaped
# (text and attributes of the HTML part), percent-encoded (inside a URL of the HTML).
PLAIN, HTML, URL = "", "html", "url"
VARIANTS = (PLAIN, HTML, URL)
TOKEN_KEY_CHARS = 12
_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def new_token_key() -> str:
    """A random key for one edition's tokens: 12 letters and digits (71 bits), which
    survive MJML, premailer and URLs untouched."""
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(TOKEN_KEY_CHARS))


def token(name: str, key: str = "", variant: str = PLAIN) -> str:
    """The substitution token for a per-subscriber value, as it appears in rendered output:
    ``%%KEY.name%%``, ``%%KEY.name.html%%``; without a key, ``%%name%%`` (before keys).
    ``name`` is a field and its filters, if any (``name.upper``)."""
    parts = [part for part in (key, name, variant) if part]
    return f"%%{'.'.join(parts)}%%"


@lru_cache(maxsize=16)
def token_pattern(key: str) -> re.Pattern[str]:
    """Matches the tokens of one key; groups: the name (the field and its filters) and the
    variant ("" when plain)."""
    prefix = rf"{re.escape(key)}\." if key else ""
    return re.compile(rf"%%{prefix}({TOKEN_NAME})(?:\.(html|url))?%%")


def parse_token(text: str, key: str) -> tuple[str, str]:
    """``(name, variant)`` of a token of ``key``; ValueError for anything else."""
    found = token_pattern(key).fullmatch(text)
    if found is None:
        raise ValueError(f"{text!r} is not a token of this edition")
    return found.group(1), found.group(2) or PLAIN


def escape_unkeyed_html(html: str) -> str:
    """The HTML of an edition started before tokens had keys, each plain token in it
    (``%%name%%``) made HTML-escaped (``%%name.html%%``): the rest of its readers get
    their values escaped, though not yet percent-encoded inside links."""
    return token_pattern("").sub(
        lambda found: found.group(0) if found.group(2) else token(found.group(1), "", HTML), html
    )


# SendGrid fills its own tags (``<%asm_group_unsubscribe_raw_url%>``, ``<%asm_preferences_url%>``
# and the like) wherever they are in the subject and content of an ASM send. In text that
# no one vetted (a post, a reader's name) a word joiner, which no one sees, keeps "<" from "%".
PROVIDER_TAG_START = "<%"
_INERT_TAG_START = "<\u2060%"


def inert_tags(text: str) -> str:
    """``text`` with every SendGrid tag in it made inert, looking the same."""
    return text.replace(PROVIDER_TAG_START, _INERT_TAG_START)


def is_field_name(name: str) -> bool:
    """Whether a subscriber field of that name can be filled per recipient (no spaces...)."""
    return re.fullmatch(FIELD_NAME, name) is not None


def fill_tokens(text: str, substitutions: Mapping[str, str]) -> str:
    """Replace each substitution token by its value, as SendGrid does on its side."""
    for key, value in substitutions.items():
        text = text.replace(key, value)
    return text


@dataclass(frozen=True)
class Post:
    """One blog post as read from a source: title is plain text, content is sanitized HTML.

    ``warnings`` say what the source had to leave out to read it (HTML nested too deep, or
    content too long), for the editor to hear when the post is in an edition.
    """

    id: str
    title: str
    url: str
    published: datetime | None = None
    updated: datetime | None = None
    author: str = ""
    summary: str = ""
    content: str = ""
    image: str = ""
    image_alt: str = ""
    tags: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Digest:
    """The posts chosen for one edition: a featured post, then the teasers."""

    edition: str
    featured: Post
    teasers: tuple[Post, ...] = ()

    @property
    def posts(self) -> tuple[Post, ...]:
        return (self.featured, *self.teasers)


@dataclass(slots=True)
class Subscriber:
    """A row of subscribers.csv; ``fields`` holds the extra columns (merge fields).

    Not frozen: a send makes two of these per reader, and a frozen dataclass costs
    twice as much to create. Nothing changes one after it is made.
    """

    email: str
    name: str = ""
    status: str = "active"
    tags: tuple[str, ...] = ()
    subscribed_at: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    line: int = 0

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class RenderedEmail:
    """An edition rendered once: subject, HTML and text still carry substitution tokens."""

    subject: str
    preheader: str
    html: str
    text: str
    warnings: tuple[str, ...] = ()
    subscriber_fields: tuple[str, ...] = ()  # what the templates asked of ``subscriber``
    token_key: str = ""  # the key of its tokens ("" in editions started before keys)

    def personalized(self, substitutions: Mapping[str, str]) -> RenderedEmail:
        """The email one recipient sees, with every token filled."""
        return replace(
            self,
            subject=fill_tokens(self.subject, substitutions),
            html=fill_tokens(self.html, substitutions),
            text=fill_tokens(self.text, substitutions),
        )


@dataclass(slots=True)
class Recipient:
    """One address of an audience with its substitutions and per-recipient headers.

    Not frozen, for the same reason as Subscriber: one is made per reader and send.
    """

    email: str
    name: str = ""
    substitutions: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PackedBatch:
    """A batch of an audience as the ledger stores it: ``recipients`` is ``size`` of them,
    packed by ``pack_recipients``."""

    size: int
    recipients: str


_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def pack_recipients(subscribers: Iterable[Subscriber]) -> str:
    """Subscribers as one batch's ``recipients``: a JSON array of ``[address, name]``, with
    the merge fields as a third item when there are any."""
    return _encode_json(
        [(s.email, s.name, s.fields) if s.fields else (s.email, s.name) for s in subscribers]
    )


def unpack_recipients(packed: str) -> list[Subscriber]:
    """The Subscribers ``pack_recipients`` packed (address, name and merge fields)."""
    return [
        Subscriber(row[0], row[1], fields=row[2]) if len(row) > 2 else Subscriber(row[0], row[1])
        for row in json.loads(packed)
    ]
