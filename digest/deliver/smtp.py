"""The SMTP backend: one message per recipient over one reused connection.

Each ``send`` carries a single recipient (``batch_size = 1``) so the ledger
records every message on its own. The connection opens on the first send and
stays open across sends; a connection the server closed while idle is replaced
at once. What a fault means depends on when it happens:

- before the message body was sent (refused or timed-out connection, a dropped
  connection, a 4xx reply): nothing was delivered, so the message is retried
  with backoff and, when the retries run out, ``BatchFailed``;
- after the body was sent and before the server's final reply (a timeout, a
  disconnect): the server may have queued it, so ``BatchUncertain``;
- a 5xx refusal of the one recipient: ``RecipientRefused``, a ``BatchFailed``
  that lets the rest of the send go on; a 5xx refusal of the sender or of the
  message, or a refused login: ``BatchRefused``, which stops the send.

The password is used only for the login: it never appears in a message, an
exception or a traceback (auth errors are raised ``from None``, replies scrubbed).
"""

from __future__ import annotations

import random
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..config.settings import SMTP_SECURITY
from ..errors import (
    BatchFailed,
    BatchRefused,
    BatchUncertain,
    ConfigError,
    DeliveryError,
    RecipientRefused,
)
from ..models import Recipient
from . import Message
from .mime import build_message, mailbox
from .retry import RetriesExhausted, Retry, RetryPolicy, call_with_retries

_SETTINGS_HINT = "check [smtp] host, port and security in digest.toml"
_LOGIN_HINT = "check [smtp] username and DIGEST_SMTP_PASSWORD"


class _Closed(Retry):
    """The connection was gone before the transaction began (an idle connection timed out)."""


@dataclass(frozen=True)
class _Envelope:
    sender: str
    recipient: str
    data: bytes


class SmtpBackend:
    """Sends each recipient's MIME message through an SMTP server with smtplib."""

    name = "smtp"
    batch_size = 1

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: str,
        username: str,
        password: str,
        timeout: float,
        from_domain: str,
        now: Callable[[], datetime],
        max_retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        ssl_context: ssl.SSLContext | None = None,
        rng: random.Random | None = None,
    ) -> None:
        # Settings are checked as they load; any other caller gets the same refusal here,
        # rather than a connection without TLS for a mode this class does not know.
        if security not in SMTP_SECURITY:
            modes = ", ".join(SMTP_SECURITY)
            raise ConfigError(f"[smtp] security = {security!r} is not one of {modes}")
        # smtplib's AUTH encodes both as ASCII; say so now, naming neither value.
        if not username.isascii():
            raise ConfigError(
                "smtp.username has non-ASCII characters, which SMTP login cannot send"
            )
        if not password.isascii():
            raise ConfigError(
                "DIGEST_SMTP_PASSWORD has non-ASCII characters, which SMTP login cannot send",
                "use an ASCII password (or an app password) for the SMTP account",
            )
        self._host = host
        self._port = port
        self._security = security
        self._username = username
        self._password = password
        self._timeout = timeout
        self._from_domain = from_domain
        self._now = now
        self._policy = RetryPolicy(max_retries=max_retries)
        self._sleep = sleep
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._rng = rng or random.Random()
        self._where = f"{host}:{port}"
        self._connection: smtplib.SMTP | None = None

    def send(self, message: Message, recipients: Sequence[Recipient]) -> str:
        """Deliver ``message`` to the single recipient; return the Message-ID it carries."""
        if len(recipients) != 1:
            raise ValueError(f"SmtpBackend sends one recipient per call, not {len(recipients)}")
        recipient = recipients[0]
        try:
            mailbox(recipient.name, recipient.email)
        except DeliveryError as error:
            raise RecipientRefused(recipient.email, 0, error.message) from None
        try:
            email = build_message(
                message, recipient, now=self._now(), message_id_domain=self._from_domain
            )
        except DeliveryError as error:
            raise BatchRefused(f"the message cannot be built: {error.message}") from None
        envelope = _Envelope(
            sender=email["From"].addresses[0].addr_spec,
            recipient=email["To"].addresses[0].addr_spec,
            data=_dot_stuffed(email.as_bytes()),
        )
        try:
            call_with_retries(
                lambda: self._attempt(envelope), self._policy, sleep=self._sleep, rng=self._rng
            )
        except RetriesExhausted as exhausted:
            raise BatchFailed(f"SMTP server {self._where}: {exhausted}") from None
        return str(email["Message-ID"])

    def prepare(self) -> None:
        """Nothing to load: smtplib and the email package came with this module."""

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()

    def _attempt(self, envelope: _Envelope) -> None:
        """One try: on the open connection, or on a fresh one if the server closed it idle."""
        if self._connection is not None:
            try:
                self._transaction(self._connection, envelope)
            except _Closed:
                pass
            else:
                return
        self._transaction(self._open(), envelope)

    def _transaction(self, connection: smtplib.SMTP, envelope: _Envelope) -> None:
        """MAIL, RCPT, DATA: raises ``Retry`` while nothing can have been delivered."""

        def refuse_sender(code: int, text: str) -> DeliveryError:
            refusal = f"SMTP server {self._where} refused the sender {envelope.sender}"
            return BatchRefused(f"{refusal}: {code} {text}", (text,))

        def refuse_recipient(code: int, text: str) -> DeliveryError:
            if _about_the_recipient(code, text):
                return RecipientRefused(envelope.recipient, code, text)
            refusal = f"SMTP server {self._where} refused the recipient {envelope.recipient}"
            return BatchRefused(
                f"{refusal}: {code} {text} (a refusal it would give every reader: the send "
                "stops, and nobody is marked refused)",
                (text,),
            )

        def refuse_message(code: int, text: str) -> DeliveryError:
            refusal = f"SMTP server {self._where} refused the message for {envelope.recipient}"
            return BatchRefused(f"{refusal}: {code} {text}", (text,))

        self._command(connection.mail, envelope.sender, "MAIL FROM", refuse_sender, _Closed)
        self._command(connection.rcpt, envelope.recipient, "RCPT TO", refuse_recipient, Retry)
        self._command(connection.docmd, "DATA", "DATA", refuse_message, Retry, expect=354)
        try:
            connection.send(envelope.data)
        except smtplib.SMTPServerDisconnected as error:
            self._drop()
            raise Retry(f"connection lost while sending the message ({error})") from None
        try:
            code, reply = connection.getreply()
        except smtplib.SMTPServerDisconnected as error:
            self._drop()
            raise BatchUncertain(
                f"SMTP server {self._where} took the message for {envelope.recipient} "
                f"but gave no answer ({error})"
            ) from None
        if not 200 <= code < 600:
            self._drop()
            raise BatchUncertain(f"SMTP server {self._where} answered the message with {reply!r}")
        self._check(code, reply, "end of DATA", refuse_message, Retry, expect=250)

    def _command(
        self,
        call: Callable[[str], tuple[int, bytes]],
        argument: str,
        stage: str,
        refuse: Callable[[int, str], DeliveryError],
        lost: type[Retry],
        expect: int = 250,
    ) -> None:
        """Run one SMTP command before the body went out; any loss of the connection is retried."""
        try:
            code, reply = call(argument)
        except smtplib.SMTPServerDisconnected as error:
            self._drop()
            raise lost(f"{stage}: connection lost ({error})") from None
        self._check(code, reply, stage, refuse, lost, expect=expect)

    def _check(
        self,
        code: int,
        reply: bytes,
        stage: str,
        refuse: Callable[[int, str], DeliveryError],
        lost: type[Retry],
        *,
        expect: int,
    ) -> None:
        """Accept the expected reply; a 4xx asks for a retry, a 5xx refuses."""
        if code == expect or (expect == 250 and 200 <= code < 300):
            return
        text = self._text(reply)
        if code == 421 or not 400 <= code < 600:
            self._drop()
            raise lost(f"{stage}: {code} {text}")
        self._reset()
        if code < 500:
            raise Retry(f"{stage}: {code} {text}")
        raise refuse(code, text)

    def _open(self) -> smtplib.SMTP:
        """Connect, secure and log in; faults that may pass are ``Retry``, the rest refused."""
        try:
            connection = self._connect()
        except smtplib.SMTPAuthenticationError as error:
            text = self._text(error.smtp_error)
            if 400 <= error.smtp_code < 500:
                raise Retry(f"login: {error.smtp_code} {text}") from None
            raise _refused(
                f"SMTP server {self._where} refused the login as {self._username!r}: "
                f"{error.smtp_code} {text}",
                _LOGIN_HINT,
            ) from None
        except smtplib.SMTPNotSupportedError as error:
            raise _refused(f"SMTP server {self._where}: {error}", _SETTINGS_HINT) from None
        except smtplib.SMTPResponseException as error:
            text = self._text(error.smtp_error)
            if error.smtp_code < 500:
                raise Retry(f"greeting: {error.smtp_code} {text}") from None
            raise _refused(
                f"SMTP server {self._where} refused the connection: {error.smtp_code} {text}",
                _SETTINGS_HINT,
            ) from None
        except (smtplib.SMTPServerDisconnected, ssl.SSLEOFError, ssl.SSLZeroReturnError) as error:
            raise Retry(f"cannot connect: {error}") from None
        except (smtplib.SMTPException, ssl.SSLError) as error:
            raise _refused(f"SMTP server {self._where}: {error}", _SETTINGS_HINT) from None
        except OSError as error:
            raise Retry(f"cannot connect: {error or type(error).__name__}") from None
        self._connection = connection
        return connection

    def _connect(self) -> smtplib.SMTP:
        connection: smtplib.SMTP
        if self._security == "ssl":
            connection = smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout, context=self._ssl_context
            )
        else:
            connection = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        try:
            connection.ehlo_or_helo_if_needed()
            if self._security == "starttls":
                connection.starttls(context=self._ssl_context)
            if self._username:
                connection.login(self._username, self._password)
        except BaseException:
            connection.close()
            raise
        return connection

    def _reset(self) -> None:
        """RSET after a refused command so the connection can be reused; drop it if that fails."""
        if self._connection is None:
            return
        try:
            code, _ = self._connection.rset()
        except (smtplib.SMTPException, OSError):
            code = 0
        if code != 250:
            self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _text(self, reply: bytes | str) -> str:
        """A server reply on one line, with the password blotted out should a server echo it."""
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        text = " ".join(text.split())
        return text.replace(self._password, "***") if self._password else text


# An RFC 3463 enhanced status code at the start of a reply: class.subject.detail.
_ENHANCED_STATUS = re.compile(r"\s*[245]\.(\d{1,3})\.\d{1,3}\b")


def _about_the_recipient(code: int, text: str) -> bool:
    """Whether a 5xx to RCPT TO is about this address (unknown, disabled, full mailbox),
    not about the sender or the session (relaying denied, policy, authentication), which
    the server would answer for every reader alike.

    RFC 3463 subjects 1 (addressing) and 2 (mailbox) are the recipient's; without an
    enhanced code, 550, 551 and 553 are, unless the server speaks of relaying.
    """
    enhanced = _ENHANCED_STATUS.match(text)
    if enhanced is not None:
        return enhanced.group(1) in ("1", "2")
    return code in (550, 551, 553) and "relay" not in text.lower()


def _refused(message: str, hint: str) -> BatchRefused:
    refused = BatchRefused(message)
    refused.hint = hint
    return refused


def _dot_stuffed(data: bytes) -> bytes:
    """The DATA payload: leading dots doubled, CRLF-terminated, then the lone-dot end marker."""
    stuffed = re.sub(rb"(?m)^\.", b"..", data)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"
