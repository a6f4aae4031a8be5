"""Per-recipient values: signed unsubscribe links, substitutions and List-Unsubscribe headers.

An edition is rendered once with substitution tokens (``%%KEY.name%%``); this module
computes, for one subscriber, the values of the tokens the email actually uses,
each in the variant its token names (plain for the subject and text part,
HTML-escaped or percent-encoded for the HTML: see render/tokens.py), and the
headers that carry their own unsubscribe link (RFC 2369 and RFC 8058). A token may
carry filters (``%%KEY.name.upper%%``: values.py applies them), and ``first_name`` is
filled for every reader, with or without such a column (values.first_name). Pure
functions: the secret is passed in, never read from the environment.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Collection
from urllib.parse import quote

from ..errors import ConfigError, SubstitutionsTooLarge, TemplateError
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
    split_name,
    token,
    token_pattern,
)
from .sizing import (
    ADDRESS_MAX_BYTES,
    BYTES_A_CHAR,
    Budget,
    address_bytes,
)
from .tokens import UnsubscribeTokens
from .values import (
    BUILTIN,
    EMAIL,
    FALLS_BACK,
    FIRST_NAME,
    NAME,
    NAME_FALLBACK,
    UNSUBSCRIBE_URL,
    compose,
    first_name,
    longest_default,
)

PREVIEW_TOKEN = "PREVIEW-NOT-A-REAL-TOKEN"

# What SurelyFits sets aside for each text field (name, first_name, a merge field) in each
# variant: the value as it is and one filtered form (``subscriber.name | upper``).
# An address and a link take no filters: one form each.
FORMS = 2
_ONE_FORM = frozenset({EMAIL, UNSUBSCRIBE_URL})
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
            (used, name, variant)
            for used, name, variant in parsed
            if self._template or split_name(name)[0] != UNSUBSCRIBE_URL
        ]
        forms = [(name, variant) for _, name, variant in self._tokens]
        fields = {split_name(name)[0] for name, _ in forms}
        self._fields = sorted(fields - BUILTIN)
        self._first_name = FIRST_NAME in fields
        # Each filtered form once: (its name, its field, the filters, whether one is default).
        self._filtered = [
            (name, field, *compose(filters))
            for name in sorted({name for name, _ in forms})
            for field, filters in [split_name(name)]
            if filters
        ]
        keys = sum(len(used) for used, _, _ in self._tokens)
        self._budget = Budget.of(forms, self._template, keys)
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
        bound = self._budget.bound(subscriber, self._fallback, address_bytes(subscriber.email))
        return bound < SUBSTITUTIONS_MAX_BYTES

    def __call__(self, subscriber: Subscriber) -> Recipient:
        """The subscriber as a recipient; raises SubstitutionsTooLarge past SendGrid's limit."""
        email = subscriber.email
        url = self.url(email)
        name = subscriber.name
        if len(name) > NAME_MAX_CHARS or not name.isprintable():
            name = _one_line(name)[:NAME_MAX_CHARS]
        values = {NAME: name or self._fallback, EMAIL: email, UNSUBSCRIBE_URL: url}
        fields = subscriber.fields
        first = ""
        if self._first_name:
            # A first_name column is cut as a name is: _always_fits is worked out for names
            # of at most NAME_MAX_CHARS, the first name included.
            if FIRST_NAME in fields:
                first = _one_line(fields[FIRST_NAME])[:NAME_MAX_CHARS]
            else:
                first = first_name(name)
            values[FIRST_NAME] = first or self._fallback
        for field in self._fields:
            values[field] = _one_line(fields.get(field, ""))
        for form, field, apply, has_default in self._filtered:
            value = values[field]
            if has_default and field in FALLS_BACK and not (name if field == NAME else first):
                value = ""  # a default filter stands in for an empty name before the fallback
            values[form] = apply(value)
        substitutions = {}
        for used, form, variant in self._tokens:
            value = values[form]
            if not variant:
                if "<%" in value and form != UNSUBSCRIBE_URL:
                    value = inert_tags(value)
            elif variant == HTML:
                if form != UNSUBSCRIBE_URL:
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
    uses: every built-in token and every merge field in every variant and ``FORMS``
    forms, and up to ``OTHER_TOKENS_BYTES`` of other tokens and default texts
    (``check_other_tokens`` refuses an email that uses more).

    True for all but readers with long names or hundreds of characters of merge
    fields, so it settles nearly everyone before the email is rendered;
    ``Personalizer.misfit`` settles the rest.
    """

    def __init__(self, unsubscribe_url_template: str) -> None:
        template = _LINE_BREAKS.sub("", unsubscribe_url_template)
        # Any filter stands for the filtered form: none makes a value longer.
        forms = [
            (name, variant)
            for field in BUILTIN
            for name in ([field] if field in _ONE_FORM else [field, f"{field}.trim"])
            for variant in VARIANTS
        ]
        keys = 3 * sum(map(len, BUILTIN)) + len(BUILTIN) * _TOKENS_BYTES_BUT_NAME
        budget = Budget.of(forms, template, keys + OTHER_TOKENS_BYTES)
        # The first name is the name's first word, or the first_name column (a merge field).
        self._name = budget.name + budget.first_name
        self._email = budget.email
        self._room = SUBSTITUTIONS_MAX_BYTES - budget.fixed - self._name * len(NAME_FALLBACK)
        self._field_bytes = FORMS * sum(BYTES_A_CHAR.values())
        # Most readers are settled by their lengths alone: without merge fields, a name of
        # at most ``short_name`` characters and an address of at most ``short_address``
        # fit whatever the characters (four bytes each at most).
        self.short_address = _SHORT_ADDRESS_CHARS
        email_room = self._email * 4 * _SHORT_ADDRESS_CHARS
        self.short_name = (self._room - 1 - email_room) // max(self._name, 1)

    def __call__(self, subscriber: Subscriber) -> bool:
        if (
            not subscriber.fields
            and len(subscriber.name) <= self.short_name
            and len(subscriber.email) <= self.short_address
        ):
            return True
        size = self._name * len(subscriber.name) + self._email * address_bytes(subscriber.email)
        fields = subscriber.fields
        if fields:  # each field's tokens: its name and the key, in three variants
            size += self._field_bytes * sum(map(len, fields.values()))
            size += 3 * sum(map(len, fields)) + len(fields) * _TOKENS_BYTES_BUT_NAME
        return size < self._room


# The address length SurelyFits.short_name is worked out for: longer than nearly all.
_SHORT_ADDRESS_CHARS = 64
# What SurelyFits keeps for the keys of the email's tokens other than the built-in ones as
# they are (a filtered one, one for a column the list lacks, which is filled with "")
# and for default filters' texts: about thirty tokens.
OTHER_TOKENS_BYTES = 1_000
_PLACES = {PLAIN: "the subject and text part", HTML: "the HTML", URL: "links"}


def check_other_tokens(tokens: Collection[str], key: str) -> None:
    """Refuse an email whose tokens SurelyFits would not be sure of: a field in more than
    ``FORMS`` forms in one variant, or other tokens and default texts over
    ``OTHER_TOKENS_BYTES``."""
    parsed = [(used, *parse_token(used, key)) for used in tokens]
    forms: dict[tuple[str, str], list[str]] = {}
    for _, name, variant in parsed:
        forms.setdefault((split_name(name)[0], variant), []).append(name)
    for (field, variant), names in sorted(forms.items()):
        if len(names) > (1 if field in _ONE_FORM else FORMS):
            raise TemplateError(
                f"the templates put subscriber.{field} in {_PLACES[variant]} in "
                f"{len(names)} forms ({', '.join(sorted(names))}); digest sets aside room "
                f"for {FORMS} a reader",
                "use one filter chain on it there, or none",
            )
    size = sum(len(used.encode()) for used, name, _ in parsed if name not in BUILTIN)
    size += sum(
        longest_default(split_name(name)[1]) * BYTES_A_CHAR[variant] for _, name, variant in parsed
    )
    if size > OTHER_TOKENS_BYTES:
        raise ConfigError(
            f"the email's merge-field tokens and default texts take {size:,} bytes, more than the "
            f"{OTHER_TOKENS_BYTES:,} digest sets aside per reader",
            "use fewer subscriber fields or shorter defaults in the templates, or each in "
            "fewer places (text, attribute, link)",
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
