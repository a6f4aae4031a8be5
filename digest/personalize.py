"""Per-recipient values: signed unsubscribe links, substitutions and List-Unsubscribe headers.

An edition is rendered once with substitution tokens (``%%name%%``); this module
computes, for one subscriber, the values of the tokens the email actually uses
and the headers that carry their own unsubscribe link (RFC 2369 and RFC 8058).
Pure functions: the secret is passed in, never read from the environment.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Collection
from urllib.parse import quote

from .errors import ConfigError, SubscribersError
from .models import FIELD_NAME, Recipient, Subscriber, token

PREVIEW_TOKEN = "PREVIEW-NOT-A-REAL-TOKEN"
# SendGrid: "The total collective size of your substitutions may not exceed 10,000 bytes".
SUBSTITUTIONS_MAX_BYTES = 10_000

# The shape of models.token around a field name such as "name", "first_name" or "first-name".
_TOKEN = re.compile(rf"%%{FIELD_NAME}%%")
_NAME, _EMAIL, _UNSUBSCRIBE_URL = token("name"), token("email"), token("unsubscribe_url")
_BUILTIN = frozenset({_NAME, _EMAIL, _UNSUBSCRIBE_URL})
_ONE_CLICK = {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
# Addresses whose only character quote() would change is the "@".
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+")
# Everything str.splitlines() breaks on: none of it may reach a header.
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")
# Those and every other control character (NUL, ESC, DEL, ...); not the invisible
# format characters, such as the joiner inside an emoji, which are text.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# A display name longer than this is cut: it goes into the To header, and one long
# word there could not be folded under the 998-character line limit of RFC 5322.
NAME_MAX_CHARS = 200


class SubstitutionsTooLarge(SubscribersError):
    """One recipient's substitutions exceed what a provider accepts per personalization."""

    hint = "shorten this reader's fields in the subscribers file"

    def __init__(self, email: str, size: int) -> None:
        self.reason = (
            f"substitutions take {size:,} bytes, the limit is under {SUBSTITUTIONS_MAX_BYTES:,}"
        )
        super().__init__(f"{email}: {self.reason}")


# RFC 2104: the key, padded to SHA-256's 64-byte block, XORed with 0x36 and 0x5c.
_BLOCK = 64
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


class HmacSha256:
    """HMAC-SHA256 under one key, for signing many short messages.

    The two padded-key blocks are hashed once and their states copied per message:
    about 0.9 µs a message, where ``hmac.digest`` sets the key up again each time
    (4 µs) and ``HMAC.copy`` goes through Python (3 µs). At a million readers that
    is seconds. tests/test_personalize.py checks it against the ``hmac`` module.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_INNER_PAD))
        self._outer = hashlib.sha256(key.translate(_OUTER_PAD))

    def __call__(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def used_tokens(*texts: str) -> frozenset[str]:
    """The substitution tokens (``%%name%%``) that occur in any of the texts."""
    return frozenset(found for text in texts for found in _TOKEN.findall(text))


def unsubscribe_token(email: str, secret: str) -> str:
    """HMAC-SHA256 of the lowercased address under the secret, urlsafe base64 without padding."""
    return _token_text(HmacSha256(secret.encode())(email.lower().encode()))


def _token_text(digest: bytes) -> str:
    """A digest as urlsafe base64 without padding (43 characters for SHA-256)."""
    encoded = binascii.b2a_base64(digest, newline=False).rstrip(b"=")
    return encoded.translate(_URLSAFE).decode("ascii")


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def unsubscribe_url(template: str, email: str, secret: str) -> str:
    """One recipient's one-click unsubscribe URL (see Personalizer.url, for many)."""
    return Personalizer(
        unsubscribe_url_template=template, unsubscribe_mailto="", secret=secret, used_tokens=()
    ).url(email)


class Personalizer:
    """Turns subscribers into recipients for one edition: built once, called per recipient.

    Everything that does not depend on the subscriber (the keyed HMAC, the URL
    template, which tokens the email uses, the mailto) is prepared here, so a
    million recipients cost a few microseconds each.
    """

    def __init__(
        self,
        *,
        unsubscribe_url_template: str,
        unsubscribe_mailto: str,
        secret: str,
        used_tokens: Collection[str],
        name_fallback: str = "there",
    ) -> None:
        check_unsubscribe_url(unsubscribe_url_template)
        self._template = _LINE_BREAKS.sub("", unsubscribe_url_template)
        self._sign = HmacSha256(secret.encode()) if secret else None
        self._quotes_email = "{email}" in self._template
        self._mailto = _mailto_target(unsubscribe_mailto)
        self._mailto_tail = f", {self._mailto}" if self._mailto else ""
        # RFC 8058 one-click needs https.
        self._url_headers = _ONE_CLICK if self._template[:8].lower() == "https://" else {}
        self._fallback = name_fallback
        # Without a URL the unsubscribe link is not ours to fill (ASM mode: SendGrid's).
        self._tokens = sorted(
            used for used in used_tokens if self._template or used != _UNSUBSCRIBE_URL
        )
        self._fields = [(used, used[2:-2]) for used in self._tokens if used not in _BUILTIN]
        self._fixed_bound = _fixed_bound(self._tokens, self._template)
        # Without merge fields, names cut to NAME_MAX_CHARS always fit: no check per reader.
        longest_name = max(NAME_MAX_CHARS, len(name_fallback))
        self._always_fits = (
            not self._fields and self._fixed_bound + 4 * longest_name < SUBSTITUTIONS_MAX_BYTES
        )
        self._wants = {used: used in self._tokens for used in _BUILTIN}

    def url(self, email: str) -> str:
        """The one-click unsubscribe URL for ``email`` ("" when none is configured).

        The signed token goes in ``{token}``; ``{email}``, if the template has it, is
        URL-quoted. Other braces are left alone: the template is not a format string.
        Without a secret the token is a marked preview token.
        """
        if not self._template:
            return ""
        if self._sign is None:
            signed = PREVIEW_TOKEN
        else:
            signed = _token_text(self._sign(email.lower().encode()))
        url = self._template.replace("{token}", signed)
        return url.replace("{email}", _quoted(email)) if self._quotes_email else url

    def misfit(self, subscriber: Subscriber) -> str:
        """Why the subscriber cannot be sent ("" when they can): quick unless near the limit."""
        if self._surely_fits(subscriber):
            return ""
        try:
            self(subscriber)
        except SubstitutionsTooLarge as problem:
            return problem.reason
        return ""

    def _surely_fits(self, subscriber: Subscriber) -> bool:
        name = max(len(subscriber.name), len(self._fallback))  # a nameless reader gets it
        if not self._fields:
            return self._fixed_bound + 4 * name < SUBSTITUTIONS_MAX_BYTES
        fields = subscriber.fields
        merged = sum(len(fields.get(field, "")) for _, field in self._fields)
        return self._fixed_bound + 4 * (name + merged) < SUBSTITUTIONS_MAX_BYTES

    def __call__(self, subscriber: Subscriber) -> Recipient:
        """The subscriber as a recipient; raises SubstitutionsTooLarge past SendGrid's limit."""
        email = subscriber.email
        url = self.url(email)
        name = subscriber.name
        if len(name) > NAME_MAX_CHARS or not name.isprintable():
            name = _one_line(name)[:NAME_MAX_CHARS]
        if self._fields:
            substitutions = self._with_fields(subscriber, name, url)
        else:
            # Called once per reader of a send: the built-in tokens, in sorted order, directly.
            substitutions = {}
            wants = self._wants
            if wants[_EMAIL]:
                substitutions[_EMAIL] = email
            if wants[_NAME]:
                substitutions[_NAME] = name or self._fallback
            if wants[_UNSUBSCRIBE_URL]:
                substitutions[_UNSUBSCRIBE_URL] = url
        if not self._always_fits and not self._surely_fits(subscriber):
            size = sum(len(key) + len(value.encode()) for key, value in substitutions.items())
            if size >= SUBSTITUTIONS_MAX_BYTES:
                raise SubstitutionsTooLarge(email, size)
        if url:
            headers = {"List-Unsubscribe": f"<{url}>{self._mailto_tail}", **self._url_headers}
        else:
            headers = {"List-Unsubscribe": self._mailto} if self._mailto else {}
        return Recipient(email, name, substitutions, headers)

    def _with_fields(self, subscriber: Subscriber, name: str, url: str) -> dict[str, str]:
        """The substitutions of an email that uses merge fields, in sorted token order."""
        values = {_NAME: name or self._fallback, _EMAIL: subscriber.email, _UNSUBSCRIBE_URL: url}
        for used, field in self._fields:
            values[used] = _one_line(subscriber.fields.get(field, ""))
        return {used: values[used] for used in self._tokens}


def check_unsubscribe_url(template: str) -> None:
    """Refuse an unsubscribe URL template with nowhere to put the signed token."""
    if template and "{token}" not in template:
        raise ConfigError(
            f"unsubscribe.url {template!r} has no {{token}}",
            "put {token} where the signed token goes: https://example.com/unsubscribe?t={token}",
        )


class SurelyFits:
    """Whether a subscriber's substitutions fit SendGrid's limit whatever tokens the email
    uses: every built-in token, every merge field, and up to ``OTHER_TOKENS_BYTES`` of
    tokens for columns the list lacks (``check_other_tokens`` refuses an email with more).

    True for all but readers with kilobytes of merge fields, so it settles nearly
    everyone before the email is rendered; ``Personalizer.misfit`` settles the rest.
    """

    def __init__(self, unsubscribe_url_template: str) -> None:
        template = _LINE_BREAKS.sub("", unsubscribe_url_template)
        fixed = _fixed_bound(_BUILTIN, template) + OTHER_TOKENS_BYTES
        self._room = SUBSTITUTIONS_MAX_BYTES - fixed

    def __call__(self, subscriber: Subscriber) -> bool:
        fields = subscriber.fields
        chars = len(subscriber.name)
        if fields:  # each field's token is its name and four "%"
            chars += sum(map(len, fields)) + sum(map(len, fields.values())) + 4 * len(fields)
        return 4 * chars < self._room


# What SurelyFits keeps for the keys of the email's tokens other than the built-in ones
# (a token for a column the list lacks is filled with ""): about sixty tokens.
OTHER_TOKENS_BYTES = 1_000


def check_other_tokens(tokens: Collection[str]) -> None:
    """Refuse an email whose tokens other than the built-in ones take more than
    ``OTHER_TOKENS_BYTES``: SurelyFits would not be sure for such an email."""
    size = sum(len(used.encode()) for used in tokens if used not in _BUILTIN)
    if size > OTHER_TOKENS_BYTES:
        raise ConfigError(
            f"the email's merge-field tokens take {size:,} bytes, more than the "
            f"{OTHER_TOKENS_BYTES:,} digest sets aside per reader",
            "use fewer or shorter %%field%% tokens in the templates",
        )


def _fixed_bound(tokens: Collection[str], url_template: str) -> int:
    """What the substitutions for ``tokens`` take at most besides the name and merge
    fields: each key, an address of up to 254 characters (4 bytes each), and its URL
    with the address quoted (up to 12 bytes a character) and a 43-character token
    wherever the template has them."""
    return (
        sum(len(used) for used in tokens)
        + 4 * 254
        + len(url_template.encode())
        + 12 * 254 * url_template.count("{email}")
        + 43 * url_template.count("{token}")
    )


def recipient_for(
    subscriber: Subscriber,
    *,
    unsubscribe_url_template: str,
    unsubscribe_mailto: str,
    secret: str,
    used_tokens: Collection[str],
    name_fallback: str = "there",
) -> Recipient:
    """One subscriber as a recipient (see Personalizer, for many)."""
    return Personalizer(
        unsubscribe_url_template=unsubscribe_url_template,
        unsubscribe_mailto=unsubscribe_mailto,
        secret=secret,
        used_tokens=used_tokens,
        name_fallback=name_fallback,
    )(subscriber)


def _quoted(email: str) -> str:
    """The address URL-quoted; the common plain address takes a shortcut past quote()."""
    if _PLAIN_ADDRESS.fullmatch(email):
        return email.replace("@", "%40")
    return quote(email, safe="")


def _mailto_target(mailto: str) -> str:
    """The ``<mailto:...>`` part of List-Unsubscribe, or "" without an address."""
    mailto = _LINE_BREAKS.sub("", mailto).strip().removeprefix("mailto:")
    if not mailto:
        return ""
    query = "" if "?" in mailto else "?subject=unsubscribe"
    return f"<mailto:{mailto}{query}>"


def _one_line(value: str) -> str:
    """The value with line breaks and other control characters turned into spaces:
    substitutions also fill the Subject, and names the To header."""
    return _CONTROLS.sub(" ", value) if value and not value.isprintable() else value
