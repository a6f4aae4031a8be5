"""The SendGrid backend: the one module that talks to SendGrid, through its official SDK.

It sends (``SendGridBackend``) and reads the account (``SendGridApi``: what the lists
mean is ``suppressions``' business, what the account says of a send ``account``'s).

One call to ``send`` is one ``POST /v3/mail/send`` carrying up to 1000
personalizations, one per recipient, each with that recipient's substitutions
(SendGrid fills them into subject and content) and headers (``List-Unsubscribe``).
The body is built as a plain dict (``mail_send.build_body``) and posted with
``client.client.mail.send.post``.

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
    AccountError,
    BatchFailed,
    BatchRefused,
    BatchUncertain,
    SendRefused,
)
from ..models import Recipient
from ..text import plural
from . import Message
from .mail_send import MAX_PERSONALIZATIONS, build_body
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


# Added to every rate-limit wait: X-RateLimit-Reset is in whole seconds.
RATE_LIMIT_MARGIN = 0.5
_SHOWN_ERRORS = 3


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


class _Connection:
    """What every use of SendGrid here holds: the key, the host, the timeout of a request
    and how failed attempts are retried (``sleep``, ``clock`` and ``rng`` passed in);
    ``_set_up`` does what a kind of use adds."""

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
        self._api_key = api_key
        self._host = host.rstrip("/")
        self._timeout = timeout
        self._policy = RetryPolicy(max_retries=max_retries)
        self._sleep = sleep
        self._clock = clock
        # By default drawn from os.urandom: no state, so forked send workers never
        # share one and retry in lockstep.
        self._rng = rng or random.SystemRandom()
        self._set_up()

    def _set_up(self) -> None:
        """Check and prepare what this kind of use needs, once the settings are in."""

    def __repr__(self) -> str:  # never the key
        return f"{type(self).__name__}(host={self._host!r}, timeout={self._timeout})"


class SendGridBackend(_Connection):
    """Sends batches through SendGrid's v3 Mail Send API; safe to call from many threads."""

    name = "sendgrid"
    batch_size = MAX_PERSONALIZATIONS

    def _set_up(self) -> None:
        if not self._api_key:
            raise SendRefused("no SendGrid API key: set SENDGRID_API_KEY")
        # The SDK's client mutates a headers dict it shares between calls: one per thread.
        self._local = threading.local()

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
                f"SendGrid did not take a batch of {plural(len(recipients), 'recipient')} "
                f"after {plural(exhausted.attempts, 'attempt')}: {exhausted.last.reason}"
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
                f"{plural(len(body['personalizations']), 'recipient')}: "
                f"{_no_answer(error, self._timeout)}"
            ) from error
        return response.headers.get("X-Message-Id") or ""

    def _refusal(self, error: HTTPError) -> Retry | BatchRefused:
        """What an error status means: try again (429, 5xx) or stop (other 4xx)."""
        status = error.status_code
        messages = [self._redact(m) for m in _error_messages(error.body)]
        said = _summary(messages)
        if status == 429:
            return Retry("SendGrid rate limit (HTTP 429)", after=_reset_wait(error, self._clock))
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

    def _not_sent(self, error: urllib.error.URLError) -> Retry | BatchFailed:
        """A failure before the request went out: retry, unless retrying cannot help."""
        said, may_pass = _unreachable(error, self._host)
        return Retry(said) if may_pass else BatchFailed(said)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]")

    def _log_retry(self, signal: Retry, delay: float) -> None:
        log.warning("%s; retrying in %.1f s", signal.reason, delay)


class SendGridApi(_Connection):
    """Reads the account from SendGrid's v3 API: one GET, its JSON answer (the lists
    `digest subscribers sync` reads, what `digest doctor` asks: ``account``).

    Its own SDK client, never the send's: a client keeps the headers of its calls in a
    dict it shares with the clients derived from it, so a header set for one call (an
    ``on-behalf-of``) would go with every later one. A GET changes nothing, so whatever
    may pass is retried as a batch is (429 after ``X-RateLimit-Reset``, 5xx and failed
    connections with backoff), a lost answer too; anything else is an ``AccountError``
    with SendGrid's status (0: no answer to go by), which its callers put in their words.
    """

    def _set_up(self) -> None:
        self._client: SendGridAPIClient | None = None

    def get(self, *path: str, query: Mapping[str, object] | None = None) -> Any:
        """The JSON answer to ``GET /v3/<path>?<query>``."""
        where = "/v3/" + "/".join(path)
        try:
            return call_with_retries(
                lambda: self._get(path, query, where),
                self._policy,
                sleep=self._sleep,
                rng=self._rng,
                on_retry=lambda signal, delay: log.warning(
                    "%s; retrying in %.1f s", signal.reason, delay
                ),
            )
        except RetriesExhausted as exhausted:
            raise AccountError(
                f"SendGrid did not answer GET {where} after"
                f" {plural(exhausted.attempts, 'attempt')}: {exhausted.last.reason}",
                status=0,
            ) from exhausted.last

    def _get(self, path: Sequence[str], query: Mapping[str, object] | None, where: str) -> Any:
        """One attempt: the answer, or ``Retry``, or an AccountError."""
        sdk = _sdk()
        if self._client is None:
            self._client = sdk.client(api_key=self._api_key, host=self._host)
        endpoint = self._client.client
        for part in path:
            endpoint = endpoint._(part)
        try:
            response = endpoint.get(query_params=dict(query or {}), timeout=self._timeout)
        except sdk.http_error as error:
            raise self._refusal(error, where) from error
        except sdk.not_sent as error:
            said, may_pass = _unreachable(error, self._host)
            raise (Retry(said) if may_pass else AccountError(said, status=0)) from error
        except sdk.no_answer as error:
            raise Retry(f"GET {where}: {_no_answer(error, self._timeout)}") from error
        try:
            return json.loads(response.body or b"null")
        except ValueError:
            raise AccountError(f"SendGrid's answer to GET {where} is not JSON", 0) from None

    def _refusal(self, error: HTTPError, where: str) -> Retry | AccountError:
        """What an error status means for a GET: try again (429, 5xx) or stop, in words."""
        status = error.status_code
        said = _summary(
            [m.replace(self._api_key, "[redacted]") for m in _error_messages(error.body)]
        )
        if status == 429:
            return Retry(
                f"SendGrid rate limit (HTTP 429) on {where}", _reset_wait(error, self._clock)
            )
        if status >= 500:
            return Retry(f"SendGrid answered HTTP {status} to GET {where}: {said}")
        return AccountError(f"SendGrid answered HTTP {status} to GET {where}: {said}", status)


def _unreachable(error: urllib.error.URLError, host: str) -> tuple[str, bool]:
    """What a failure before the request went out says, and whether a retry may help
    (not for a certificate that does not verify)."""
    reason = error.reason
    said = f"cannot reach SendGrid at {host}: {str(reason) or type(reason).__name__}"
    return said, isinstance(reason, OSError) and not isinstance(reason, _sdk().bad_certificate)


def _reset_wait(error: HTTPError, clock: Callable[[], float]) -> float | None:
    """Seconds until a 429's ``X-RateLimit-Reset`` (plus a margin), or None to back off."""
    reset = error.headers.get("X-RateLimit-Reset") if error.headers else None
    if reset is None:
        return None
    try:
        reset_at = float(reset)
    except ValueError:
        return None
    return max(0.0, reset_at - clock()) + RATE_LIMIT_MARGIN


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
