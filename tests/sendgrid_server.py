"""A local stand-in for SendGrid's v3 Mail Send endpoint, for tests and benchmarks.

A real HTTP server (``ThreadingHTTPServer`` on 127.0.0.1) serving ``POST /v3/mail/send``
the way SendGrid documents it: a ``Bearer`` key, a JSON body that validates
against the schema copied from the official OpenAPI file (``tests/sendgrid_schema.py``)
and the documented limits that schema cannot express (checked by hand in
``check_limits``). A valid request is recorded and answered 202 with a unique
``X-Message-Id``; with ``mail_settings.sandbox_mode.enable`` it is answered 200
without one, as SendGrid does, and recorded with ``sandbox=True``. Violations
get 400 (413 for an oversized body, 401 for a wrong key) with SendGrid's error
shape ``{"errors": [{"message": ..., "field": ...}]}``.

Faults are scripted per request: each incoming mail-send request takes the next
queued fault, if any (``fail_next``, ``refuse_with``, ``slow_next``, ``hang_next``,
``drop_next``), and ``rate_limit_every(n)`` answers 429 to every n-th request.
A request answered with an error status is not recorded; a slow or hanging one
is (it was accepted: the answer is merely late); a dropped one is not.

In tests::

    server, base_url = start_server(api_key="test-key")
    try: ...  # point the backend's host at base_url
    finally: server.stop()

As a process (benchmarks, crash tests)::

    python -m tests.sendgrid_server --port 0 --api-key KEY [--fast]

prints its base URL on the first line of stdout and serves until killed.
``--fast`` skips the JSON Schema validation (measured: about 0.1 s per
1000-personalization request with jsonschema, against 9 ms for the hand checks
alone) but keeps every hand-written limit check. Another process reads the
accepted addresses, in order, from ``GET /_test/accepted`` (a JSON list) and
queues faults with ``POST /_test/faults`` (a JSON list such as
``[{"kind": "fail", "status": 500}, {"kind": "hang", "seconds": 5}]``).

``RecordedRequest.delivered()`` assembles each recipient's message from a request as
SendGrid documents it: the personalization's substitutions replaced in the subject and
content, then, in an unsubscribe-group send, SendGrid's ``<%asm_...%>`` tags.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from jsonschema import Draft202012Validator

from tests.sendgrid_schema import MAIL_SEND_SCHEMA

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

ApiError = tuple[str, str | None]  # (message, field), as in SendGrid's error objects


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


@dataclass(frozen=True)
class Fault:
    """What to do with one incoming request instead of (or on top of) answering it.

    ``kind``: ``fail`` (answer ``status`` with an error, not recorded), ``slow`` or
    ``hang`` (validate, record, answer after ``seconds``), ``drop`` (read the request,
    close the connection without an answer, not recorded).
    """

    kind: str
    status: int = 0
    seconds: float = 0.0
    message: str = ""
    field: str | None = None
    reset_at: float | None = None


_DEFAULT_MESSAGES = {
    400: "Bad Request",
    401: "authorization required",
    403: "access forbidden",
    404: "not found",
    413: "content too large",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
}


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
        """Each ``to`` recipient's subject and content with its substitutions made (each
        key replaced by its value, in order) and, in an ``asm`` send, SendGrid's tags
        replaced by a link of the stand-in's that names the recipient."""
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


class SendGridServer(ThreadingHTTPServer):
    """The server, its record of accepted requests and its fault script."""

    daemon_threads = True

    def __init__(
        self, api_key: str, *, full_validation: bool = True, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__((host, port), _Handler)
        self.api_key = api_key
        self.full_validation = full_validation
        self.verbose = False
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: deque[Fault] = deque()
        self._rate_limit_every = 0
        self._rate_limit_reset_in = 1.0
        self._seen = 0
        self._received = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to give the SDK as ``host`` (it appends ``/v3/mail/send``)."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    # -- the record ------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """The accepted requests, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def received(self) -> int:
        """How many mail-send requests arrived, whatever was answered."""
        with self._lock:
            return self._received

    def accepted_recipients(self) -> list[str]:
        """Every accepted address, in order (sandbox requests included)."""
        return [email for request in self.requests for email in request.recipients]

    def reset(self) -> None:
        """Forget the record, the queued faults and the rate-limit mode."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self._rate_limit_every = 0
            self._seen = 0
            self._received = 0

    # -- the fault script ----------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        reset_in: float | None = None,
        reset_at: float | None = None,
        message: str = "",
        field: str | None = None,
    ) -> None:
        """Answer the next request with ``status``; for 429, ``X-RateLimit-Reset`` is
        ``reset_at`` (Unix seconds) or now + ``reset_in``, and absent if neither is given."""
        if reset_at is None and reset_in is not None:
            reset_at = time.time() + reset_in
        self._queue(Fault("fail", status=status, message=message, field=field, reset_at=reset_at))

    def refuse_with(self, status: int, message: str, field: str | None = None) -> None:
        """Refuse the next request for good, with SendGrid's error shape."""
        self.fail_next(status, message=message, field=field)

    def slow_next(self, seconds: float) -> None:
        """Accept and record the next request, answering after ``seconds``."""
        self._queue(Fault("slow", seconds=seconds))

    def hang_next(self, seconds: float = 5.0) -> None:
        """Accept and record the next request but answer only after ``seconds`` (past the
        client's read timeout): delivered, yet the client cannot know it."""
        self._queue(Fault("hang", seconds=seconds))

    def drop_next(self) -> None:
        """Read the next request, then close the connection without answering or recording."""
        self._queue(Fault("drop"))

    def rate_limit_every(self, n: int, reset_in: float = 1.0) -> None:
        """Answer 429 to every ``n``-th request from now on (0 turns it off)."""
        with self._lock:
            self._rate_limit_every = n
            self._rate_limit_reset_in = reset_in
            self._seen = 0

    def _queue(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self) -> Fault | None:
        with self._lock:
            self._seen += 1
            self._received += 1
            if self._faults:
                return self._faults.popleft()
            if self._rate_limit_every and self._seen % self._rate_limit_every == 0:
                return Fault("fail", status=429, reset_at=time.time() + self._rate_limit_reset_in)
            return None

    def _record(self, body: dict[str, Any], headers: Mapping[str, str]) -> RecordedRequest:
        settings = body.get("mail_settings")
        mode = settings.get("sandbox_mode") if isinstance(settings, dict) else None
        sandbox = isinstance(mode, dict) and mode.get("enable") is True
        request = RecordedRequest(body, dict(headers), time.time(), uuid.uuid4().hex, sandbox)
        with self._lock:
            self._requests.append(request)
        return request

    # -- running -------------------------------------------------------------------------

    def start(self) -> SendGridServer:
        """Serve in a background daemon thread."""
        # A short poll lets stop() return at once instead of after the default 0.5 s.
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut short any hanging answer, release the port."""
        self._stopping.set()
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()

    def __enter__(self) -> SendGridServer:
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_server(
    api_key: str = "test-key", *, full_validation: bool = True
) -> tuple[SendGridServer, str]:
    """Start a server on a free 127.0.0.1 port; return it and its base URL. Call ``stop()``."""
    server = SendGridServer(api_key, full_validation=full_validation).start()
    return server, server.url


class _Handler(BaseHTTPRequestHandler):
    server: SendGridServer

    def do_POST(self) -> None:
        if self.path == "/_test/faults":
            self._queue_faults()
        elif self.path == "/v3/mail/send":
            self._mail_send()
        else:
            self._answer(404, _errors([("not found", None)]))

    def do_GET(self) -> None:
        if self.path == "/_test/accepted":
            self._answer(200, self.server.accepted_recipients())
        else:
            self._answer(404, _errors([("not found", None)]))

    def _mail_send(self) -> None:
        server = self.server
        fault = server._take_fault()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._answer(413, _errors([("content too large", None)]))
            return
        raw = self.rfile.read(length)
        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            return
        if fault is not None and fault.kind == "fail":
            self._fail(fault)
            return
        status, errors, body = self._judge(raw)
        if errors:
            self._answer(status, _errors(errors))
            return
        request = server._record(body, self.headers)
        if fault is not None:
            server._stopping.wait(fault.seconds)
        if request.sandbox:
            self._answer(200, None)
        else:
            self._answer(202, None, {"X-Message-Id": request.message_id})

    def _judge(self, raw: bytes) -> tuple[int, list[ApiError], Any]:
        """The status and errors SendGrid would answer (none to accept), and the parsed body."""
        authorization = self.headers.get("Authorization")
        if authorization is None:
            return 401, [("authorization required", None)], None
        if authorization != f"Bearer {self.server.api_key}":
            invalid = "The provided authorization grant is invalid, expired, or revoked"
            return 401, [(invalid, None)], None
        if self.headers.get_content_type() != "application/json":
            return 400, [("Content-Type should be application/json.", None)], None
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, [("Bad Request: the body is not valid JSON.", None)], None
        return 400, validate_mail_send(body, full=self.server.full_validation), body

    def _fail(self, fault: Fault) -> None:
        message = fault.message or _DEFAULT_MESSAGES.get(fault.status, "error")
        headers: dict[str, str] = {}
        if fault.status == 429:
            headers["X-RateLimit-Limit"] = "600"
            headers["X-RateLimit-Remaining"] = "0"
            if fault.reset_at is not None:
                headers["X-RateLimit-Reset"] = str(math.ceil(fault.reset_at))
        self._answer(fault.status, _errors([(message, fault.field)]), headers)

    def _queue_faults(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            specs = json.loads(self.rfile.read(length))
            for spec in specs:
                _apply_fault_spec(self.server, spec)
        except (ValueError, TypeError, KeyError) as error:
            self._answer(400, _errors([(f"bad fault spec: {error}", None)]))
            return
        self._answer(200, {"queued": len(specs)})

    def _answer(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a hang): nothing to answer to
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


def _errors(errors: list[ApiError]) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": field} for message, field in errors]}


def _apply_fault_spec(server: SendGridServer, spec: dict[str, Any]) -> None:
    """Queue one fault given as JSON: ``{"kind": "fail"|"slow"|"hang"|"drop", ...}``."""
    kind = spec["kind"]
    if kind == "fail":
        server.fail_next(
            int(spec["status"]),
            reset_in=spec.get("reset_in"),
            message=spec.get("message", ""),
            field=spec.get("field"),
        )
    elif kind in ("slow", "hang"):
        server._queue(Fault(kind, seconds=float(spec["seconds"])))
    elif kind == "drop":
        server.drop_next()
    else:
        raise ValueError(f"unknown fault kind {kind!r}")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.sendgrid_server", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", required=True, help="the key requests must carry")
    parser.add_argument(
        "--fast", action="store_true", help="skip JSON Schema validation (limit checks stay)"
    )
    parser.add_argument("--rate-limit-every", type=int, default=0, metavar="N")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Serve until killed, after printing the base URL on the first line of stdout."""
    args = _parse_args(argv)
    server = SendGridServer(
        args.api_key, full_validation=not args.fast, host=args.host, port=args.port
    )
    server.verbose = args.verbose
    server.rate_limit_every(args.rate_limit_every)
    print(server.url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main(sys.argv[1:])
