"""Address validation: the fast path agrees with email-validator on every address it vouches for."""

from __future__ import annotations

import random
import string
from collections.abc import Callable

import pytest

from digest.audience.addresses import fast_normalize, normalize, slow_normalize
from digest.errors import DigestError, InvalidAddress
from digest.urls import ascii_domain

ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"
SPECIAL_USE = ["arpa", "invalid", "local", "localhost", "onion", "test"]
UNICODE_BITS = [
    "é",
    "ß",
    "ü",
    "\u212a",  # Kelvin sign: case-folds to "k"
    "\u017f",  # long s: case-folds to "s"
    "ı",
    "İ",
    "ﬁ",  # ligature, NFKC to "fi"
    "e\u0301",  # combining acute accent
    "\u200d",  # zero-width joiner
    "\u202e",  # right-to-left override
    "א",
    "日本",
    "Ａ",  # full-width A
    "．",  # full-width full stop, a label separator in IDNA
    "＠",  # full-width at sign
    "\u00a0",  # no-break space
]
ADVERSARIAL = [
    "",
    "@",
    "a@",
    "@example.com",
    "plain",
    "a@b",
    "a@b.c",
    "a@b.c1",
    "a@b.1c",
    "a@b.123",
    "a@b.co",
    "Jane.Doe@Example.COM",
    "INFO@Example.com",
    "Postmaster@example.com",
    "Info.Desk@example.com",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a@example..com",
    "a@.example.com",
    "a@example.com.",
    "a@-example.com",
    "a@example-.com",
    "a@ex--ample.com",
    "a@ab--cd.com",
    "a@xn--bcher-kva.ch",
    "a@XN--BCHER-KVA.CH",
    "a@xn--abc.com",
    "a@xn--.com",
    "a@b.xn--p1ai",
    "a@bücher.ch",
    "a@BÜCHER.CH",
    "ü@example.com",
    '"quoted"@example.com',
    '"with space"@example.com',
    '"a@b"@example.com',
    '"a\\"b"@example.com',
    "a@[127.0.0.1]",
    "a@[IPv6:::1]",
    "Jane <jane@example.com>",
    "<jane@example.com>",
    "jane@example.com\n",
    "\njane@example.com",
    " jane@example.com",
    "jane@example.com ",
    "ja ne@example.com",
    "jane@exa mple.com",
    "jane@example.com\r\nBcc: x@example.com",
    "jane@example.c\u212am",
    "jane@\u212aelvin.com",
    "jane@example.te\u017ft",
    "a@b@example.com",
    "a(comment)@example.com",
    "a@example.com(comment)",
    "a\\b@example.com",
    "a,b@example.com",
    "a;b@example.com",
    "a:b@example.com",
    "a[b]@example.com",
    "{a}|~@example.com",
    "!#$%&'*+-/=?^_`{|}~@example.com",
    "a@x.test",
    "a@X.TEST",
    "a@test",
    "a@sub.localhost",
    "a@example.local",
    "a@example.onion",
    "a@1.0.0.127.in-addr.arpa",
    "a@example.invalid",
    "a@notest.com",
    "a@test.com",
    "a@local.host",
    "a@example.com.test.org",
    "a@" + "x" * 63 + ".com",
    "a@" + "x" * 64 + ".com",
    "a@example." + "c" * 63,
    "a@example." + "c" * 64,
    "x" * 64 + "@example.com",
    "x" * 65 + "@example.com",
    "x" * 64 + "@" + ".".join(["d" * 63] * 3) + ".com",
    "x" * 60 + "@" + ".".join(["d" * 61] * 3) + ".co",
    "x" * 61 + "@" + ".".join(["d" * 61] * 3) + ".co",
    "a@" + ".".join(["d" * 63] * 4),
]


def one_character_variants() -> list[str]:
    """Every printable ASCII character and each Unicode bit, in each part of an address."""
    characters = [chr(code) for code in range(32, 127)] + UNICODE_BITS + ["\t", "\r", "\n", "\0"]
    shapes = ["a{}b@example.com", "{}ab@example.com", "a@ex{}ample.com", "a@example.c{}m"]
    return [shape.format(character) for shape in shapes for character in characters]


def random_label(rng: random.Random) -> str:
    size = rng.choice([1, 2, 3, 5, 8, 13, 61, 62, 63, 64, 70])
    label = "".join(rng.choice(string.ascii_lowercase + string.digits + "-") for _ in range(size))
    roll = rng.random()
    if roll < 0.05:
        label = "xn--" + label
    elif roll < 0.10:
        label = label[:2] + "--" + label[2:]
    elif roll < 0.15:
        label = rng.choice(UNICODE_BITS) + label
    elif roll < 0.25:
        label = label.upper()
    return label


def random_domain(rng: random.Random) -> str:
    labels = [random_label(rng) for _ in range(rng.choice([0, 1, 1, 1, 2, 3, 4]))]
    tld = rng.choice(
        ["com", "org", "CoM", "uk", "c", "c0m", "123", "museum", "x" * 63, "x" * 64, "xn--p1ai"]
        + SPECIAL_USE
        + [name.upper() for name in SPECIAL_USE]
    )
    domain = ".".join([*labels, tld])
    roll = rng.random()
    if roll < 0.03:
        domain += "."
    elif roll < 0.06:
        domain = "." + domain
    elif roll < 0.09:
        domain = domain.replace(".", "..", 1)
    elif roll < 0.12:
        domain = f"[{rng.randint(0, 300)}.{rng.randint(0, 255)}.0.1]"
    elif roll < 0.14:
        domain = "[IPv6:2001:db8::" + rng.choice(["1", "g", "1%eth0"]) + "]"
    return domain


def random_local(rng: random.Random) -> str:
    size = rng.choice([1, 2, 5, 10, 20, 63, 64, 65, 80])
    local = "".join(rng.choice(ATEXT + "." * 6) for _ in range(size))
    roll = rng.random()
    if roll < 0.06:
        local = '"' + local.replace('"', "") + rng.choice(["", " ", "@", '\\"', "\\\\"]) + '"'
    elif roll < 0.12:
        local += rng.choice(UNICODE_BITS)
    elif roll < 0.16:
        local = rng.choice(["info", "Info", "SALES", "WebMaster", "abuse", "news"])
    elif roll < 0.20:
        local += rng.choice(' ()<>[]:;,\\"\t\n\r')
    return local


def random_text(rng: random.Random) -> str:
    alphabet = ATEXT + '@@@..-- "\\[]<>()\n' + "".join(UNICODE_BITS)
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))


def plausible_address(rng: random.Random) -> str:
    """Well-formed but varied: every atext character, case, hyphens, lengths near the limits."""
    words = [
        "".join(rng.choice(ATEXT) for _ in range(rng.randint(1, 12)))
        for _ in range(rng.randint(1, 4))
    ]
    labels = []
    for _ in range(rng.randint(1, 3)):
        middle = "".join(
            rng.choice(string.ascii_letters + string.digits + "-")
            for _ in range(rng.choice([0, 3, 10, 61]))
        )
        labels.append(rng.choice(string.ascii_letters) + middle + rng.choice(string.digits + "z"))
    tld = rng.choice(["com", "ORG", "Io", "museum", "travel", "x" * 63])
    return ".".join(words) + "@" + ".".join([*labels, tld])


def generated_addresses(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    addresses = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.10:
            addresses.append(random_text(rng))
        elif roll < 0.45:
            addresses.append(plausible_address(rng))
        else:
            addresses.append(f"{random_local(rng)}@{random_domain(rng)}")
    return addresses


def verdict(check: Callable[[str], str], address: str) -> tuple[bool, str]:
    try:
        return True, check(address)
    except InvalidAddress as exc:
        return False, str(exc)


def test_the_fast_path_never_disagrees_with_email_validator() -> None:
    addresses = ADVERSARIAL + one_character_variants() + generated_addresses(6000, seed=20260309)
    fast_accepted = valid = 0
    for address in addresses:
        expected = verdict(slow_normalize, address)
        assert verdict(normalize, address) == expected, address
        fast = fast_normalize(address)
        if fast is not None:
            fast_accepted += 1
            assert expected == (True, fast), address
        valid += expected[0]

    # The comparison means something only if both paths and both verdicts were exercised.
    assert fast_accepted > 2000
    assert valid - fast_accepted > 150  # valid, but left to email-validator
    assert len(addresses) - valid > 3000  # invalid


@pytest.mark.parametrize(
    ("address", "normalized"),
    [
        ("jane.doe@example.com", "jane.doe@example.com"),
        ("Jane.Doe@Example.COM", "Jane.Doe@example.com"),
        ("INFO@Example.org", "info@example.org"),
        ("o'brien+news@mail.example.co.uk", "o'brien+news@mail.example.co.uk"),
    ],
)
def test_plain_addresses_take_the_fast_path(address: str, normalized: str) -> None:
    assert fast_normalize(address) == normalized
    assert normalize(address) == normalized


@pytest.mark.parametrize(
    "address",
    [
        "a@b.c",  # one-letter TLD: valid, but not plain enough
        "x" * 65 + "@example.com",  # valid without strict mode, but long
        "a@bücher.ch",
        "a@xn--bcher-kva.ch",
        "a@example.test",
        "jane@\u212aelvin.com",
        "jane@example.com\n",
        '"quoted"@example.com',
    ],
)
def test_anything_unusual_is_left_to_email_validator(address: str) -> None:
    assert fast_normalize(address) is None


def test_valid_unusual_addresses_are_normalized_by_email_validator() -> None:
    assert normalize("a@xn--bcher-kva.ch") == "a@bücher.ch"
    assert normalize("jane@\u212aelvin.com") == "jane@kelvin.com"
    assert normalize("x" * 65 + "@example.com") == "x" * 65 + "@example.com"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("jane", "must have an @-sign"),
        ("jane@example.test", "special-use or reserved name"),
        ("jane@localhost", "should have a period"),
        ("jane..doe@example.com", "two periods in a row"),
        ('"jane"@example.com', "Quoting the part before the @-sign is not allowed"),
        ("jane@[127.0.0.1]", "bracketed IP address"),
        ("jane@example.com\r\nBcc: x@example.com", "invalid characters"),
        ("jürgen@example.com", "Internationalized characters before the @-sign"),
    ],
)
def test_invalid_addresses_raise_with_the_validators_reason(address: str, reason: str) -> None:
    with pytest.raises(InvalidAddress, match=reason) as caught:
        normalize(address)
    assert isinstance(caught.value, ValueError)
    assert not isinstance(caught.value, DigestError)


def test_overlong_addresses_leave_no_trace_in_the_domain_cache() -> None:
    # A list of junk rows with huge domains must not pin them all in memory.
    from digest.audience.addresses import _plain_domain

    _plain_domain.cache_clear()
    assert fast_normalize("reader@" + "a" * 100_000 + ".com") is None
    assert _plain_domain.cache_info().currsize == 0
    assert fast_normalize("reader@example.com") == "reader@example.com"
    assert _plain_domain.cache_info().currsize == 1


def test_a_long_international_domain_converts_by_itself() -> None:
    # 252 characters in ASCII: too long to convert inside a made-up longer address.
    domain = f"{'b' * 63}.{'b' * 63}.{'b' * 50}.ü{'c' * 54}.de"
    converted = ascii_domain(domain)
    assert converted.startswith(f"{'b' * 63}.") and ".xn--" in converted
    assert ascii_domain("straße.de") == "xn--strae-oqa.de"
