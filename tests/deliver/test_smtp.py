"""SmtpBackend against real aiosmtpd servers on 127.0.0.1: delivery, reuse, TLS, login, faults."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from digest.deliver import Message
from digest.deliver.smtp import SmtpBackend
from digest.errors import BatchFailed, BatchRefused, BatchUncertain, ConfigError, RecipientRefused
from digest.models import Recipient, token
from tests.deliver.smtp_server import (
    Certificate,
    RecordingHandler,
    SmtpServer,
    password_authenticator,
    running,
    self_signed,
    unused_port,
)

NOW = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
PASSWORD = "s3cret-Pa55word!"
MESSAGE = Message(
    subject=f"Weekly digest for {token('name')}",
    html=f"<p>Hello {token('name')}</p><a href='{token('unsubscribe')}'>unsubscribe</a>",
    text=f"Hello {token('name')}\nUnsubscribe: {token('unsubscribe')}\n",
    from_email="news@example.com",
    from_name="The Example Blog",
    reply_to="editor@example.com",
    edition="2026-03-09",
)


def recipient(address: str, name: str) -> Recipient:
    url = f"https://example.com/unsubscribe?token={name.lower()}-token"
    return Recipient(
        email=address,
        name=name,
        substitutions={token("name"): name, token("unsubscribe"): url},
        headers={
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


ALICE = recipient("alice@example.com", "Alice")
BOB = recipient("bob@example.org", "Bob")
CAROL = recipient("carol@example.net", "Carol")


class Sleeps(list[float]):
    """A sleep function that records the delays it was asked for and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def backend_for(sleeps: Sleeps) -> Iterator[Callable[..., SmtpBackend]]:
    """Build backends for a port (security none, no login unless overridden); all closed after."""
    made: list[SmtpBackend] = []

    def make(port: int, **overrides: Any) -> SmtpBackend:
        settings: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "username": "",
            "password": "",
            "timeout": 5.0,
            "from_domain": "example.com",
            "now": lambda: NOW,
            "sleep": sleeps,
        }
        settings.update(overrides)
        backend = SmtpBackend(**settings)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
def server(handler: RecordingHandler) -> Iterator[SmtpServer]:
    with running(handler) as started:
        yield started


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("tls"))


def test_each_recipient_gets_a_complete_personal_message(
    server: SmtpServer, handler: RecordingHandler, backend_for: Callable[..., SmtpBackend]
) -> None:
    backend = backend_for(server.port)
    ids = [backend.send(MESSAGE, [person]) for person in (ALICE, BOB)]

    assert [(r.mail_from, r.rcpt_tos) for r in handler.accepted] == [
        ("news@example.com", ["alice@example.com"]),
        ("news@example.com", ["bob@example.org"]),
    ]
    for received, person, message_id in zip(handler.accepted, (ALICE, BOB), ids, strict=True):
        message = received.message
        assert message["From"] == "The Example Blog <news@example.com>"
        assert message["To"] == f"{person.name} <{person.email}>"
        assert message["Reply-To"] == "editor@example.com"
        assert message["Subject"] == f"Weekly digest for {person.name}"
        assert message["Date"].datetime == NOW
        assert message["Message-ID"] == message_id
        assert message["X-Digest-Edition"] == "2026-03-09"
        assert message["List-Unsubscribe"] == person.headers["List-Unsubscribe"]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        parts = list(message.iter_parts())
        assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
        url = person.substitutions[token("unsubscribe")]
        assert received.body("plain") == f"Hello {person.name}\nUnsubscribe: {url}\n"
        assert f"<p>Hello {person.name}</p>" in received.body("html")
        assert url in received.body("html")
        assert b"%%" not in received.content
    assert ids[0] != ids[1]


def test_consecutive_sends_share_one_connection(
    server: SmtpServer, handler: RecordingHandler, backend_for: Callable[..., SmtpBackend]
) -> None:
    backend = backend_for(server.port)
    for person in (ALICE, BOB, CAROL):
        backend.send(MESSAGE, [person])

    assert len(handler.accepted) == 3
    assert server.connections == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_at_once(
    handler: RecordingHandler, backend_for: Callable[..., SmtpBackend], sleeps: Sleeps
) -> None:
    with running(handler, timeout=0.2) as server:
        backend = backend_for(server.port)
        backend.send(MESSAGE, [ALICE])
        server.wait_until_all_closed()
        backend.send(MESSAGE, [BOB])

        assert [r.rcpt_tos for r in handler.accepted] == [[ALICE.email], [BOB.email]]
        assert server.connections == 2
    assert sleeps == []


def test_a_421_on_a_reused_connection_reconnects_at_once(
    server: SmtpServer,
    handler: RecordingHandler,
    backend_for: Callable[..., SmtpBackend],
    sleeps: Sleeps,
) -> None:
    backend = backend_for(server.port)
    backend.send(MESSAGE, [ALICE])
    handler.mail_replies = ["421 4.4.2 Error: timeout exceeded"]
    backend.send(MESSAGE, [BOB])

    assert [r.rcpt_tos for r in handler.accepted] == [[ALICE.email], [BOB.email]]
    assert server.connections == 2
    assert sleeps == []


def test_lines_starting_with_a_dot_arrive_intact(
    server: SmtpServer, handler: RecordingHandler, backend_for: Callable[..., SmtpBackend]
) -> None:
    dotted = Message(
        subject="dots", html="<p>x</p>", text=".hidden?\n..two\n.\n", from_email="a@example.com"
    )
    backend_for(server.port).send(dotted, [ALICE])

    assert handler.accepted[0].body("plain") == ".hidden?\n..two\n.\n"


PLAIN_AUTH = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@PLAIN_AUTH
def test_login_with_the_right_password(
    handler: RecordingHandler, backend_for: Callable[..., SmtpBackend]
) -> None:
    with running(
        handler,
        auth_required=True,
        auth_require_tls=False,
        authenticator=password_authenticator({"mailer": PASSWORD}),
    ) as server:
        backend = backend_for(server.port, username="mailer", password=PASSWORD)
        backend.send(MESSAGE, [ALICE])

    assert [r.login for r in handler.accepted] == ["mailer"]


@PLAIN_AUTH
def test_a_wrong_password_is_refused_without_showing_it(
    handler: RecordingHandler, backend_for: Callable[..., SmtpBackend], sleeps: Sleeps
) -> None:
    with running(
        handler,
        auth_required=True,
        auth_require_tls=False,
        authenticator=password_authenticator({"mailer": "the-right-one"}),
    ) as server:
        backend = backend_for(server.port, username="mailer", password=PASSWORD)
        with pytest.raises(BatchRefused) as raised:
            backend.send(MESSAGE, [ALICE])

    error = raised.value
    assert not isinstance(error, BatchFailed)
    assert "login" in str(error)
    assert "535" in str(error)
    assert "mailer" in str(error)
    shown = "".join(traceback.format_exception(error)) + repr(error.args) + repr(backend)
    assert PASSWORD not in shown
    assert handler.accepted == []
    assert sleeps == []


def test_starttls_with_login(
    handler: RecordingHandler, certificate: Certificate, backend_for: Callable[..., SmtpBackend]
) -> None:
    with running(
        handler,
        tls_context=certificate.server_context(),
        require_starttls=True,
        auth_required=True,
        authenticator=password_authenticator({"mailer": PASSWORD}),
    ) as server:
        backend = backend_for(
            server.port,
            security="starttls",
            username="mailer",
            password=PASSWORD,
            ssl_context=certificate.client_context(),
        )
        backend.send(MESSAGE, [ALICE])
        backend.send(MESSAGE, [BOB])
        assert server.connections == 1

    assert [(r.tls, r.login) for r in handler.accepted] == [(True, "mailer"), (True, "mailer")]


def test_starttls_to_an_untrusted_certificate_is_refused(
    handler: RecordingHandler,
    certificate: Certificate,
    backend_for: Callable[..., SmtpBackend],
    sleeps: Sleeps,
) -> None:
    with running(handler, tls_context=certificate.server_context()) as server:
        backend = backend_for(server.port, security="starttls")
        with pytest.raises(BatchRefused, match="certificate"):
            backend.send(MESSAGE, [ALICE])

    assert handler.data_seen == []
    assert sleeps == []


def test_implicit_tls(
    handler: RecordingHandler, certificate: Certificate, backend_for: Callable[..., SmtpBackend]
) -> None:
    with running(handler, ssl_context=certificate.server_context()) as server:
        backend = backend_for(server.port, security="ssl", ssl_context=certificate.client_context())
        backend.send(MESSAGE, [ALICE])

    assert [(r.rcpt_tos, r.tls) for r in handler.accepted] == [([ALICE.email], True)]


def test_a_451_then_success_delivers_one_copy(
    server: SmtpServer,
    handler: RecordingHandler,
    backend_for: Callable[..., SmtpBackend],
    sleeps: Sleeps,
) -> None:
    handler.data_replies = ["451 4.3.0 Temporary local problem, try again"]
    message_id = backend_for(server.port).send(MESSAGE, [ALICE])

    assert len(handler.data_seen) == 2
    assert [r.message["Message-ID"] for r in handler.accepted] == [message_id]
    assert len(sleeps) == 1
    assert server.connections == 1


def test_a_recipient_that_stays_greylisted_fails_after_the_retries(
    server: SmtpServer,
    handler: RecordingHandler,
    backend_for: Callable[..., SmtpBackend],
    sleeps: Sleeps,
) -> None:
    handler.refuse_recipients[ALICE.email] = "450 4.7.1 Greylisted, come back later"
    with pytest.raises(BatchFailed, match="Greylisted") as raised:
        backend_for(server.port, max_retries=2).send(MESSAGE, [ALICE])

    assert not isinstance(raised.value, RecipientRefused)
    assert len(sleeps) == 2
    assert handler.data_seen == []


def test_a_refused_recipient_does_not_stop_the_others(
    server: SmtpServer, handler: RecordingHandler, backend_for: Callable[..., SmtpBackend]
) -> None:
    handler.refuse_recipients[BOB.email] = "550 5.1.1 <bob@example.org>: user unknown"
    backend = backend_for(server.port)
    with pytest.raises(RecipientRefused) as raised:
        backend.send(MESSAGE, [BOB])
    backend.send(MESSAGE, [CAROL])

    error = raised.value
    assert isinstance(error, BatchFailed)
    assert (error.address, error.code) == (BOB.email, 550)
    assert "user unknown" in str(error)
    assert [r.rcpt_tos for r in handler.accepted] == [[CAROL.email]]
    assert server.connections == 1


@pytest.mark.parametrize(
    "reply",
    [
        "554 5.7.1 <bob@example.org>: Relay access denied",
        "550 Relaying not allowed",
        "530 5.7.0 Authentication required",
    ],
)
def test_a_refusal_every_reader_would_get_stops_the_send_and_refuses_nobody(
    server: SmtpServer,
    handler: RecordingHandler,
    backend_for: Callable[..., SmtpBackend],
    reply: str,
) -> None:
    handler.refuse_recipients[BOB.email] = reply
    with pytest.raises(BatchRefused) as raised:
        backend_for(server.port).send(MESSAGE, [BOB])
    assert not isinstance(raised.value, RecipientRefused)
    assert "the send stops, and nobody is marked refused" in str(raised.value)
    assert handler.accepted == []


def test_a_refused_message_stops_the_send(
    server: SmtpServer,
    handler: RecordingHandler,
    backend_for: Callable[..., SmtpBackend],
    sleeps: Sleeps,
) -> None:
    handler.data_replies = ["554 5.7.1 Message rejected as spam"]
    with pytest.raises(BatchRefused, match="rejected as spam"):
        backend_for(server.port).send(MESSAGE, [ALICE])

    assert handler.accepted == []
    assert sleeps == []


def test_a_server_not_listening_fails_after_backing_off(
    backend_for: Callable[..., SmtpBackend], sleeps: Sleeps
) -> None:
    port = unused_port()
    with pytest.raises(BatchFailed, match=f"127.0.0.1:{port}") as raised:
        backend_for(port, max_retries=3).send(MESSAGE, [ALICE])

    assert "4 attempts" in str(raised.value)
    assert len(sleeps) == 3
    assert all(0 <= delay <= 30 for delay in sleeps)


def test_no_answer_after_the_message_is_uncertain(
    server: SmtpServer,
    handler: RecordingHandler,
    backend_for: Callable[..., SmtpBackend],
    sleeps: Sleeps,
) -> None:
    handler.data_delay = 3.0
    backend = backend_for(server.port, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(BatchUncertain, match=ALICE.email):
        backend.send(MESSAGE, [ALICE])

    assert time.monotonic() - started < 2.5
    assert [r.rcpt_tos for r in handler.data_seen] == [[ALICE.email]]
    assert sleeps == []


def test_an_address_smtp_cannot_carry_is_refused_before_connecting(
    backend_for: Callable[..., SmtpBackend], sleeps: Sleeps
) -> None:
    with pytest.raises(RecipientRefused, match="SMTPUTF8") as raised:
        backend_for(unused_port()).send(MESSAGE, [recipient("jörg@example.com", "Jörg")])

    assert raised.value.address == "jörg@example.com"
    assert sleeps == []


def test_an_unknown_security_mode_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"\[smtp\] security"):
        SmtpBackend(
            host="127.0.0.1",
            port=25,
            security="tls",
            username="",
            password="",
            timeout=1.0,
            from_domain="example.com",
            now=lambda: NOW,
        )


def test_one_recipient_per_call(backend_for: Callable[..., SmtpBackend]) -> None:
    with pytest.raises(ValueError, match="one recipient per call"):
        backend_for(unused_port()).send(MESSAGE, [ALICE, BOB])


def test_a_non_ascii_password_is_refused_before_connecting_without_showing_it(
    backend_for: Callable[..., SmtpBackend],
) -> None:
    with pytest.raises(ConfigError) as refused:
        backend_for(unused_port(), username="me", password="pässwörd-SECRET")
    assert "DIGEST_SMTP_PASSWORD has non-ASCII characters" in str(refused.value)
    assert "SECRET" not in str(refused.value) and "ä" not in str(refused.value)
