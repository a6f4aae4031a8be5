"""How many bytes a reader's substitutions may take: SendGrid refuses a reader whose
substitutions (tokens and values) reach 10,000 bytes, and one refused reader stops a batch.

Bounds per character of each field in each variant, and the ``Budget`` of one email's
tokens; personalize.py measures readers against it (``Personalizer``, ``SurelyFits``).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from ..models import HTML, PLAIN, URL, Subscriber, split_name
from .tokens import token_chars
from .values import BUILTIN, EMAIL, FIRST_NAME, NAME, UNSUBSCRIBE_URL, longest_default

# What one character of a value may take in each variant, in UTF-8 bytes: 4 as it is,
# 6 HTML-escaped (" is &quot;), 12 percent-encoded (a 4-byte character is %XX four times).
BYTES_A_CHAR = {PLAIN: 4, HTML: 6, URL: 12}
# The same for each UTF-8 byte of an address, which is bounded in bytes (``address_bytes``).
BYTES_AN_ADDRESS_BYTE = {PLAIN: 1, HTML: 6, URL: 3}
# The most bytes an address may take: 254 characters of 4 bytes.
ADDRESS_MAX_BYTES = 4 * 254


@dataclass(frozen=True)
class Budget:
    """The most a reader's substitutions may take, in bytes: a fixed part (the tokens
    themselves, the unsubscribe URL but for the address in it, default filters' texts)
    plus so many bytes for each character of the name, the first name and each merge
    field and each byte of the address, according to the forms the email uses of each
    (a filter never lengthens a value: values.py)."""

    fixed: int
    name: int
    first_name: int
    email: int
    fields: tuple[tuple[str, int], ...]  # (field, bytes a character)

    @classmethod
    def of(cls, forms: Collection[tuple[str, str]], url_template: str, keys: int) -> Budget:
        """For an email that uses ``forms`` (token name, variant); ``keys``: its tokens' bytes."""
        by_field = [(split_name(name), variant) for name, variant in forms]

        def per_char(field: str, sizes: Mapping[str, int] = BYTES_A_CHAR) -> int:
            return sum(sizes[variant] for (named, _), variant in by_field if named == field)

        url_variants = [v for (field, _), v in by_field if field == UNSUBSCRIBE_URL]
        url_variants = url_variants if url_template else []
        # The token seals the address: 4 base64 characters for each 3 of its bytes (2 a
        # byte, rounded up), which no variant escapes further.
        email = per_char(EMAIL, BYTES_AN_ADDRESS_BYTE) + 2 * url_template.count("{token}") * len(
            url_variants
        )
        fixed = keys + sum(_url_bytes(url_template, variant) for variant in url_variants)
        fixed += sum(longest_default(filters) * BYTES_A_CHAR[v] for (_, filters), v in by_field)
        merged = sorted({field for (field, _), _ in by_field} - BUILTIN)
        fields = tuple((field, per_char(field)) for field in merged)
        return cls(fixed, per_char(NAME), per_char(FIRST_NAME), email, fields)

    def bound(self, subscriber: Subscriber, fallback: str, email_bytes: int) -> int:
        """The bound for ``subscriber`` with an address of at most ``email_bytes`` bytes."""
        name = max(len(subscriber.name), len(fallback))
        size = self.fixed + self.name * name + self.email * email_bytes
        values = subscriber.fields
        if self.first_name:
            size += self.first_name * max(name, len(values.get(FIRST_NAME, "")))
        if self.fields:
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


def address_bytes(text: str) -> int:
    """At least the UTF-8 bytes of ``text``, without encoding it (isascii takes no time)."""
    return len(text) if text.isascii() else 4 * len(text)
