"""Unsubscribe tokens: a reader's address, sealed so that only the endpoint can read it.

An unsubscribe URL carries the token and nothing else (``...?token=...``): the
endpoint recovers the address from the token alone, and nobody without the secret
can read it, so no reader's address ends up in web logs, Referer headers or a spam
filter's score. This module is the one that imports ``cryptography``.

Deterministic AES-SIV (RFC 5297) rather than Fernet, because:

- the token is short: a key-id byte, the 16-byte synthetic IV (which is also the
  authentication tag) and the encrypted address, in base64url: 55 characters for a
  24-character address, where Fernet takes 120. Each reader's token goes into their
  SendGrid substitutions (10,000 bytes at most) and their List-Unsubscribe header,
  up to a million times a send;
- the same address always gives the same token, with no timestamp and no nonce:
  a reader's link is the same in every edition and nothing is stored to read it.
  What that reveals (two equal tokens belong to the same reader) a link reveals anyway;
- it costs about 2 µs a reader (tests/audience/test_audience_tokens.py measures it).

A signature alone (itsdangerous, an HMAC) would leave the address readable in the URL.

Keys come from ``DIGEST_UNSUBSCRIBE_SECRET`` through HKDF-SHA256 with a fixed label,
so users keep setting one long random string. New tokens use the current secret;
tokens made under a retired one (``DIGEST_UNSUBSCRIBE_RETIRED_SECRETS``) still read,
so a rotation never breaks the links in editions already sent. The key-id byte picks
the key to try, so reading costs one decryption however many secrets are retired.

The address is lowercased in the token: an unsubscribe must match the reader's rows
of subscribers.csv case-insensitively, and the ledger keeps addresses lowercased.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import InvalidAddress
from .addresses import EMAIL_MAX_LENGTH, normalize

# HKDF's info: changing it changes every key, and so invalidates every token.
_LABEL = b"digest unsubscribe token v1: AES-SIV key and key id"
_KEY_BYTES = 64  # AES-SIV with AES-256: two 256-bit keys
_TAG_BYTES = 16


def _base64_chars(size: int) -> int:
    """The length of ``size`` bytes in base64 without padding."""
    return (size * 4 + 2) // 3


def token_chars(address_bytes: int) -> int:
    """The length of the token that seals an address of ``address_bytes`` bytes of UTF-8:
    a key id, the tag and the sealed address, in base64url."""
    return _base64_chars(1 + _TAG_BYTES + address_bytes)


# At least one byte / at most a valid address's 254 bytes of UTF-8.
MIN_TOKEN_CHARS = token_chars(1)
MAX_TOKEN_CHARS = token_chars(EMAIL_MAX_LENGTH)

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = str.maketrans("-_", "+/")


class UnsubscribeTokens:
    """Makes and reads unsubscribe tokens: built once (per send, per server), used per reader.

    ``make`` seals a valid address under the current secret; ``read`` opens a token
    made under the current or any retired secret and returns the lowercased address,
    or None for anything else: forged, truncated, altered, too long, or made under a
    secret no longer listed. A token is refused by its length and alphabet before
    any decryption.
    """

    def __init__(self, secret: str, retired: Iterable[str] = ()) -> None:
        if not secret:
            raise ValueError("an unsubscribe token needs a secret")
        key_id, self._cipher = _derive(secret)
        self._key_id = bytes([key_id])
        readers: dict[int, list[AESSIV]] = {}
        for each in dict.fromkeys((secret, *retired)):
            if each:
                each_id, cipher = _derive(each)
                readers.setdefault(each_id, []).append(cipher)
        self._readers = {each_id: tuple(ciphers) for each_id, ciphers in readers.items()}

    def make(self, address: str) -> str:
        """The token for ``address`` (a valid, normalized address, as the send has it)."""
        plain = address.lower().encode()
        if len(plain) > EMAIL_MAX_LENGTH:
            raise ValueError(f"an address has at most {EMAIL_MAX_LENGTH} bytes, not {len(plain)}")
        sealed = self._key_id + self._cipher.encrypt(plain, None)
        encoded = binascii.b2a_base64(sealed, newline=False).rstrip(b"=")
        return encoded.translate(_TO_URLSAFE).decode("ascii")

    def read(self, token: str) -> str | None:
        """The lowercased address sealed in ``token``, or None if it is not a valid token."""
        sealed = _decode(token)
        if sealed is None:
            return None
        for cipher in self._readers.get(sealed[0], ()):
            try:
                plain = cipher.decrypt(sealed[1:], None)
            except InvalidTag:
                continue
            return _valid_address(plain)
        return None


def _derive(secret: str) -> tuple[int, AESSIV]:
    """The key id and the AES-SIV cipher that a secret gives."""
    material = HKDF(
        algorithm=hashes.SHA256(), length=_KEY_BYTES + 1, salt=None, info=_LABEL
    ).derive(secret.encode())
    return material[_KEY_BYTES], AESSIV(material[:_KEY_BYTES])


def _decode(token: str) -> bytes | None:
    """The token's bytes, if it is base64url of a plausible length written the one way
    ``make`` writes it (two spellings of the same bytes would be two valid tokens)."""
    if (
        not MIN_TOKEN_CHARS <= len(token) <= MAX_TOKEN_CHARS
        or len(token) % 4 == 1
        or not _BASE64URL.fullmatch(token)
    ):
        return None
    padded = token.translate(_FROM_URLSAFE) + "=" * (-len(token) % 4)
    try:
        sealed = binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error:
        return None
    canonical = binascii.b2a_base64(sealed, newline=False).rstrip(b"=").translate(_TO_URLSAFE)
    return sealed if canonical == token.encode("ascii") else None


def _valid_address(plain: bytes) -> str | None:
    """The sealed address, lowercased, if it is a valid one (it always is, unless the
    secret itself leaked and someone sealed something else)."""
    try:
        return normalize(plain.decode("utf-8")).lower()
    except (UnicodeDecodeError, InvalidAddress):
        return None
