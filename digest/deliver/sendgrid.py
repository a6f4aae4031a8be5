"""The SendGrid backend: the one module that talks to SendGrid, through its official SDK.

One call to ``send`` is one ``POST /v3/mail/send`` carrying up to 1000
personalizations, one per recipient, each with that recipient's substitutions
(SendGrid fills them into subject and content) and headers (``List-Unsubscribe``).
The body is built as a plain dict (``build_body``) and posted with
``client.client.mail.send.post``: the SDK's ``Mail`` helper objects build the
same JSON several times slower for a 1000-recipient batch.

What an answer means, and what ``send`` does about it:

* 2xx: accepted; return ``X-Message-Id`` (empty in sandbox mode, which answers 200).
* 429: rate limited; wait until ``X-RateLimit-Reset`` (Unix seconds) and retry,
  or back off if the header is missing. A reset more than ten minutes away
  raises ``BatchFailed`` at once: the batch stays unsent, for a later rerun.
* 5xx, or a connection that failed before the request was sent (refused, DNS,
  connect timeout): nothing was delivered; retry with capped exponential backoff
  and full jitter, at most ``max_retries`` times, then raise ``BatchFailed``.
* No answer after the request went out (read timeout, connection dropped):
  SendGrid may have taken it; raise ``BatchUncertain`` at once, never retry.
* Any other 4xx: raise ``BatchRefused`` with SendGrid's error messages.

With urllib (under the SDK), failures while connecting or sending the request
surface as ``urllib.error.URLError``; failures while waiting for the answer
surface raw (``TimeoutError``, ``http.client.RemoteDisconnected``). That split
is what tells "surely not delivered" from "maybe delivered".

The API key never appears in an exception, a log record or a repr.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import (
    BatchFailed,
    BatchRefused,
    BatchUncertain,
    ConfigError,
    DeliveryError,
    InvalidAddress,
    SendRefused,
)
from ..models import SUBSTITUTIONS_MAX_BYTES, Recipient
from ..urls import ascii_address
from . import Message
from .retry import RetriesExhausted, Retry, RetryPolicy, call_with_retries

if TYPE_CHECKING:
    import http.client
    import ssl
    import urllib.error

    from python_http_client.exceptions import HTTPError
    from sendgrid import SendGridAPIClient

log = logging.getLogger(__name__)

# python_http_client logs each request's headers (the Authorization header holds the
# API key) and payload at DEBUG: keep its logger above DEBUG so `digest -v` cannot leak it.
logging.getLogger("python_http_client.client").setLevel(logging.INFO)

# SendGrid's documented limits (the Mail Send OpenAPI file and "Limitations" page).
MAX_PERSONALIZATIONS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000
MAX_CATEGORIES = 10
MAX_CATEGORY_CHARS = 255
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
# Added to every rate-limit wait: X-RateLimit-Reset is in whole seconds.
RATE_LIMIT_MARGIN = 0.5
_SHOWN_ERRORS = 3


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
    }
    if shared:
        body["headers"] = shared
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
    """The configured categories, duplicates dropped, within SendGrid's limits."""
    unique = list(dict.fromkeys(categories))
    if len(unique) > MAX_CATEGORIES or any(len(c) > MAX_CATEGORY_CHARS for c in unique):
        raise ConfigError(
            f"[sendgrid] categories: SendGrid takes at most {MAX_CATEGORIES} categories "
            f"of at most {MAX_CATEGORY_CHARS} characters"
        )
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


class _Sdk(NamedTuple):
    """The SDK's client and the errors its calls raise: its own, and those of the
    standard library's HTTP client under it (see the module's docstring)."""

    client: type[SendGridAPIClient]
    http_error: type[HTTPError]
    not_sent: type[urllib.error.URLError]
    no_answer: tuple[type[OSError], type[http.client.HTTPException]]
    bad_certificate: type[ssl.SSLCertVerificationError]


@functools.cache
def _sdk() -> _Sdk:
    """The SDK, imported on first use rather than with this module: the import (with
    the standard library's HTTP client) takes 0.15 s, which `digest send` spends after
    it has started reading the list."""
    import http.client
    import ssl
    import urllib.error

    from python_http_client.exceptions import HTTPError
    from sendgrid import SendGridAPIClient

    return _Sdk(
        SendGridAPIClient,
        HTTPError,
        urllib.error.URLError,
        (OSError, http.client.HTTPException),
        ssl.SSLCertVerificationError,
    )


class SendGridBackend:
    """Sends batches through SendGrid's v3 Mail Send API; safe to call from many threads."""

    name = "sendgrid"
    batch_size = MAX_PERSONALIZATIONS

    def __init__(
        self,
        *,
        api_key: str,
        host: str,
        timeout: float,
        max_retries: int,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if not api_key:
            raise SendRefused("no SendGrid API key: set SENDGRID_API_KEY")
        if timeout <= 0:
            raise ConfigError(f"[sendgrid] timeout must be more than 0 seconds, not {timeout}")
        self._api_key = api_key
        self._host = host.rstrip("/")
        self._timeout = timeout
        self._policy = RetryPolicy(max_retries=max_retries)
        self._sleep = sleep
        self._clock = clock
        # By default drawn from os.urandom: no state, so forked send workers never
        # share one and retry in lockstep.
        self._rng = rng or random.SystemRandom()
        # The SDK's client mutates a headers dict it shares between calls: one per thread.
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SendGridBackend(host={self._host!r}, timeout={self._timeout})"

    def send(self, message: Message, recipients: Sequence[Recipient]) -> str:
        """Post one batch; return SendGrid's message id ("" in sandbox mode)."""
        body = build_body(message, recipients)
        try:
            return call_with_retries(
                lambda: self._post(body),
                self._policy,
                sleep=self._sleep,
                rng=self._rng,
                on_retry=self._log_retry,
            )
        except RetriesExhausted as exhausted:
            raise BatchFailed(
                f"SendGrid did not take a batch of {len(recipients)} recipients "
                f"after {exhausted.attempts} attempts: {exhausted.last.reason}"
            ) from exhausted.last

    def prepare(self) -> None:
        """Import the SDK now, so that send workers forked later inherit it."""
        _sdk()

    def close(self) -> None:
        """Nothing stays open: urllib makes one connection per request and closes it."""
        self._local = threading.local()

    def _client(self) -> SendGridAPIClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = _sdk().client(api_key=self._api_key, host=self._host)
            self._local.client = client
        return client

    def _post(self, body: dict[str, Any]) -> str:
        """One attempt: the message id, or ``Retry``, or a Batch* error."""
        client, sdk = self._client(), _sdk()
        try:
            response = client.client.mail.send.post(request_body=body, timeout=self._timeout)
        except sdk.http_error as error:
            raise self._refusal(error) from error
        except sdk.not_sent as error:
            raise self._not_sent(error) from error
        except sdk.no_answer as error:
            raise BatchUncertain(
                f"SendGrid at {self._host} may or may not have taken a batch of "
                f"{len(body['personalizations'])} recipients: {_no_answer(error, self._timeout)}"
            ) from error
        return response.headers.get("X-Message-Id") or ""

    def _refusal(self, error: HTTPError) -> Retry | BatchRefused:
        """What an error status means: try again (429, 5xx) or stop (other 4xx)."""
        status = error.status_code
        messages = [self._redact(m) for m in _error_messages(error.body)]
        said = _summary(messages)
        if status == 429:
            return Retry("SendGrid rate limit (HTTP 429)", after=self._rate_limit_wait(error))
        if status >= 500:
            return Retry(f"SendGrid answered HTTP {status}: {said}")
        if status == 401:
            return BatchRefused(
                f"SendGrid refused the API key (HTTP 401: {said}); check SENDGRID_API_KEY",
                tuple(messages),
            )
        if status == 403:
            return BatchRefused(
                f"SendGrid refused this API key's request (HTTP 403: {said}); check the key's "
                "Mail Send permission and that the From address is a verified sender",
                tuple(messages),
            )
        return BatchRefused(f"SendGrid refused the batch (HTTP {status}): {said}", tuple(messages))

    def _rate_limit_wait(self, error: HTTPError) -> float | None:
        """Seconds until ``X-RateLimit-Reset`` (plus a margin), or None to back off."""
        reset = error.headers.get("X-RateLimit-Reset") if error.headers else None
        if reset is None:
            return None
        try:
            reset_at = float(reset)
        except ValueError:
            return None
        return max(0.0, reset_at - self._clock()) + RATE_LIMIT_MARGIN

    def _not_sent(self, error: urllib.error.URLError) -> Retry | BatchFailed:
        """A failure before the request went out: retry, unless retrying cannot help."""
        reason = error.reason
        said = f"cannot reach SendGrid at {self._host}: {str(reason) or type(reason).__name__}"
        if isinstance(reason, OSError) and not isinstance(reason, _sdk().bad_certificate):
            return Retry(said)
        return BatchFailed(said)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]")

    def _log_retry(self, signal: Retry, delay: float) -> None:
        log.warning("%s; retrying in %.1f s", signal.reason, delay)


def _error_messages(body: bytes | str | None) -> list[str]:
    """SendGrid's ``errors[].message`` (prefixed by ``field`` when there is one)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body or ""
    try:
        payload = json.loads(text)
    except ValueError:
        return [text.strip()[:200]] if text.strip() else []
    errors = payload.get("errors") if isinstance(payload, dict) else None
    messages = []
    for item in errors if isinstance(errors, list) else []:
        if isinstance(item, dict):
            message = str(item.get("message") or "").strip()
            field = item.get("field")
            messages.append(f"{field}: {message}" if field and field != "null" else message)
    return messages or [text.strip()[:200]]


def _summary(messages: list[str]) -> str:
    """The first few messages on one line."""
    if not messages:
        return "no error message"
    shown = "; ".join(messages[:_SHOWN_ERRORS])
    more = len(messages) - _SHOWN_ERRORS
    return f"{shown} (and {more} more)" if more > 0 else shown


def _no_answer(error: BaseException, timeout: float) -> str:
    """Why no answer came, in words."""
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout:g} s"
    return f"the connection broke before the answer ({type(error).__name__}: {error})"
