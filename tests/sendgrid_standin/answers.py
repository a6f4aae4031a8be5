"""What the stand-in answers: a status, a JSON payload and headers, in SendGrid's error shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ApiError = tuple[str, str | None]  # (message, field), as in SendGrid's error objects

# SendGrid's own words where its docs or the OpenAPI examples give them.
DEFAULT_MESSAGES = {
    400: "Bad Request",
    401: "authorization required",
    403: "access forbidden",
    404: "not found",
    405: "method not allowed",
    413: "content too large",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
}
INVALID_KEY = "The provided authorization grant is invalid, expired, or revoked"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer; ``payload`` None means an empty body."""

    status: int
    payload: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


def error_body(errors: list[ApiError]) -> dict[str, Any]:
    """SendGrid's error document: ``{"errors": [{"message": ..., "field": ...}]}``."""
    return {"errors": [{"message": message, "field": field} for message, field in errors]}


def refuse(status: int, message: str = "", field: str | None = None) -> Answer:
    """An error answer with one error object (SendGrid's usual words when none are given)."""
    return Answer(status, error_body([(message or DEFAULT_MESSAGES.get(status, "error"), field)]))


def check_key(authorization: str | None, api_key: str) -> Answer | None:
    """401 unless the ``Authorization`` header is ``Bearer <api_key>``; None when it is."""
    if authorization is None:
        return refuse(401)
    if authorization != f"Bearer {api_key}":
        return refuse(401, INVALID_KEY)
    return None
