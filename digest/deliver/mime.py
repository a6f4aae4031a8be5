"""One recipient's complete MIME message, built from an edition's shared ``Message``.

The SMTP and outbox backends hand mail over as RFC 5322 bytes, so they need what
SendGrid assembles on its side: the recipient's substitutions filled in, a
multipart/alternative body (text/plain first, so clients prefer the HTML), and
headers that survive strict receivers. The message is serialized with a 7-bit
SMTP policy: a body with non-ASCII text or a line over 76 characters becomes
quoted-printable or base64 (so no line exceeds RFC 2045's 76, whatever the HTML's
line lengths), non-ASCII names and subjects become RFC 2047 encoded words, and no
server needs 8BITMIME.
"""

from __future__ import annotations

import email.policy
import hashlib
import re
import unicodedata
from datetime import datetime
from email.headerregistry import Address, AddressHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from typing import Any

from ..errors import DeliveryError, InvalidAddress
from ..models import Recipient, fill_tokens
from ..urls import ascii_domain
from . import Message


class _UrlListHeader(UnstructuredHeader):
    """An RFC 2369 header (``<url>, <url>``): folded between URLs only, never encoded.

    The stdlib folds an over-long unbroken token as RFC 2047 encoded words, which
    would turn a long ``List-Unsubscribe`` URL into something no mailbox provider
    reads as a URL. A line of up to 998 characters is legal, so each URL stays whole.
    """

    def fold(self, *, policy: Any) -> str:
        value = str(self)
        if not value.isascii():
            return super().fold(policy=policy)
        line = f"{self.name}: {value}"
        if len(line) > policy.max_line_length:
            line = f",{policy.linesep} ".join(re.split(r"(?<=>)\s*,\s*", line))
        return line + policy.linesep


URL_LIST_HEADERS = ("list-unsubscribe", "list-help", "list-subscribe", "list-post", "list-archive")


class _MailboxHeader(AddressHeader):
    """From, To, Reply-To: a quoted display name is never folded by the standard library.

    Python releases without the fix of CPython gh-80222 (3.11.7 among them) drop the
    quotes of a quoted-string when they fold an address header: a reader named
    ``Bob, eve@evil.example``, long enough to be folded, became two addresses, so a
    reply to all would reach eve. Such a header is written on one line, which RFC 5322
    allows up to 998 characters (names are cut to 200); a name with other than ASCII
    is an encoded word, folded safely.
    """

    def fold(self, *, policy: Any) -> str:
        value = str(self)
        line = f"{self.name}: {value}"
        if '"' in value and value.isascii() and len(line) <= MAX_LINE:
            return line + policy.linesep
        return super().fold(policy=policy)


MAILBOX_HEADERS = ("from", "to", "reply-to")
MAX_LINE = 998


def _header_registry() -> HeaderRegistry:
    registry = HeaderRegistry()
    for name in URL_LIST_HEADERS:
        registry.map_to_type(name, _UrlListHeader)
    for name in MAILBOX_HEADERS:
        registry.map_to_type(name, _MailboxHeader)
    return registry


POLICY = email.policy.SMTP.clone(
    cte_type="7bit", max_line_length=76, header_factory=_header_registry()
)
"""CRLF line ends, 7-bit bodies, lines of at most 76 characters: RFC 2045's limit for
quoted-printable and base64 bodies, and within RFC 5322's 78 for headers."""
LIST_LABEL_CHARS = 63  # a list-id's label is a DNS label


def build_message(
    message: Message, recipient: Recipient, *, now: datetime, message_id_domain: str
) -> EmailMessage:
    """The complete message ``recipient`` receives, tokens filled, ready to serialize.

    ``now`` becomes the Date header (a naive datetime is written with ``-0000``,
    "zone unknown", as RFC 5322 prescribes). The Message-ID is deterministic, see
    ``message_id``, and so is the MIME boundary: the same inputs give the same bytes.
    """
    fill = recipient.substitutions
    domain = _ascii_domain(message_id_domain or _domain(message.from_email), message.from_email)
    msg_id = message_id(message, recipient, domain)
    email_message = EmailMessage(policy=POLICY)
    for name, value in _headers(message, recipient, now, msg_id).items():
        email_message[name] = value
    email_message.set_content(fill_tokens(message.text, fill), subtype="plain", charset="utf-8")
    email_message.add_alternative(fill_tokens(message.html, fill), subtype="html", charset="utf-8")
    for part in email_message.iter_parts():
        del part["MIME-Version"]  # the stdlib adds one to each part; RFC 2045 wants it at the top
    email_message.set_boundary(f"==digest.{msg_id.strip('<>').partition('@')[0]}==")
    return email_message


def _headers(
    message: Message, recipient: Recipient, now: datetime, msg_id: str
) -> dict[str, str | Address]:
    """The top-level headers; the recipient's own (List-Unsubscribe, ...) come last and win."""
    headers: dict[str, str | Address] = {
        "From": mailbox(message.from_name, message.from_email),
        "To": mailbox(recipient.name, recipient.email),
    }
    if message.reply_to:
        reply_name, reply_address = parseaddr(message.reply_to)
        headers["Reply-To"] = mailbox(reply_name, reply_address or message.reply_to)
    headers["Subject"] = fill_tokens(message.subject, recipient.substitutions)
    headers["Date"] = format_datetime(now)
    headers["Message-ID"] = msg_id
    headers["List-Id"] = list_id(message.from_name, message.from_email)
    if message.edition:
        headers["X-Digest-Edition"] = message.edition
    lowered = {name.lower(): name for name in headers}
    for name, value in recipient.headers.items():
        headers.pop(lowered.get(name.lower(), name), None)
        headers[name] = value
    return headers


@lru_cache(maxsize=8)
def list_id(name: str, from_email: str) -> str:
    """The RFC 2919 ``List-Id``: ``"Name" <name-slug.sender-domain>``, one per newsletter.

    Mail clients and filters group an edition with the earlier ones by it. The label is
    the newsletter's name in ASCII letters and digits ("digest" when none are left) and
    the namespace the sender's domain, which the newsletter controls. The quoted name is
    written only when it is plain ASCII: an encoded word is not allowed inside quotes.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    label = slug[:LIST_LABEL_CHARS].strip("-") or "digest"
    identifier = f"<{label}.{_ascii_domain(_domain(from_email), from_email)}>"
    if not name.strip() or not name.isascii() or not name.isprintable():
        return identifier
    quoted = name.strip().replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" {identifier}'


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


def mailbox(name: str, address: str) -> Address:
    """A From/To/Reply-To mailbox; an international domain is written in its IDNA (ASCII) form.

    A non-ASCII local part could only travel with SMTPUTF8, which neither this
    module nor SendGrid sends: it is refused with the address named.
    """
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise DeliveryError(f"{address!r} is not an email address", "fix it in subscribers.csv")
    if not local.isascii():
        raise DeliveryError(
            f"{address}: a non-ASCII local part needs SMTPUTF8, which digest does not send",
            "fix or remove the address in subscribers.csv",
        )
    return Address(display_name=name, addr_spec=f"{local}@{_ascii_domain(domain, address)}")


def _ascii_domain(domain: str, address: str) -> str:
    """The domain in its IDNA (ASCII) form, as headers need it."""
    try:
        return ascii_domain(domain)
    except InvalidAddress as error:
        raise DeliveryError(
            f"{address}: the domain is not a valid international name ({error})",
            "fix the address (in subscribers.csv, or newsletter.from_email in digest.toml)",
        ) from None


def message_id(message: Message, recipient: Recipient, domain: str) -> str:
    """A Message-ID derived from the edition, its content and the recipient's address.

    Deterministic on purpose: a batch sent again after an uncertain outcome (or an
    outbox rerun) carries the same Message-ID as the first attempt, so receivers
    that deduplicate by Message-ID (Gmail does) show the reader one copy. A test
    send has its own subject ("[TEST] ...") and therefore its own id; two
    identical test sends to one address share one.
    """
    address = recipient.email.strip().lower()
    unique = hashlib.sha256(f"{_content_digest(message)}\0{address}".encode()).hexdigest()[:32]
    edition = re.sub(r"[^A-Za-z0-9-]+", "-", message.edition).strip("-") or "digest"
    return f"<{edition}.{unique}@{domain}>"


@lru_cache(maxsize=8)
def _content_digest(message: Message) -> str:
    """The hash of what every recipient shares, computed once per edition, not per recipient."""
    parts = (message.edition, message.subject, message.from_email, message.text, message.html)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()
