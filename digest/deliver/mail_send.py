"""The body of SendGrid's Mail Send request for one batch, within its documented limits.

A plain dict, posted by the SendGrid backend (``sendgrid.py``): the SDK's ``Mail``
helper objects build the same JSON several times slower for a 1000-recipient batch.
Each recipient is one personalization with their substitutions (SendGrid fills them
into subject and content) and headers; what every recipient shares goes once, the
``List-Id`` among it (the same as SMTP and outbox messages carry, ``mime.list_id``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..config import checks
from ..errors import ConfigError, DeliveryError, InvalidAddress
from ..models import SUBSTITUTIONS_MAX_BYTES, Recipient
from ..urls import ascii_address
from . import Message
from .mime import list_id

# SendGrid's documented limits (the Mail Send OpenAPI file and "Limitations" page); its
# limits on categories are the config's (config/checks.py), and on substitutions models'.
MAX_PERSONALIZATIONS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000
RESERVED_HEADERS = frozenset(
    {
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "content-type",
        "content-transfer-encoding",
        "to",
        "from",
        "subject",
        "reply-to",
        "cc",
        "bcc",
    }
)


def build_body(message: Message, recipients: Sequence[Recipient]) -> dict[str, Any]:
    """The Mail Send request body for one batch, checked against SendGrid's limits.

    Raises ``DeliveryError`` (naming the address or setting) for a batch SendGrid
    would refuse: empty or over 1000 recipients, an address twice, substitutions
    over 10,000 bytes, a reserved header, too many or too long categories.
    """
    if not 1 <= len(recipients) <= MAX_PERSONALIZATIONS:
        raise DeliveryError(
            f"a SendGrid batch needs 1 to {MAX_PERSONALIZATIONS} recipients, got {len(recipients)}"
        )
    shared = _shared_headers(recipients)
    body: dict[str, Any] = {
        "personalizations": _personalizations(recipients, shared),
        "from": _address(message.from_email, message.from_name),
        "subject": message.subject,
        "content": _content(message),
        "headers": {**shared, "List-Id": list_id(message.from_name, message.from_email)},
    }
    if message.reply_to:
        body["reply_to"] = {"email": _ascii_address(message.reply_to)}
    if message.categories:
        body["categories"] = _categories(message.categories)
    if message.edition:
        body["custom_args"] = {"edition": message.edition}
        if _size(body["custom_args"]) >= MAX_CUSTOM_ARGS_BYTES:
            raise DeliveryError("the edition key is too long for SendGrid's custom_args")
    if message.asm_group_id:
        body["asm"] = {"group_id": message.asm_group_id}
    if message.sandbox:
        body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return body


def _shared_headers(recipients: Sequence[Recipient]) -> dict[str, str]:
    """The headers every recipient of a batch has, with the same value (``List-Unsubscribe-Post``).

    They go once at the top level of the request, which SendGrid merges into each
    personalization, instead of a thousand times: smaller requests, sent faster.
    A lone recipient keeps all its headers in its personalization.
    """
    if len(recipients) < 2:
        return {}
    return {
        name: value
        for name, value in recipients[0].headers.items()
        if all(recipient.headers.get(name) == value for recipient in recipients)
    }


def _personalizations(
    recipients: Sequence[Recipient], shared_headers: Mapping[str, str]
) -> list[dict[str, Any]]:
    """One personalization per recipient; no address twice (compared case-insensitively).

    Headers in ``shared_headers`` are left out: the request carries them at the top level.
    """
    seen: set[str] = set()
    header_names: set[str] = set(shared_headers)
    result = []
    for recipient in recipients:
        email = recipient.email
        to = _address(email, recipient.name)
        key = to["email"].lower()
        if key in seen:
            raise DeliveryError(f"{email} appears twice in one SendGrid batch")
        seen.add(key)
        personalization: dict[str, Any] = {"to": [to]}
        if recipient.substitutions:
            personalization["substitutions"] = _substitutions(recipient.substitutions, email)
        if recipient.headers:
            headers = dict(recipient.headers)
            header_names.update(headers)
            for name in shared_headers:
                headers.pop(name, None)
            if headers:
                personalization["headers"] = headers
        result.append(personalization)
    _refuse_reserved(header_names, recipients)
    return result


def _address(email: str, name: str) -> dict[str, str]:
    """An email object; SendGrid refuses ``,`` and ``;`` in names, so they become spaces.

    The address goes with its domain in ASCII (IDNA 2008), as SMTP and the outbox write it:
    SendGrid has refused Unicode domains, and one refused address stops the whole send.
    """
    if not email.isascii():  # tested here: this runs for every reader
        email = _ascii_address(email)
    if not name:
        return {"email": email}
    # Printable means no whitespace but " ": then only these make the cleaning change it.
    if (
        "," in name
        or ";" in name
        or "  " in name
        or not name.isprintable()
        or name[0] == " "
        or name[-1] == " "
    ):
        name = " ".join(name.replace(",", " ").replace(";", " ").split())
    return {"email": email, "name": name} if name else {"email": email}


def _ascii_address(email: str) -> str:
    try:
        return ascii_address(email)
    except InvalidAddress as error:
        raise DeliveryError(
            f"{email}: the domain is not a valid international name ({error})",
            "fix the address (in subscribers.csv, or newsletter.from_email in digest.toml)",
        ) from None


def _substitutions(substitutions: Mapping[str, str], email: str) -> dict[str, str]:
    """A recipient's substitutions, within SendGrid's 10,000 bytes (counted exactly when near)."""
    chars = sum(map(len, substitutions)) + sum(map(len, substitutions.values()))
    # A character takes at most 4 bytes in UTF-8.
    if 4 * chars > SUBSTITUTIONS_MAX_BYTES and _size(substitutions) > SUBSTITUTIONS_MAX_BYTES:
        raise DeliveryError(
            f"the substitutions for {email} exceed SendGrid's "
            f"{SUBSTITUTIONS_MAX_BYTES} bytes per recipient (long merge fields?)"
        )
    return substitutions if type(substitutions) is dict else dict(substitutions)


def _content(message: Message) -> list[dict[str, str]]:
    """text/plain first, then text/html, as SendGrid requires; empty parts are left out."""
    parts = [
        {"type": kind, "value": value}
        for kind, value in (("text/plain", message.text), ("text/html", message.html))
        if value
    ]
    if not parts or not message.subject:
        raise DeliveryError("the email has no subject or no content to send")
    return parts


def _categories(categories: Sequence[str]) -> list[str]:
    """The message's categories, duplicates dropped, within SendGrid's limits.

    Settings are checked by the same rule as they load; this keeps a Message made
    otherwise (any caller of ``build_body``) to it too.
    """
    unique = list(dict.fromkeys(categories))
    problem = checks.categories("[sendgrid] categories", unique)
    if problem:
        raise ConfigError(problem)
    return unique


def _refuse_reserved(header_names: set[str], recipients: Sequence[Recipient]) -> None:
    """SendGrid refuses to let some headers be set: name the first recipient who has one."""
    reserved = {name for name in header_names if name.lower() in RESERVED_HEADERS}
    if not reserved:
        return
    for recipient in recipients:
        for name in recipient.headers:
            if name in reserved:
                raise DeliveryError(
                    f"the header {name} for {recipient.email} is reserved by SendGrid"
                )


def _size(mapping: Mapping[str, str]) -> int:
    """UTF-8 bytes of keys plus values, as SendGrid counts substitutions and custom args."""
    return sum(len(key.encode()) + len(value.encode()) for key, value in mapping.items())
