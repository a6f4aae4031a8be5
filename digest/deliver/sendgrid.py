"""The SendGrid backend: the one module that talks to SendGrid, through its official SDK.

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
from collections.abc import Callable, Sequence
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


# -- the account: what `digest doctor` asks before a send ----------------------------------

# Bounds on the pages read of a list, so that an account with thousands of senders or
# domains cannot keep a check going: the sender is looked for in the first 1,000.
_PAGE = 100
_MAX_PAGES = 10


class SenderIdentity(NamedTuple):
    """A Single Sender identity (``GET /v3/verified_senders``)."""

    from_email: str
    verified: bool


class AuthenticatedDomain(NamedTuple):
    """A domain set up for Domain Authentication (``GET /v3/whitelabel/domains``);
    ``valid`` once its DNS records check out."""

    domain: str
    valid: bool


class SendGridAccount:
    """Reads what the API key may see of its account: its scopes, sender identities,
    authenticated domains and an unsubscribe group. Each is a GET, retried as a batch is
    (a 429 waits for its reset; 5xx, refused connections and timeouts back off: a GET
    changes nothing, so it is safe to repeat); any other answer raises ``AccountError``
    with its status (0: SendGrid could not be reached)."""

    def __init__(
        self,
        *,
        api_key: str,
        host: str,
        timeout: float,
        max_retries: int,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._backend = SendGridBackend(
            api_key=api_key, host=host, timeout=timeout, max_retries=max_retries, sleep=sleep
        )
        self._rng = rng or random.SystemRandom()

    def scopes(self) -> list[str]:
        """The permissions of the API key (``GET /v3/scopes``)."""
        found = self._get(lambda client: client.scopes, {})
        scopes = found.get("scopes") if isinstance(found, dict) else None
        return [str(scope) for scope in scopes] if isinstance(scopes, list) else []

    def senders(self) -> list[SenderIdentity]:
        """The account's sender identities, verified or not (the first thousand)."""
        found: list[SenderIdentity] = []
        query: dict[str, Any] = {"limit": _PAGE}
        for _ in range(_MAX_PAGES):
            page = self._get(lambda client: client.verified_senders, query)
            results = page.get("results") if isinstance(page, dict) else None
            entries = [entry for entry in results or [] if isinstance(entry, dict)]
            found += [
                SenderIdentity(str(entry.get("from_email", "")), entry.get("verified") is True)
                for entry in entries
            ]
            if len(entries) < _PAGE:
                break
            query = {"limit": _PAGE, "lastSeenID": entries[-1].get("id")}
        return found

    def domains(self) -> list[AuthenticatedDomain]:
        """The account's authenticated domains, valid or not (the first thousand)."""
        found: list[AuthenticatedDomain] = []
        for number in range(_MAX_PAGES):
            query = {"limit": _PAGE, "offset": number * _PAGE}
            page = self._get(lambda client: client.whitelabel.domains, query)
            entries = [entry for entry in page if isinstance(entry, dict)] if page else []
            found += [
                AuthenticatedDomain(str(entry.get("domain", "")), entry.get("valid") is True)
                for entry in entries
            ]
            if len(entries) < _PAGE:
                break
        return found

    def asm_group(self, group_id: int) -> str:
        """The name of unsubscribe group ``group_id``; AccountError (404) if there is none."""
        found = self._get(lambda client: client.asm.groups._(str(group_id)), {})
        return str(found.get("name", "")) if isinstance(found, dict) else ""

    def _get(self, endpoint: Callable[[Any], Any], query: dict[str, Any]) -> Any:
        """The parsed JSON answer to a GET of ``endpoint(client.client)``."""
        try:
            return call_with_retries(
                lambda: self._attempt(endpoint, query),
                self._backend._policy,
                sleep=self._backend._sleep,
                rng=self._rng,
                on_retry=self._backend._log_retry,
            )
        except RetriesExhausted as exhausted:
            raise AccountError(exhausted.last.reason, status=0) from exhausted.last

    def _attempt(self, endpoint: Callable[[Any], Any], query: dict[str, Any]) -> Any:
        backend, sdk = self._backend, _sdk()
        host, timeout = backend._host, backend._timeout
        try:
            response = endpoint(backend._client().client).get(
                query_params=query or None, timeout=timeout
            )
        except sdk.http_error as error:
            status = error.status_code
            if status == 429 or status >= 500:
                raise backend._refusal(error) from error
            said = _summary([backend._redact(m) for m in _error_messages(error.body)])
            raise AccountError(f"SendGrid answered HTTP {status}: {said}", status) from error
        except sdk.not_sent as error:
            refusal = backend._not_sent(error)
            if isinstance(refusal, Retry):
                raise refusal from error
            raise AccountError(refusal.message, status=0) from error
        except sdk.no_answer as error:
            raise Retry(f"SendGrid at {host}: {_no_answer(error, timeout)}") from error
        try:
            return json.loads(response.body or b"null")
        except ValueError:
            raise AccountError(f"SendGrid at {host} answered with something not JSON", 0) from None
