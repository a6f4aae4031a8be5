"""Email address validation: the one adapter for email-validator, with a fast path for plain ones.

email-validator checks syntax thoroughly (Unicode, IDNA, quoting, special-use
domains) but costs tens of microseconds an address, too slow for a list of a
million rows. Most addresses are plain ASCII, so precompiled patterns accept the
ones email-validator is certain to accept and compute the same normalized form
(domain lowercased, RFC 2142 mailbox names lowercased). Anything the fast path
does not vouch for, valid or not, goes to email-validator itself: the fast path
can only say "yes, and here is the same answer", never "no".
tests/audience/test_addresses.py checks that equivalence on thousands of generated and
adversarial addresses.
"""

from __future__ import annotations

import functools
import re

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

from ..errors import InvalidAddress

EMAIL_MAX_LENGTH = 254
LOCAL_PART_MAX_LENGTH = 64

# RFC 5322 atext: email-validator's ASCII character set for dot-atom local parts.
_ATEXT = r"a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~"
_PLAIN_LOCAL = re.compile(rf"[{_ATEXT}]++(?:\.[{_ATEXT}]++)*+")
# An LDH label: at most 63 characters, no hyphen at either end.
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
# At least two labels, the last one (the TLD) letters only. No re.IGNORECASE: with
# it, [a-z] would also match non-ASCII letters such as the Kelvin sign (U+212A).
_PLAIN_DOMAIN = re.compile(rf"(?:{_LABEL}\.)++[a-zA-Z]{{2,63}}")

# email-validator rejects these names and every domain under them.
_SPECIAL_USE = frozenset(SPECIAL_USE_DOMAIN_NAMES)
_SPECIAL_USE_SUFFIXES = tuple(f".{name}" for name in SPECIAL_USE_DOMAIN_NAMES)
_MAILBOX_NAMES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)
_MAILBOX_NAME_MAX = max(map(len, _MAILBOX_NAMES))


def fast_normalize(address: str) -> str | None:
    """The normalized address when the fast path can vouch for it, else None (undecided).

    Undecided are: anything the patterns do not match, local parts over 64
    characters, addresses over 254, any "--" in the domain (R-LDH labels and
    Punycode, which email-validator decodes), and special-use domains.
    """
    if len(address) > EMAIL_MAX_LENGTH:  # first: the cache below keeps plausible domains only
        return None
    local, _, domain = address.partition("@")
    lowered = _plain_domain(domain)
    if (
        lowered is None
        or len(local) > LOCAL_PART_MAX_LENGTH
        or _PLAIN_LOCAL.fullmatch(local) is None
    ):
        return None
    if len(local) <= _MAILBOX_NAME_MAX and local.lower() in _MAILBOX_NAMES:
        return f"{local.lower()}@{lowered}"
    return address if lowered == domain else f"{local}@{lowered}"


@functools.lru_cache(maxsize=4096)
def _plain_domain(domain: str) -> str | None:
    """The domain lowercased if the fast path can vouch for it, else None.

    A list has few domains and many addresses at each: the verdict is remembered.
    """
    if _PLAIN_DOMAIN.fullmatch(domain) is None:
        return None
    lowered = domain.lower()
    if "--" in lowered or lowered.endswith(_SPECIAL_USE_SUFFIXES) or lowered in _SPECIAL_USE:
        return None
    return lowered


def slow_normalize(address: str) -> str:
    """The normalized address according to email-validator alone (syntax only, no DNS).

    A non-ASCII local part is refused: it needs SMTPUTF8, which digest's SMTP and
    MIME do not send, so such a reader is reported as invalid rather than failing
    the send (or the dry run) later.
    """
    try:
        return validate_email(address, check_deliverability=False, allow_smtputf8=False).normalized
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None


def normalize(address: str) -> str:
    """The normalized form of a valid address, or InvalidAddress with email-validator's reason."""
    return fast_normalize(address) or slow_normalize(address)


def address_key(address: str) -> str:
    """What two spellings of one address share: its normalized form lowercased, so that
    case and an international domain in either form (``bücher.example`` or
    ``xn--bcher-kva.example``) make no difference; an invalid address, stripped and
    lowercased, matches only itself."""
    try:
        return normalize(address.strip()).lower()
    except InvalidAddress:
        return address.strip().lower()
