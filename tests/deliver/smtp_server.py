"""Real SMTP servers for the delivery tests: aiosmtpd on 127.0.0.1, plain, STARTTLS or TLS.

``RecordingHandler`` keeps what the server accepted and can be told to answer
like a real server in trouble: refuse a recipient, answer the end of DATA with
4xx/5xx replies, or never answer it. ``SmtpServer`` counts the connections it
accepts, so a test can see whether the client reused one. Certificates are made
at test time with ``cryptography``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Received:
    """One message the server accepted (or at least read to the end of DATA)."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    login: str

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def body(self, subtype: str) -> str:
        """The decoded text/<subtype> part, line ends as Python writes them."""
        part = self.message.get_body((subtype,))
        assert part is not None
        return str(part.get_content()).replace("\r\n", "\n")


@dataclass
class RecordingHandler:
    """An aiosmtpd handler that records envelopes and misbehaves on request.

    ``mail_replies`` are the replies to the next MAIL FROM commands (then they
    are accepted); ``refuse_recipients`` maps an address to the reply its RCPT TO gets;
    ``data_replies`` are the replies to the next ends of DATA (one per message,
    then the message is accepted); ``data_delay`` is how long the server reads a
    message before answering it.
    """

    accepted: list[Received] = field(default_factory=list)
    data_seen: list[Received] = field(default_factory=list)
    mail_replies: list[str] = field(default_factory=list)
    refuse_recipients: dict[str, str] = field(default_factory=dict)
    data_replies: list[str] = field(default_factory=list)
    data_delay: float = 0.0

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.mail_replies:
            return self.mail_replies.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refuse_recipients:
            return self.refuse_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else ""
        received = Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            content=bytes(envelope.original_content or b""),
            tls=server.transport is not None
            and server.transport.get_extra_info("sslcontext") is not None,
            login=login,
        )
        self.data_seen.append(received)
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_replies:
            return self.data_replies.pop(0)
        self.accepted.append(received)
        return "250 2.0.0 Ok: queued"


class SmtpServer(Controller):
    """A threaded aiosmtpd server on a free port of 127.0.0.1 that counts its connections."""

    def __init__(self, handler: RecordingHandler, **kwargs: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0, **kwargs)
        self.sessions: list[SMTP] = []

    @property
    def connections(self) -> int:
        """Connections accepted since the server started (its own start-up probe excluded)."""
        return len(self.sessions)

    def wait_until_all_closed(self, within: float = 5.0) -> None:
        """Block until the server has seen every connection close."""
        deadline = time.monotonic() + within
        while any(session.transport is not None for session in self.sessions):
            assert time.monotonic() < deadline, "the server kept a connection open"
            time.sleep(0.02)

    def factory(self) -> SMTP:
        session = super().factory()
        self.sessions.append(session)
        return session

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@contextmanager
def running(handler: RecordingHandler, **kwargs: Any) -> Iterator[SmtpServer]:
    """Run a server for a ``with`` block; its own start-up probe is not counted."""
    server = SmtpServer(handler, **kwargs)
    server.start()
    server.sessions.clear()
    try:
        yield server
    finally:
        server.stop()


def password_authenticator(users: dict[str, str]) -> Any:
    """An aiosmtpd authenticator accepting exactly ``users`` (login -> password)."""

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        accepted = users.get(login) == password
        return AuthResult(success=accepted, handled=False, auth_data=auth_data)

    return authenticate


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate and checks the host name."""
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed(directory: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "digest test SMTP")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)


def unused_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (bound, read, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
