"""Per-recipient values: signed unsubscribe links, substitutions and List-Unsubscribe headers.

An edition is rendered once with substitution tokens (``%%KEY.name%%``); this module
computes, for one subscriber, the values of the tokens the email actually uses,
each in the variant its token names (plain for the subject and text part,
HTML-escaped or percent-encoded for the HTML: see render/tokens.py), and the
headers that carry their own unsubscribe link (RFC 2369 and RFC 8058). Pure
functions: the secret is passed in, never read from the environment.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from ..errors import ConfigError, SubstitutionsTooLarge
from ..models import (
    HTML,
    PLAIN,
    SUBSTITUTIONS_MAX_BYTES,
    TOKEN_KEY_CHARS,
    URL,
    VARIANTS,
    Recipient,
    Subscriber,
    inert_tags,
    parse_token,
    token,
    token_pattern,
)
from .tokens import UnsubscribeTokens, token_chars

PREVIEW_TOKEN = "PREVIEW-NOT-A-REAL-TOKEN"

_NAME, _EMAIL, _UNSUBSCRIBE_URL = "name", "email", "unsubscribe_url"
_BUILTIN = frozenset({_NAME, _EMAIL, _UNSUBSCRIBE_URL})
# What one character of a value may take in each variant, in UTF-8 bytes: 4 as it is,
# 6 HTML-escaped (" is &quot;), 12 percent-encoded (a 4-byte character is %XX four times).
_BYTES_A_CHAR = {PLAIN: 4, HTML: 6, URL: 12}
# The same for each UTF-8 byte of an address, which is bounded in bytes (``_bytes``).
_BYTES_AN_ADDRESS_BYTE = {PLAIN: 1, HTML: 6, URL: 3}
# The most bytes an address may take: 254 characters of 4 bytes.
ADDRESS_MAX_BYTES = 4 * 254
# Characters HTML escaping changes, and those percent-encoding leaves as they are.
_HTML_SPECIAL = re.compile(r"[&<>\"']")
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")
_ONE_CLICK = {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
# Everything str.splitlines() breaks on: none of it may reach a header.
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")
# Those and every other control character (NUL, ESC, DEL, ...); not the invisible
# format characters, such as the joiner inside an emoji, which are text.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# A display name longer than this is cut: it goes into the To header, and one long
# word there could not be folded under the 998-character line limit of RFC 5322.
NAME_MAX_CHARS = 200
# What a reader without a name is called.
NAME_FALLBACK = "there"


def used_tokens(*texts: str, key: str) -> frozenset[str]:
    """The substitution tokens of ``key`` (``%%KEY.name%%``, ``%%KEY.name.html%%``) that
    occur in any of the texts; token-like text with another key, or none, is not one."""
    pattern = token_pattern(key)
    return frozenset(found.group(0) for text in texts for found in pattern.finditer(text))


def unsubscribe_url(template: str, email: str, secret: str) -> str:
    """One recipient's one-click unsubscribe URL (see Personalizer.url, for many)."""
    return Personalizer(
        unsubscribe_url_template=template, unsubscribe_mailto="", secret=secret, used_tokens=()
    ).url(email)


class Personalizer:
    """Turns subscribers into recipients for one edition: built once, called per recipient.

    Everything that does not depend on the subscriber (the token cipher, the URL
    template, which tokens the email uses and in which variants, the mailto) is
    prepared here, so a million recipients cost a few microseconds each.
    ``used_tokens`` are tokens of ``token_key`` (see ``used_tokens``).
    """

    def __init__(
        self,
        *,
        unsubscribe_url_template: str,
        unsubscribe_mailto: str,
        secret: str,
        used_tokens: Collection[str],
        token_key: str = "",
        name_fallback: str = NAME_FALLBACK,
    ) -> None:
        check_unsubscribe_url(unsubscribe_url_template)
        self._template = _LINE_BREAKS.sub("", unsubscribe_url_template)
        self._seal = UnsubscribeTokens(secret).make if secret else None
        self._url_to_html = _url_to_html(self._template)
        self._mailto = _mailto_target(unsubscribe_mailto)
        self._mailto_tail = f", {self._mailto}" if self._mailto else ""
        # RFC 8058 one-click needs https.
        self._url_headers = _ONE_CLICK if self._template[:8].lower() == "https://" else {}
        self._fallback = name_fallback
        parsed = sorted((used, *parse_token(used, token_key)) for used in used_tokens)
        # Without a URL the unsubscribe link is not ours to fill (ASM mode: SendGrid's).
        self._tokens = [
            (used, field, variant)
            for used, field, variant in parsed
            if self._template or field != _UNSUBSCRIBE_URL
        ]
        variants: dict[str, set[str]] = {}
        for _, field, variant in self._tokens:
            variants.setdefault(field, set()).add(variant)
        self._fields = sorted(set(variants) - _BUILTIN)
        keys = sum(len(used) for used, _, _ in self._tokens)
        self._budget = _Budget.of(variants, self._template, keys)
        # Without merge fields, names cut to NAME_MAX_CHARS always fit: no check per reader.
        longest = Subscriber("", "x" * max(NAME_MAX_CHARS, len(name_fallback)))
        self._always_fits = not self._fields and (
            self._budget.bound(longest, name_fallback, ADDRESS_MAX_BYTES) < SUBSTITUTIONS_MAX_BYTES
        )

    def url(self, email: str) -> str:
        """The one-click unsubscribe URL for ``email`` ("" when none is configured).

        The reader's opaque token (audience/tokens.py) goes in ``{token}``; other braces
        are left alone: the template is not a format string. Without a secret the token
        is a marked preview token.
        """
        if not self._template:
            return ""
        sealed = PREVIEW_TOKEN if self._seal is None else self._seal(email)
        return self._template.replace("{token}", sealed)

    def misfit(self, subscriber: Subscriber) -> str:
        """Why the subscriber cannot be sent ("" when they can): quick unless near the limit."""
        if self._always_fits or self._surely_fits(subscriber):
            return ""
        try:
            self(subscriber)
        except SubstitutionsTooLarge as problem:
            return problem.reason
        return ""

    def _surely_fits(self, subscriber: Subscriber) -> bool:
        bound = self._budget.bound(subscriber, self._fallback, _bytes(subscriber.email))
        return bound < SUBSTITUTIONS_MAX_BYTES

    def __call__(self, subscriber: Subscriber) -> Recipient:
        """The subscriber as a recipient; raises SubstitutionsTooLarge past SendGrid's limit."""
        email = subscriber.email
        url = self.url(email)
        name = subscriber.name
        if len(name) > NAME_MAX_CHARS or not name.isprintable():
            name = _one_line(name)[:NAME_MAX_CHARS]
        values = {_NAME: name or self._fallback, _EMAIL: email, _UNSUBSCRIBE_URL: url}
        fields = subscriber.fields
        for field in self._fields:
            values[field] = _one_line(fields.get(field, ""))
        substitutions = {}
        for used, field, variant in self._tokens:
            value = values[field]
            if not variant:
                if "<%" in value and field != _UNSUBSCRIBE_URL:
                    value = inert_tags(value)
            elif variant == HTML:
                if field != _UNSUBSCRIBE_URL:
                    value = _html_escaped(value)
                elif self._url_to_html is not None:
                    value = self._url_to_html(value)
            elif _URL_SAFE.fullmatch(value) is None:
                value = quote(value, safe="")
            substitutions[used] = value
        if not self._always_fits and not self._surely_fits(subscriber):
            size = sum(len(key) + len(value.encode()) for key, value in substitutions.items())
            if size >= SUBSTITUTIONS_MAX_BYTES:
                raise SubstitutionsTooLarge(email, size)
        if url:
            headers = {"List-Unsubscribe": f"<{url}>{self._mailto_tail}", **self._url_headers}
        else:
            headers = {"List-Unsubscribe": self._mailto} if self._mailto else {}
        return Recipient(email, name, substitutions, headers)


@dataclass(frozen=True)
class _Budget:
    """The most a reader's substitutions may take, in bytes: a fixed part (the tokens
    themselves, the unsubscribe URL but for the address in it) plus so many bytes for
    each character of the name and each merge field and each byte of the address,
    according to the variants the email uses of each."""

    fixed: int
    name: int
    email: int
    fields: tuple[tuple[str, int], ...]  # (field, bytes a character)

    @classmethod
    def of(cls, variants: Mapping[str, Collection[str]], url_template: str, keys: int) -> _Budget:
        """For an email that uses ``variants`` of each field; ``keys``: its tokens' bytes."""

        def per_char(field: str, sizes: Mapping[str, int] = _BYTES_A_CHAR) -> int:
            return sum(sizes[variant] for variant in variants.get(field, ()))

        url_variants = variants.get(_UNSUBSCRIBE_URL, ()) if url_template else ()
        # The token seals the address: 4 base64 characters for each 3 of its bytes (2 a
        # byte, rounded up), which no variant escapes further.
        email = per_char(_EMAIL, _BYTES_AN_ADDRESS_BYTE) + 2 * url_template.count("{token}") * len(
            url_variants
        )
        fixed = keys + sum(_url_bytes(url_template, variant) for variant in url_variants)
        fields = tuple((field, per_char(field)) for field in sorted(set(variants) - _BUILTIN))
        return cls(fixed, per_char(_NAME), email, fields)

    def bound(self, subscriber: Subscriber, fallback: str, email_bytes: int) -> int:
        """The bound for ``subscriber`` with an address of at most ``email_bytes`` bytes."""
        size = self.fixed + self.name * max(len(subscriber.name), len(fallback))
        size += self.email * email_bytes
        if self.fields:
            values = subscriber.fields
            size += sum(per_char * len(values.get(field, "")) for field, per_char in self.fields)
        return size


def _url_bytes(template: str, variant: str) -> int:
    """The bytes of the unsubscribe URL in ``variant`` but for the address in it: the
    template as the variant escapes it, and a token's fixed part wherever it has one."""
    escape: Callable[[str], str] = {
        PLAIN: str,
        HTML: html.escape,
        URL: lambda text: quote(text, safe=""),
    }[variant]
    return len(escape(template).encode()) + token_chars(0) * template.count("{token}")


def check_unsubscribe_url(template: str) -> None:
    """Refuse an unsubscribe URL template with nowhere to put the signed token."""
    if template and "{token}" not in template:
        raise ConfigError(
            f"unsubscribe.url {template!r} has no {{token}}",
            "put {token} where the signed token goes: https://example.com/unsubscribe?t={token}",
        )


# The bytes of a field's tokens in every variant, keyed as render_email keys them, but
# for the field's name (which each of the three repeats).
_TOKENS_BYTES_BUT_NAME = sum(len(token("x", "k" * TOKEN_KEY_CHARS, v)) - 1 for v in VARIANTS)


class SurelyFits:
    """Whether a subscriber's substitutions fit SendGrid's limit whatever tokens the email
    uses: every built-in token and every merge field in every variant, and up to
    ``OTHER_TOKENS_BYTES`` of tokens for columns the list lacks (``check_other_tokens``
    refuses an email with more).

    True for all but readers with long names or hundreds of characters of merge
    fields, so it settles nearly everyone before the email is rendered;
    ``Personalizer.misfit`` settles the rest.
    """

    def __init__(self, unsubscribe_url_template: str) -> None:
        template = _LINE_BREAKS.sub("", unsubscribe_url_template)
        every = dict.fromkeys(_BUILTIN, VARIANTS)
        keys = 3 * sum(map(len, _BUILTIN)) + len(_BUILTIN) * _TOKENS_BYTES_BUT_NAME
        self._budget = budget = _Budget.of(every, template, keys + OTHER_TOKENS_BYTES)
        fixed = budget.fixed + budget.name * len(NAME_FALLBACK)  # a nameless reader's
        self._room = SUBSTITUTIONS_MAX_BYTES - fixed
        self._field_bytes = sum(_BYTES_A_CHAR.values())
        # Most readers are settled by their lengths alone: without merge fields, a name of
        # at most ``short_name`` characters and an address of at most ``short_address``
        # fit whatever the characters (four bytes each at most).
        self.short_address = _SHORT_ADDRESS_CHARS
        email_room = budget.email * 4 * _SHORT_ADDRESS_CHARS
        self.short_name = (self._room - 1 - email_room) // max(budget.name, 1)

    def __call__(self, subscriber: Subscriber) -> bool:
        if (
            not subscriber.fields
            and len(subscriber.name) <= self.short_name
            and len(subscriber.email) <= self.short_address
        ):
            return True
        budget = self._budget
        size = budget.name * len(subscriber.name) + budget.email * _bytes(subscriber.email)
        fields = subscriber.fields
        if fields:  # each field's tokens: its name and the key, in three variants
            size += self._field_bytes * sum(map(len, fields.values()))
            size += 3 * sum(map(len, fields)) + len(fields) * _TOKENS_BYTES_BUT_NAME
        return size < self._room


# The address length SurelyFits.short_name is worked out for: longer than nearly all.
_SHORT_ADDRESS_CHARS = 64
# What SurelyFits keeps for the keys of the email's tokens other than the built-in ones
# (a token for a column the list lacks is filled with ""): about thirty tokens.
OTHER_TOKENS_BYTES = 1_000


def check_other_tokens(tokens: Collection[str], key: str) -> None:
    """Refuse an email whose tokens other than the built-in ones take more than
    ``OTHER_TOKENS_BYTES``: SurelyFits would not be sure for such an email."""
    size = sum(len(used.encode()) for used in tokens if parse_token(used, key)[0] not in _BUILTIN)
    if size > OTHER_TOKENS_BYTES:
        raise ConfigError(
            f"the email's merge-field tokens take {size:,} bytes, more than the "
            f"{OTHER_TOKENS_BYTES:,} digest sets aside per reader",
            "use fewer subscriber fields in the templates, or each in fewer places "
            "(text, attribute, link)",
        )


def recipient_for(
    subscriber: Subscriber,
    *,
    unsubscribe_url_template: str,
    unsubscribe_mailto: str,
    secret: str,
    used_tokens: Collection[str],
    token_key: str = "",
    name_fallback: str = NAME_FALLBACK,
) -> Recipient:
    """One subscriber as a recipient (see Personalizer, for many)."""
    return Personalizer(
        unsubscribe_url_template=unsubscribe_url_template,
        unsubscribe_mailto=unsubscribe_mailto,
        secret=secret,
        used_tokens=used_tokens,
        token_key=token_key,
        name_fallback=name_fallback,
    )(subscriber)


def _url_to_html(template: str) -> Callable[[str], str] | None:
    """How to HTML-escape the unsubscribe URLs made from ``template`` (None: no need).

    The token (base64url) needs no escaping, so only the template's own characters
    decide; most templates have none or only the "&" between parameters.
    """
    escaped = html.escape(template)
    if escaped == template:
        return None
    if escaped == template.replace("&", "&amp;"):
        return lambda url: url.replace("&", "&amp;")
    return html.escape


def _bytes(text: str) -> int:
    """At least the UTF-8 bytes of ``text``, without encoding it (isascii takes no time)."""
    return len(text) if text.isascii() else 4 * len(text)


def _html_escaped(value: str) -> str:
    """The value HTML-escaped for text and quoted attributes; most need nothing done."""
    return html.escape(value) if _HTML_SPECIAL.search(value) else value


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
