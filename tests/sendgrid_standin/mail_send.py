"""The judge of ``POST /v3/mail/send``: what SendGrid would answer to a request body.

A body is checked against the JSON Schema written from the official OpenAPI file
(``tests/sendgrid_schema.py``) and against the documented limits that schema cannot
express (``check_limits``, by hand). ``--fast`` servers skip the schema, never the
limits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from tests.sendgrid_schema import MAIL_SEND_SCHEMA
from tests.sendgrid_standin.answers import ApiError

# SendGrid's v3 Mail Send "Limitations" page (docs.sendgrid.com/api-reference/mail-send/
# limitations): "The total size of your email, including attachments, must be less than
# 30MB." (An older guide recommends staying under 20 MB per message.) A request body
# carries one copy of the email plus the personalizations, so this bounds it by 30 MB.
MAX_BODY_BYTES = 30_000_000
MAX_PERSONALIZATIONS = 1000
# Same page: "The total number of recipients must no more than 1000" (to, cc and bcc,
# across all personalizations); "The total length of custom arguments must be less
# than 10000 bytes"; to/cc/bcc names "cannot include either the ; or , characters".
MAX_RECIPIENTS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000
# The OpenAPI file: substitutions "may not exceed 10,000 bytes per personalization object".
MAX_SUBSTITUTION_BYTES = 10_000
MAX_CATEGORIES = 10
MAX_CATEGORY_CHARS = 255
# The OpenAPI file: "You may not override the following headers".
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)
_MAX_REPORTED_ERRORS = 50

_VALIDATOR = Draft202012Validator(
    MAIL_SEND_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
)


def validate_mail_send(body: Any, *, full: bool = True) -> list[ApiError]:
    """Every problem SendGrid would report for ``body``; empty when it would accept it.

    ``full`` runs the JSON Schema first (and stops there if it fails, since the hand
    checks assume the documented types); without it only ``check_limits`` runs.
    """
    if full:
        schema_errors = [
            (_short(error.message), ".".join(map(str, error.absolute_path)) or None)
            for error in _VALIDATOR.iter_errors(body)
        ]
        if schema_errors:
            return schema_errors[:_MAX_REPORTED_ERRORS]
    return check_limits(body)[:_MAX_REPORTED_ERRORS]


def check_limits(body: Any) -> list[ApiError]:
    """The documented rules a JSON Schema cannot express, checked defensively on any JSON."""
    if not isinstance(body, dict):
        return [("The request body must be a JSON object.", None)]
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return [
            (
                "The personalizations field is required and must have at least one item.",
                "personalizations",
            )
        ]
    errors: list[ApiError] = []
    if len(personalizations) > MAX_PERSONALIZATIONS:
        errors.append(
            (
                f"You may not have more than {MAX_PERSONALIZATIONS} personalizations per request.",
                "personalizations",
            )
        )
    errors += _check_addresses(personalizations)
    top_args_bytes = _string_map_bytes(body.get("custom_args"), "custom_args", errors)
    for index, personalization in enumerate(personalizations):
        errors += _check_personalization(personalization, index, top_args_bytes)
    errors += _check_sender(body)
    errors += _check_subject(body, personalizations)
    errors += _check_content(body)
    errors += _check_categories(body.get("categories"))
    errors += _check_headers(body.get("headers"), "headers")
    asm = body.get("asm")
    if asm is not None and not (
        isinstance(asm, dict) and type(asm.get("group_id")) is int  # bool is no group id
    ):
        errors.append(("The asm group_id must be an integer.", "asm.group_id"))
    return errors


def _check_addresses(personalizations: list[Any]) -> list[ApiError]:
    """to/cc/bcc: present, plausible, no address twice in the request, at most 1000."""
    errors: list[ApiError] = []
    seen: set[str] = set()
    total = 0
    for index, personalization in enumerate(personalizations):
        if not isinstance(personalization, dict):
            errors.append(("A personalization must be an object.", f"personalizations.{index}"))
            continue
        if not _objects(personalization.get("to")):
            errors.append(
                (
                    "The to array is required for all personalization objects, and must have "
                    "at least one email object with a valid email address.",
                    f"personalizations.{index}.to",
                )
            )
        for kind in ("to", "cc", "bcc"):
            for position, address in enumerate(_objects(personalization.get(kind))):
                total += 1
                field = f"personalizations.{index}.{kind}.{position}"
                email = address.get("email")
                if not isinstance(email, str) or "@" not in email:
                    errors.append(("Does not contain a valid address.", f"{field}.email"))
                    continue
                if email.lower() in seen:
                    errors.append(
                        (
                            f"Each email address in the request must be unique: {email} appears "
                            "more than once.",
                            f"{field}.email",
                        )
                    )
                seen.add(email.lower())
                name = address.get("name")
                if isinstance(name, str) and (";" in name or "," in name):
                    errors.append(
                        ("The name cannot include either the ; or , characters.", f"{field}.name")
                    )
    if total > MAX_RECIPIENTS:
        errors.insert(
            0,
            (
                f"The total number of recipients (to, cc and bcc) must be no more than "
                f"{MAX_RECIPIENTS}; this request has {total}.",
                "personalizations",
            ),
        )
    return errors


def _check_personalization(personalization: Any, index: int, top_args: int) -> list[ApiError]:
    """Substitution and custom-args sizes, and headers, of one personalization."""
    if not isinstance(personalization, dict):
        return []
    errors: list[ApiError] = []
    field = f"personalizations.{index}"
    substitutions = _string_map_bytes(
        personalization.get("substitutions"), f"{field}.substitutions", errors
    )
    if substitutions > MAX_SUBSTITUTION_BYTES:
        errors.append(
            (
                f"The total size of substitutions may not exceed {MAX_SUBSTITUTION_BYTES} bytes "
                f"per personalization object; this one has {substitutions}.",
                f"{field}.substitutions",
            )
        )
    own_args = _string_map_bytes(personalization.get("custom_args"), f"{field}.custom_args", errors)
    if top_args + own_args >= MAX_CUSTOM_ARGS_BYTES:
        errors.append(
            (
                f"The total length of custom arguments must be less than {MAX_CUSTOM_ARGS_BYTES} "
                "bytes.",
                f"{field}.custom_args",
            )
        )
    errors += _check_headers(personalization.get("headers"), f"{field}.headers")
    return errors


def _check_sender(body: dict[str, Any]) -> list[ApiError]:
    """``from.email`` present; ``reply_to`` and ``reply_to_list`` not both."""
    errors: list[ApiError] = []
    sender = body.get("from")
    if not (isinstance(sender, dict) and "@" in str(sender.get("email", ""))):
        errors.append(
            (
                "The from object must be provided for every email send. It is an object that "
                "requires the email parameter, but may also contain a name parameter.",
                "from.email",
            )
        )
    if "reply_to" in body and "reply_to_list" in body:
        errors.append(("You can use either reply_to or reply_to_list, not both.", "reply_to"))
    return errors


def _check_subject(body: dict[str, Any], personalizations: list[Any]) -> list[ApiError]:
    """A subject at the top level or in every personalization (unless a template gives one)."""
    if body.get("template_id") or _nonempty_string(body.get("subject")):
        return []
    if all(isinstance(p, dict) and _nonempty_string(p.get("subject")) for p in personalizations):
        return []
    return [
        (
            "The subject is required. You can get around this requirement if you use a template "
            "with a subject defined or if every personalization has a subject defined.",
            "subject",
        )
    ]


def _check_content(body: dict[str, Any]) -> list[ApiError]:
    """At least one non-empty content block; text/plain first, then text/html, then others."""
    content = body.get("content")
    if content is None and body.get("template_id"):
        return []
    blocks = _objects(content)
    if not blocks:
        return [
            (
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block.",
                "content",
            )
        ]
    errors: list[ApiError] = [
        (
            "The content value must be a string at least one character in length.",
            f"content.{index}.value",
        )
        for index, block in enumerate(blocks)
        if not _nonempty_string(block.get("value"))
    ]
    types = [block.get("type") for block in blocks]
    expected = [kind for kind in ("text/plain", "text/html") if kind in types]
    if types[: len(expected)] != expected:
        errors.append(
            (
                "If present, text/plain content must be first, followed by text/html, followed "
                "by any other content.",
                "content",
            )
        )
    return errors


def _check_categories(categories: Any) -> list[ApiError]:
    """At most 10 categories, each a distinct string of at most 255 characters."""
    if categories is None:
        return []
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        return [("Categories must be an array of strings.", "categories")]
    errors: list[ApiError] = []
    if len(categories) > MAX_CATEGORIES:
        errors.append((f"You may not have more than {MAX_CATEGORIES} categories.", "categories"))
    if len(set(categories)) != len(categories):
        errors.append(("Categories must be unique.", "categories"))
    if any(len(c) > MAX_CATEGORY_CHARS for c in categories):
        errors.append((f"A category cannot exceed {MAX_CATEGORY_CHARS} characters.", "categories"))
    return errors


def _check_headers(headers: Any, field: str) -> list[ApiError]:
    """Header values are strings and no reserved header is overridden."""
    if headers is None:
        return []
    if not isinstance(headers, dict):
        return [("Headers must be an object.", field)]
    errors: list[ApiError] = []
    for name, value in headers.items():
        if not isinstance(value, str):
            errors.append(("Header values must be strings.", f"{field}.{name}"))
        if name.lower() in RESERVED_HEADERS:
            errors.append((f"The header {name} is reserved and may not be set.", f"{field}.{name}"))
    return errors


def _string_map_bytes(mapping: Any, field: str, errors: list[ApiError]) -> int:
    """UTF-8 size of a ``{str: str}`` object (keys plus values); non-strings are reported."""
    if mapping is None:
        return 0
    if not isinstance(mapping, dict):
        errors.append(("Must be an object of strings.", field))
        return 0
    size = 0
    for key, value in mapping.items():
        if not isinstance(value, str):
            errors.append(("Values must be strings.", f"{field}.{key}"))
            continue
        size += len(key.encode()) + len(value.encode())
    return size


def _objects(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON array (nothing for anything else)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _nonempty_string(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _short(text: str, limit: int = 300) -> str:
    """jsonschema repeats the failing instance in its message; keep answers readable."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def judge_body(raw: bytes, content_type: str, *, full: bool) -> tuple[list[ApiError], Any]:
    """The errors SendGrid would answer 400 with (none to accept), and the parsed body."""
    if content_type != "application/json":
        return [("Content-Type should be application/json.", None)], None
    try:
        body = json.loads(raw)
    except ValueError:
        return [("Bad Request: the body is not valid JSON.", None)], None
    return validate_mail_send(body, full=full), body


# SendGrid's unsubscribe-group tags, which it replaces in the content of a send with an
# ``asm`` group: <%asm_group_unsubscribe_raw_url%>, <%asm_preferences_url%> and the like.
ASM_TAG = re.compile(r"<%(asm_[a-z_]+)%>")


@dataclass(frozen=True)
class Delivered:
    """One recipient's message as SendGrid would deliver it."""

    to: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class RecordedRequest:
    """One accepted mail-send request."""

    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float
    message_id: str
    sandbox: bool

    @property
    def recipients(self) -> list[str]:
        """Every to/cc/bcc address, in request order."""
        return [
            address["email"]
            for personalization in self.body["personalizations"]
            for kind in ("to", "cc", "bcc")
            for address in personalization.get(kind, ())
        ]

    def delivered(self) -> list[Delivered]:
        """Each ``to`` recipient's subject and content as SendGrid documents it: the
        personalization's substitutions made (each key replaced by its value, in order)
        and, in an ``asm`` send, SendGrid's tags replaced by a link of the stand-in's
        that names the recipient."""
        content = {part["type"]: part["value"] for part in self.body["content"]}
        messages = []
        for personalization in self.body["personalizations"]:
            substitutions = personalization.get("substitutions", {})
            subject = personalization.get("subject", self.body["subject"])
            for address in personalization["to"]:
                parts = (subject, content.get("text/plain", ""), content.get("text/html", ""))
                made = [self._assemble(part, substitutions, address["email"]) for part in parts]
                messages.append(Delivered(address["email"], *made))
        return messages

    def _assemble(self, text: str, substitutions: Mapping[str, str], to: str) -> str:
        for key, value in substitutions.items():
            text = text.replace(key, value)
        if "asm" not in self.body:
            return text
        return ASM_TAG.sub(lambda tag: f"https://sendgrid.test/{tag[1]}/{to}", text)
