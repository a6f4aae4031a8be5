"""Unsubscribe tokens: opaque, deterministic, rotation-proof, and refusing every alteration."""

from __future__ import annotations

import base64
import string
import time
import timeit
from collections.abc import Callable

import pytest

from digest.audience.tokens import MAX_TOKEN_CHARS, MIN_TOKEN_CHARS, UnsubscribeTokens

SECRET = "a-long-random-secret-for-the-token-tests"
OLD = "the-secret-used-before-the-last-rotation"
ADA = "ada.lovelace@example.com"
BASE64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def decoded(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def encoded(sealed: bytes) -> str:
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def test_a_token_reads_back_as_its_address_and_shows_nothing_of_it() -> None:
    tokens = UnsubscribeTokens(SECRET)
    token = tokens.make(ADA)

    assert tokens.read(token) == ADA
    assert len(token) == 55  # a 24-character address
    assert set(token) <= set(BASE64URL)
    for part in (b"ada", b"lovelace", b"example"):
        assert part not in decoded(token)
    assert "ada" not in token.lower()


def test_the_same_address_gives_the_same_token_in_any_case_and_reads_lowercased() -> None:
    tokens = UnsubscribeTokens(SECRET)

    assert tokens.make(ADA) == UnsubscribeTokens(SECRET).make(ADA)
    assert tokens.make("Ada.Lovelace@Example.COM") == tokens.make(ADA)
    assert tokens.read(tokens.make("Ada.Lovelace@Example.COM")) == ADA
    assert tokens.make("grace@example.com") != tokens.make(ADA)
    assert UnsubscribeTokens(OLD).make(ADA) != tokens.make(ADA)


def test_an_international_domain_and_the_longest_address_read_back() -> None:
    tokens = UnsubscribeTokens(SECRET)
    longest = f"{'x' * 64}@{'a' * 63}.{'b' * 63}.{'c' * 57}.com"
    assert len(longest) == 254

    assert tokens.read(tokens.make("jorg@bücher.de")) == "jorg@bücher.de"
    assert len(tokens.make(longest)) == MAX_TOKEN_CHARS
    assert tokens.read(tokens.make(longest)) == longest


def test_a_token_made_under_a_retired_secret_reads_one_no_longer_listed_does_not() -> None:
    old_token = UnsubscribeTokens(OLD).make(ADA)
    older_token = UnsubscribeTokens("an-even-older-secret-since-dropped").make(ADA)
    rotated = UnsubscribeTokens(SECRET, retired=[OLD])

    assert rotated.read(old_token) == ADA
    assert rotated.make(ADA) == UnsubscribeTokens(SECRET).make(ADA)  # new ones: the current
    assert rotated.read(older_token) is None
    assert UnsubscribeTokens(SECRET).read(old_token) is None


def test_secrets_that_share_a_key_id_both_read() -> None:
    """The key-id byte picks the keys to try; two secrets may share it (1 in 256)."""
    current_id = decoded(UnsubscribeTokens(SECRET).make(ADA))[0]
    twin = next(
        f"retired-{n}"
        for n in range(100_000)
        if decoded(UnsubscribeTokens(f"retired-{n}").make(ADA))[0] == current_id
    )
    rotated = UnsubscribeTokens(SECRET, retired=[twin])

    assert rotated.read(UnsubscribeTokens(twin).make(ADA)) == ADA
    assert rotated.read(UnsubscribeTokens(SECRET).make(ADA)) == ADA


def test_changing_any_character_of_a_token_makes_it_unreadable() -> None:
    tokens = UnsubscribeTokens(SECRET, retired=[OLD])
    token = tokens.make(ADA)
    for position, original in enumerate(token):
        for replacement in BASE64URL:
            if replacement != original:
                altered = token[:position] + replacement + token[position + 1 :]
                assert tokens.read(altered) is None, (position, replacement)


def test_flipping_any_bit_of_a_token_makes_it_unreadable() -> None:
    tokens = UnsubscribeTokens(SECRET, retired=[OLD])
    sealed = decoded(tokens.make(ADA))
    for position in range(len(sealed)):
        for bit in range(8):
            flipped = bytearray(sealed)
            flipped[position] ^= 1 << bit
            assert tokens.read(encoded(bytes(flipped))) is None, (position, bit)


def test_a_cut_or_lengthened_token_is_unreadable() -> None:
    tokens = UnsubscribeTokens(SECRET)
    token = tokens.make(ADA)
    for length in range(len(token)):
        assert tokens.read(token[:length]) is None, length
    for extra in ("A", "AA", "AAA", "AAAA", "=", "==", " ", "\n", "%3D"):
        assert tokens.read(token + extra) is None, extra
    assert tokens.read(encoded(decoded(token) + b"\0")) is None


def token_where(tokens: UnsubscribeTokens, wanted: Callable[[str], bool]) -> str:
    """The token of the first of reader0@example.com, reader1@... for which ``wanted`` holds."""
    return next(t for n in range(1000) if wanted(t := tokens.make(f"reader{n}@example.com")))


def test_other_spellings_of_the_same_bytes_are_refused() -> None:
    """base64 with its spare bits set, with padding, or in the standard alphabet decodes to
    the same bytes, but it is not what make() writes: one reader, one token."""
    tokens = UnsubscribeTokens(SECRET)
    token = token_where(tokens, lambda t: len(t) % 4 != 0)
    spare_bits = {2: 4, 3: 2}[len(token) % 4]  # of the last character's six
    used = BASE64URL.index(token[-1]) >> spare_bits
    spare = next(
        c for c in BASE64URL if c != token[-1] and BASE64URL.index(c) >> spare_bits == used
    )
    standard = token_where(tokens, lambda t: "-" in t or "_" in t)

    assert decoded(token[:-1] + spare) == decoded(token)
    assert tokens.read(token[:-1] + spare) is None
    assert tokens.read(token + "=" * (-len(token) % 4)) is None
    assert tokens.read(standard) is not None
    assert tokens.read(standard.replace("-", "+").replace("_", "/")) is None


def test_a_token_for_something_that_is_not_an_address_does_not_read() -> None:
    """make() trusts the send's validated addresses; read() checks what comes out anyway."""
    tokens = UnsubscribeTokens(SECRET)
    for sealed in ("not an address", "ada@", "@example.com", "a" * 250):
        assert tokens.read(tokens.make(sealed)) is None, sealed


def test_tokens_of_a_wrong_length_are_refused_before_any_work() -> None:
    tokens = UnsubscribeTokens(SECRET)
    assert tokens.read("A" * (MIN_TOKEN_CHARS - 1)) is None
    assert tokens.read("A" * (MAX_TOKEN_CHARS + 1)) is None
    huge = "A" * 10_000_000
    started = time.perf_counter()
    assert tokens.read(huge) is None
    assert time.perf_counter() - started < 0.01


def test_an_address_too_long_for_any_list_is_refused_and_a_secret_is_required() -> None:
    with pytest.raises(ValueError, match="254"):
        UnsubscribeTokens(SECRET).make("x" * 250 + "@example.com")
    with pytest.raises(ValueError, match="secret"):
        UnsubscribeTokens("")


def test_making_a_token_costs_microseconds() -> None:
    """Made once per reader of a send: a million readers must not take more than seconds.
    About 2 µs here when the machine is idle; the bound leaves room for a loaded one."""
    tokens = UnsubscribeTokens(SECRET, retired=[OLD])
    runs = 20_000
    best = min(timeit.repeat(lambda: tokens.make(ADA), number=runs, repeat=5)) / runs
    assert best < 20e-6, f"{best * 1e6:.1f} µs a token"
