"""A new digest.toml from a newsletter's own values: what `digest init` writes.

The file holds the keys a new newsletter sets first, each under a comment saying what
it is for, with the values given (checked beforehand by ``load.read_value``) or else
their defaults; every other key keeps its default (README's configuration reference
lists them). Nothing in it comes from the bundled example.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .example import SAMPLE_FEED
from .settings import Settings

READER = "reader"


@dataclass(frozen=True)
class Question:
    """A value `digest init` asks for: the key it sets (or READER, the list's first
    reader), the option that gives it on the command line, the question, its default."""

    key: str
    flag: str
    text: str
    default: str = ""


QUESTIONS = (
    Question("newsletter.name", "--name", "Newsletter name", "My Newsletter"),
    Question("newsletter.from_email", "--from-email", "Sender address (blank: set it later)"),
    Question("newsletter.reply_to", "--reply-to", "Reply-To address (blank: the sender's)"),
    Question("newsletter.site_url", "--site-url", "Your site (an https:// URL)"),
    Question("newsletter.postal_address", "--postal-address", "Postal address, for the footer"),
    Question("source.location", "--feed", "Your blog's feed, a URL or a file (blank: a sample)"),
    Question(
        "unsubscribe.url",
        "--unsubscribe-url",
        "One-click unsubscribe URL, https://.../unsubscribe?token={token} (blank: later)",
    ),
    Question("sendgrid.asm_group_id", "--asm-group-id", "Or a SendGrid unsubscribe group (id)"),
    Question(READER, "--reader", "Your own address, the list's first reader (blank: none)"),
)


def still_needed(values: Mapping[str, Any]) -> list[str]:
    """The keys a send needs that ``values`` leaves unset (an unsubscribe method: either
    key), and the source if it is still the sample feed."""
    needed = ["newsletter.from_email", "newsletter.postal_address"]
    if not values.get("sendgrid.asm_group_id"):
        needed.append("unsubscribe.url")
    unset = [key for key in needed if not values.get(key)]
    sample = Path(values.get("source.location", "")).name == SAMPLE_FEED
    return [*unset, "source.location (the sample feed)"] if sample else unset


# The keys written, by section, each with the comment (its lines) above it.
WRITTEN: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("newsletter", (
        ("name", "shown in the header and as the From name"),
        ("from_email", "the sender, a bare address verified in SendGrid; a send needs it"),
        ("reply_to", "empty: replies go to from_email"),
        ("site_url", "your site; relative links in posts are made absolute against it"),
        ("postal_address", "in the footer: CAN-SPAM asks for one"),
    )),
    ("source", (
        ("type", "feed (RSS, Atom, JSON Feed) or markdown (a folder of .md posts)"),
        ("location", "a file (relative to this folder) or an http(s) URL"),
    )),
    ("subscribers", (("path", "the list, a CSV file: email,name,status,tags,subscribed_at"),)),
    ("delivery", (("backend", "sendgrid, smtp, or outbox (.eml files in outbox/, nothing sent)"),)),
    ("sendgrid", (
        ("asm_group_id", "a SendGrid unsubscribe group; 0: the self-hosted link below"),
        ("sandbox", "true: SendGrid checks each request and delivers nothing"),
    )),
    ("unsubscribe", (
        ("url", "your one-click endpoint (`digest unsubscribe serve` behind https), {token}\n"
         "where the reader's token goes; a send needs it, or sendgrid.asm_group_id"),
    )),
    ("schedule", (("timezone", "an IANA time zone; an edition's key is its date there"),)),
)  # fmt: skip
# Lines written commented out: keys worth knowing about that are fine left to their default.
COMMENTED = {
    "newsletter": (
        "# Why the reader gets it, in the footer (a Jinja template; this is the default):",
        '# reason = "You are receiving this because you subscribed to {{ newsletter.name }}."',
        '# The "view in browser" link, once your editions are on the web ({edition}: the key):',
        '# view_online_url = "https://news.example.org/editions/{edition}/"',
    )
}
HEADER = (
    "# digest.toml, written by `digest init`. Every key is optional; README's\n"
    '# "Configuration reference" lists them all with their defaults, and any key can be\n'
    "# overridden by an environment variable DIGEST_<SECTION>_<KEY>.\n"
    "# Secrets live in the environment only: SENDGRID_API_KEY, DIGEST_UNSUBSCRIBE_SECRET.\n"
)


def digest_toml(values: Mapping[str, Any]) -> str:
    """The text of a digest.toml with ``values`` (by key, ``newsletter.name``, already of
    the key's type), the defaults for the other keys it writes."""
    defaults = Settings()
    lines = [HEADER]
    for section, keys in WRITTEN:
        lines.append(f"\n[{section}]\n")
        for key, comment in keys:
            value = values.get(f"{section}.{key}", getattr(getattr(defaults, section), key))
            lines += (f"# {line}\n" for line in comment.splitlines())
            lines.append(f"{key} = {toml_value(value)}\n")
        lines += (f"{line}\n" for line in COMMENTED.get(section, ()))
    return "".join(lines)


def toml_value(value: str | int | bool) -> str:
    """``value`` written as TOML: a basic string with what TOML requires escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + "".join(map(_toml_char, value)) + '"'


def _toml_char(char: str) -> str:
    if char in '"\\':
        return f"\\{char}"
    if char.isprintable():
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
