"""Per-recipient values: signed unsubscribe links, substitutions and List-Unsubscribe headers.

An edition is rendered once with substitution tokens (``%%name%%``); this module
computes, for one subscriber, the values of the tokens the email actually uses
and the headers that carry their own unsubscribe link (RFC 2369 and RFC 8058).
Pure functions: the secret is passed in, never read from the environment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Collection
from urllib.parse import quote

from .errors import ConfigError
from .models import Recipient, Subscriber, token

PREVIEW_TOKEN = "PREVIEW-NOT-A-REAL-TOKEN"
# SendGrid: "The total collective size of your substitutions may not exceed 10,000 bytes".
SUBSTITUTIONS_MAX_BYTES = 10_000

# The shape of models.token around a field name such as "name", "first_name" or "first-name".
_TOKEN = re.compile(r"%%[A-Za-z_][A-Za-z0-9_-]*%%")
# Everything str.splitlines() breaks on: none of it may reach a header.
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")


class SubstitutionsTooLarge(ValueError):
    """One recipient's substitutions exceed what a provider accepts per personalization."""


def used_tokens(*texts: str) -> frozenset[str]:
    """The substitution tokens (``%%name%%``) that occur in any of the texts."""
    return frozenset(found for text in texts for found in _TOKEN.findall(text))


def unsubscribe_token(email: str, secret: str) -> str:
    """HMAC-SHA256 of the lowercased address under the secret, urlsafe base64 without padding."""
    digest = hmac.new(secret.encode(), email.lower().encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def unsubscribe_url(template: str, email: str, secret: str) -> str:
    """The recipient's one-click unsubscribe URL; a marked preview token when there is no secret.

    ``{token}`` in the template is required; ``{email}`` is optional and URL-quoted.
    Other braces are left alone, so the template is not a format string.
    """
    if "{token}" not in template:
        raise ConfigError(
            f"unsubscribe.url {template!r} has no {{token}}",
            "put {token} where the signed token goes: https://example.com/unsubscribe?t={token}",
        )
    signed = unsubscribe_token(email, secret) if secret else PREVIEW_TOKEN
    url = template.replace("{email}", quote(email, safe="")).replace("{token}", signed)
    return _LINE_BREAKS.sub("", url)


def recipient_for(
    subscriber: Subscriber,
    *,
    unsubscribe_url_template: str,
    unsubscribe_mailto: str,
    secret: str,
    used_tokens: Collection[str],
    name_fallback: str = "there",
) -> Recipient:
    """The subscriber as a recipient: substitutions for the used tokens, unsubscribe headers.

    Raises SubstitutionsTooLarge when the substitutions reach SUBSTITUTIONS_MAX_BYTES.
    """
    url = (
        unsubscribe_url(unsubscribe_url_template, subscriber.email, secret)
        if unsubscribe_url_template
        else ""
    )
    values = {token(name): value for name, value in subscriber.fields.items()}
    values[token("name")] = subscriber.name or name_fallback
    values[token("email")] = subscriber.email
    if url:
        values[token("unsubscribe_url")] = url
    substitutions = {
        used: _one_line(values.get(used, ""))
        for used in sorted(used_tokens)
        # Without a URL the unsubscribe link is not ours to fill (ASM mode: SendGrid's).
        if used in values or used != token("unsubscribe_url")
    }
    size = sum(len(key.encode()) + len(value.encode()) for key, value in substitutions.items())
    if size >= SUBSTITUTIONS_MAX_BYTES:
        raise SubstitutionsTooLarge(
            f"{subscriber.email}: substitutions take {size:,} bytes, "
            f"the limit is under {SUBSTITUTIONS_MAX_BYTES:,}"
        )
    return Recipient(
        email=subscriber.email,
        name=_one_line(subscriber.name),
        substitutions=substitutions,
        headers=_unsubscribe_headers(url, unsubscribe_mailto),
    )


def _unsubscribe_headers(url: str, mailto: str) -> dict[str, str]:
    """List-Unsubscribe (RFC 2369) and, for an https URL, List-Unsubscribe-Post (RFC 8058)."""
    targets = []
    if url:
        targets.append(f"<{url}>")
    mailto = _LINE_BREAKS.sub("", mailto).strip().removeprefix("mailto:")
    if mailto:
        query = "" if "?" in mailto else "?subject=unsubscribe"
        targets.append(f"<mailto:{mailto}{query}>")
    if not targets:
        return {}
    headers = {"List-Unsubscribe": ", ".join(targets)}
    if url.lower().startswith("https://"):
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def _one_line(value: str) -> str:
    """The value with line breaks turned into spaces: substitutions also fill the Subject."""
    return _LINE_BREAKS.sub(" ", value)
