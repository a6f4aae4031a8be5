"""The data every stage shares: posts, digests, subscribers and rendered email.

Plain frozen dataclasses; no I/O. Per-subscriber values travel through the
rendered email as substitution tokens (``%%name%%``) that the delivery layer
fills per recipient, so an edition is rendered once whatever the audience.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

SUBSCRIBER_STATUSES = ("active", "unsubscribed", "bounced", "complained")

# Edition keys name lock files and outbox folders: safe file-name characters only.
_EDITION_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def is_edition_key(key: str) -> bool:
    """Whether ``key`` can name an edition (e.g. 2026-03-09)."""
    return bool(_EDITION_KEY.fullmatch(key))


# What a per-subscriber field may be called to travel as a token: "company", "first_name".
FIELD_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"


def token(name: str) -> str:
    """The substitution token for a per-subscriber value, as it appears in rendered output."""
    return f"%%{name}%%"


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
