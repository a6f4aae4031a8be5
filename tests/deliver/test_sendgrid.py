"""The SendGrid backend against a real local SendGrid server (tests/sendgrid_server.py).

No SDK method is mocked: every request goes through the official SDK and urllib
to a server on 127.0.0.1 that validates it as SendGrid documents. Sleeps are
recorded instead of slept, and the clock is fixed where a wait depends on it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from digest.deliver import Message
from digest.deliver.mail_send import build_body
from digest.deliver.mime import build_message as build_mime
from digest.deliver.sendgrid import RATE_LIMIT_MARGIN, SendGridBackend
from digest.errors import (
    BatchFailed,
    BatchRefused,
    BatchUncertain,
    ConfigError,
    DeliveryError,
    SendRefused,
)
from digest.models import Recipient
from tests.sendgrid_server import SendGridServer, start_server, validate_mail_send

ROOT = Path(__file__).resolve().parents[2]
FROZEN_NOW = 1_800_000_000.0
SENT_AT = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def make_message(**changes: Any) -> Message:
    fields: dict[str, Any] = {
        "subject": "The Weekly Reel: news for %%name%%",
        "html": "<html><body><p>Hello %%name%%</p><a href='%%unsubscribe%%'>Unsubscribe</a>",
        "text": "Hello %%name%%\n\nUnsubscribe: %%unsubscribe%%\n",
        "from_email": "news@blog.example.com",
        "from_name": "The Weekly Reel",
        "reply_to": "editor@blog.example.com",
        "edition": "2026-03-09",
        "categories": ("digest",),
    }
    fields.update(changes)
    return Message(**fields)


def make_recipients(count: int, start: int = 0) -> list[Recipient]:
    return [
        Recipient(
            email=f"reader{n}@example.com",
            name=f"Reader {n}",
            substitutions={
                "%%name%%": f"Reader {n}",
                "%%unsubscribe%%": f"https://blog.example.com/unsubscribe?token=tok{n}",
            },
            headers={
                "List-Unsubscribe": f"<https://blog.example.com/unsubscribe?token=tok{n}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        for n in range(start, start + count)
    ]


class Waits(list[float]):
    """A sleep function that records each wait instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_backend(
    server: SendGridServer,
    *,
    api_key: str | None = None,
    host: str | None = None,
    timeout: float = 5.0,
    max_retries: int = 3,
    clock: Callable[[], float] = time.time,
) -> tuple[SendGridBackend, Waits]:
    waits = Waits()
    backend = SendGridBackend(
        api_key=server.api_key if api_key is None else api_key,
        host=server.url if host is None else host,
        timeout=timeout,
        max_retries=max_retries,
        sleep=waits,
        clock=clock,
        rng=random.Random(1),
    )
    return backend, waits


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- what a batch looks like -------------------------------------------------------------


def test_a_1000_recipient_batch_is_accepted_and_valid(sendgrid_server: SendGridServer) -> None:
    backend, waits = make_backend(sendgrid_server)
    recipients = make_recipients(1000)

    message_id = backend.send(make_message(), recipients)

    [request] = sendgrid_server.requests
    assert message_id == request.message_id != ""
    assert sendgrid_server.accepted_recipients() == [r.email for r in recipients]
    assert validate_mail_send(request.body, full=True) == []
    assert len(request.body["personalizations"]) == 1000
    assert request.body["personalizations"][7] == {
        "to": [{"email": "reader7@example.com", "name": "Reader 7"}],
        "substitutions": {
            "%%name%%": "Reader 7",
            "%%unsubscribe%%": "https://blog.example.com/unsubscribe?token=tok7",
        },
        "headers": {"List-Unsubscribe": "<https://blog.example.com/unsubscribe?token=tok7>"},
    }
    # Shared by every recipient, so sent once; SendGrid merges it into each personalization.
    assert request.body["headers"] == {
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": '"The Weekly Reel" <the-weekly-reel.blog.example.com>',
    }
    assert request.headers["Authorization"] == f"Bearer {sendgrid_server.api_key}"
    assert request.headers["User-Agent"].startswith("sendgrid/")
    assert waits == []


def test_only_headers_every_recipient_shares_go_to_the_top_level() -> None:
    recipients = make_recipients(3)
    recipients[1].headers = {**recipients[1].headers, "X-Campaign": "b"}
    recipients[2].headers = {"List-Unsubscribe": "<mailto:u@example.com>"}

    mixed = build_body(make_message(), recipients)
    alike = build_body(make_message(), recipients[:2])
    alone = build_body(make_message(), recipients[:1])

    list_id = {"List-Id": '"The Weekly Reel" <the-weekly-reel.blog.example.com>'}
    assert mixed["headers"] == list_id  # the third recipient has no List-Unsubscribe-Post
    assert mixed["personalizations"][1]["headers"]["X-Campaign"] == "b"
    assert mixed["personalizations"][2]["headers"] == recipients[2].headers
    assert alike["headers"] == {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click", **list_id}
    assert alike["personalizations"][1]["headers"] == {
        "List-Unsubscribe": "<https://blog.example.com/unsubscribe?token=tok1>",
        "X-Campaign": "b",
    }
    assert alone["headers"] == list_id
    assert alone["personalizations"][0]["headers"] == recipients[0].headers


@pytest.mark.parametrize(
    ("from_name", "from_email"),
    [
        ("The Weekly Reel", "news@blog.example.com"),
        ('Zoë\'s "Weekly", Reel', "news@bücher.example"),
        ("", "news@blog.example.com"),
    ],
)
def test_every_request_carries_the_list_id_the_smtp_and_outbox_messages_carry(
    sendgrid_server: SendGridServer, from_name: str, from_email: str
) -> None:
    backend, _ = make_backend(sendgrid_server)
    message = make_message(from_name=from_name, from_email=from_email)

    backend.send(message, make_recipients(1))
    backend.send(message, make_recipients(3, start=1))

    mime = build_mime(message, make_recipients(1)[0], now=SENT_AT, message_id_domain="")
    for request in sendgrid_server.requests:
        assert validate_mail_send(request.body, full=True) == []
        assert request.body["headers"]["List-Id"] == mime["List-Id"]
        assert request.body["headers"]["List-Id"].isascii()


def test_the_body_carries_the_message_and_its_settings(sendgrid_server: SendGridServer) -> None:
    backend, _ = make_backend(sendgrid_server)
    message = make_message(categories=("digest", "weekly", "digest"), asm_group_id=4242)

    backend.send(message, make_recipients(2))

    body = sendgrid_server.requests[0].body
    assert body["from"] == {"email": "news@blog.example.com", "name": "The Weekly Reel"}
    assert body["reply_to"] == {"email": "editor@blog.example.com"}
    assert body["subject"] == "The Weekly Reel: news for %%name%%"
    assert [part["type"] for part in body["content"]] == ["text/plain", "text/html"]
    assert body["content"][0]["value"] == message.text
    assert body["content"][1]["value"] == message.html
    assert body["categories"] == ["digest", "weekly"]
    assert body["custom_args"] == {"edition": "2026-03-09"}
    assert body["asm"] == {"group_id": 4242}
    assert "mail_settings" not in body


def test_sandbox_mode_is_set_and_answered_200_without_an_id(
    sendgrid_server: SendGridServer,
) -> None:
    backend, _ = make_backend(sendgrid_server)

    message_id = backend.send(make_message(sandbox=True), make_recipients(3))

    [request] = sendgrid_server.requests
    assert request.body["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert request.sandbox
    assert message_id == ""


def test_optional_parts_are_left_out_when_unset(sendgrid_server: SendGridServer) -> None:
    backend, _ = make_backend(sendgrid_server)
    message = make_message(from_name="", reply_to="", edition="", categories=(), text="")

    backend.send(message, [Recipient(email="plain@example.com")])

    body = sendgrid_server.requests[0].body
    assert body["personalizations"] == [{"to": [{"email": "plain@example.com"}]}]
    assert body["from"] == {"email": "news@blog.example.com"}
    assert [part["type"] for part in body["content"]] == ["text/html"]
    assert not {"reply_to", "categories", "custom_args", "asm"} & body.keys()


def test_commas_and_semicolons_leave_names_since_sendgrid_refuses_them(
    sendgrid_server: SendGridServer,
) -> None:
    backend, _ = make_backend(sendgrid_server)

    backend.send(make_message(), [Recipient(email="j@example.com", name="Smith, John; Jr.")])

    to = sendgrid_server.requests[0].body["personalizations"][0]["to"]
    assert to == [{"email": "j@example.com", "name": "Smith John Jr."}]


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("Ada Lovelace", "Ada Lovelace"),
        (" Ada  Lovelace ", "Ada Lovelace"),
        ("Ada\tLovelace\n", "Ada Lovelace"),
        ("Ada\u00a0Lovelace", "Ada Lovelace"),  # a no-break space is whitespace too
        ("Ada\u200bLovelace", "Ada\u200bLovelace"),  # a zero-width space is not
        ("Zoë, ;", "Zoë"),
        (" ,; ", None),
    ],
)
def test_names_go_on_one_line_with_single_spaces(written: str, sent: str | None) -> None:
    body = build_body(make_message(), [Recipient(email="a@example.com", name=written)])

    [address] = body["personalizations"][0]["to"]
    assert address.get("name") == sent


# -- batches the backend refuses before sending ---------------------------------------------


def test_an_address_twice_in_a_batch_is_refused_before_sending(
    sendgrid_server: SendGridServer,
) -> None:
    backend, _ = make_backend(sendgrid_server)
    recipients = [*make_recipients(3), Recipient(email="READER1@example.com")]

    with pytest.raises(DeliveryError, match=re.escape("READER1@example.com")):
        backend.send(make_message(), recipients)
    assert sendgrid_server.received == 0


def test_substitutions_over_10000_bytes_are_refused_naming_the_address(
    sendgrid_server: SendGridServer,
) -> None:
    backend, _ = make_backend(sendgrid_server)
    big = Recipient(email="long@example.com", substitutions={"%%bio%%": "é" * 5000})

    with pytest.raises(DeliveryError, match=re.escape("long@example.com")):
        backend.send(make_message(), [*make_recipients(2), big])
    assert sendgrid_server.received == 0


def test_more_than_ten_categories_is_a_config_error() -> None:
    categories = tuple(f"c{n}" for n in range(11))
    with pytest.raises(ConfigError, match=r"\[sendgrid\] categories"):
        build_body(make_message(categories=categories), make_recipients(1))


def test_a_batch_over_1000_is_refused() -> None:
    with pytest.raises(DeliveryError, match="1001"):
        build_body(make_message(), make_recipients(1001))


def test_no_api_key_refuses_to_start() -> None:
    with pytest.raises(SendRefused, match="SENDGRID_API_KEY"):
        SendGridBackend(api_key="", host="http://127.0.0.1:9", timeout=1, max_retries=1)


# -- the server enforces SendGrid's documented rules -------------------------------------------


@pytest.fixture(params=["full", "fast"])
def any_server(request: pytest.FixtureRequest) -> Iterator[SendGridServer]:
    """The server with JSON Schema validation, and in --fast mode (hand checks only)."""
    server, _ = start_server(api_key="k", full_validation=request.param == "full")
    yield server
    server.stop()


def post(url: str, api_key: str, body: Any, **headers: str) -> tuple[int, Any]:
    """POST a hand-made body, as SendGrid's SDK would; return the status and JSON answer."""
    sent = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json", **headers}
    request = urllib.request.Request(
        f"{url}/v3/mail/send", data=json.dumps(body).encode(), headers=sent
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def valid_body(count: int = 3) -> dict[str, Any]:
    return build_body(make_message(), make_recipients(count))


def add_1001st(body: dict[str, Any]) -> None:
    body["personalizations"].append({"to": [{"email": "one-too-many@example.com"}]})


def cc_everyone(body: dict[str, Any]) -> None:
    for n, personalization in enumerate(body["personalizations"]):
        personalization["cc"] = [{"email": f"copy{n}@example.com"}]


def duplicate_in_other_case(body: dict[str, Any]) -> None:
    body["personalizations"][5]["to"][0]["email"] = "READER0@Example.com"


def big_substitutions(body: dict[str, Any]) -> None:
    body["personalizations"][0]["substitutions"] = {
        "%%bio%%": "x" * 9994
    }  # 7 + 9994 = 10,001 bytes


def html_first(body: dict[str, Any]) -> None:
    body["content"].reverse()


def set_in(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change that sets one dotted path of the body."""

    def change(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value

    return change


def drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda body: body.pop(key)


REJECTED = {
    "1001 personalizations": (1000, add_1001st, "personalizations"),
    "over 1000 recipients with cc": (600, cc_everyone, "total number of recipients"),
    "an address twice": (10, duplicate_in_other_case, "personalizations.5.to.0.email"),
    "substitutions over 10000 bytes": (3, big_substitutions, "personalizations.0.substitutions"),
    "text/html before text/plain": (3, html_first, "text/plain content must be first"),
    "an empty content value": (3, set_in("content.0.value", ""), "content.0.value"),
    "no subject": (3, drop("subject"), "subject"),
    "no from": (3, drop("from"), "from"),
    "11 categories": (3, set_in("categories", [f"c{n}" for n in range(11)]), "categories"),
    "a repeated category": (3, set_in("categories", ["a", "a"]), "categories"),
    "a 256-character category": (3, set_in("categories", ["x" * 256]), "categories"),
    "a reserved header": (3, set_in("personalizations.0.headers.Subject", "hi"), "Subject"),
    "a number as header value": (3, set_in("personalizations.1.headers.X-N", 5), "X-N"),
    "a string asm group": (3, set_in("asm", {"group_id": "7"}), "asm.group_id"),
    "a comma in a name": (3, set_in("personalizations.0.to.0.name", "Doe, J"), "to.0.name"),
    "custom args of 10000 bytes": (
        3,
        set_in("personalizations.0.custom_args", {"k": "v" * 9999}),
        "personalizations.0.custom_args",
    ),
    "a number as substitution": (3, set_in("personalizations.0.substitutions.%%n%%", 1), "%%n%%"),
    "an empty to": (3, set_in("personalizations.0.to", []), "personalizations.0.to"),
    "no personalizations": (3, set_in("personalizations", []), "personalizations"),
}


@pytest.mark.parametrize("case", REJECTED)
def test_the_server_rejects_what_sendgrid_rejects(any_server: SendGridServer, case: str) -> None:
    size, change, expected = REJECTED[case]
    body = valid_body(size)
    assert post(any_server.url, any_server.api_key, body) == (
        202,
        None,
    )  # the unchanged body passes

    change(body)
    status, answer = post(any_server.url, any_server.api_key, body)

    assert status == 400
    said = [f"{e['field']} {e['message']}" for e in answer["errors"]]
    assert any(expected in line for line in said), said
    assert len(any_server.requests) == 1  # only the valid one was recorded


def test_the_server_wants_the_right_key_and_json(sendgrid_server: SendGridServer) -> None:
    url, body = sendgrid_server.url, valid_body()

    assert post(url, "SG.another-key", body)[0] == 401
    assert post(url, sendgrid_server.api_key, body, Authorization="")[0] == 401
    assert post(url, sendgrid_server.api_key, body, **{"Content-Type": "text/plain"})[0] == 400
    assert sendgrid_server.requests == []


def test_reset_forgets_requests_and_faults(sendgrid_server: SendGridServer) -> None:
    backend, waits = make_backend(sendgrid_server)
    backend.send(make_message(), make_recipients(2))
    sendgrid_server.fail_next(500)
    sendgrid_server.rate_limit_every(1)

    sendgrid_server.reset()
    backend.send(make_message(), make_recipients(1, start=5))

    assert sendgrid_server.accepted_recipients() == ["reader5@example.com"]
    assert sendgrid_server.received == 1
    assert waits == []


def test_accepted_addresses_can_be_read_over_http(sendgrid_server: SendGridServer) -> None:
    backend, _ = make_backend(sendgrid_server)
    backend.send(make_message(), make_recipients(3))

    with urllib.request.urlopen(f"{sendgrid_server.url}/_test/accepted", timeout=5) as answer:
        assert json.load(answer) == [f"reader{n}@example.com" for n in range(3)]


# -- faults ---------------------------------------------------------------------------------


def test_429_waits_until_the_reset_then_sends_once(sendgrid_server: SendGridServer) -> None:
    backend, waits = make_backend(sendgrid_server, clock=lambda: FROZEN_NOW)
    sendgrid_server.fail_next(429, reset_at=FROZEN_NOW + 3)

    backend.send(make_message(), make_recipients(5))

    assert waits == [pytest.approx(3 + RATE_LIMIT_MARGIN)]
    assert sendgrid_server.received == 2
    assert sendgrid_server.accepted_recipients() == [f"reader{n}@example.com" for n in range(5)]


def test_429_with_a_reset_an_hour_away_fails_the_batch_at_once(
    sendgrid_server: SendGridServer,
) -> None:
    backend, waits = make_backend(sendgrid_server, clock=lambda: FROZEN_NOW)
    sendgrid_server.fail_next(429, reset_at=FROZEN_NOW + 3600)

    with pytest.raises(BatchFailed) as caught:
        backend.send(make_message(), make_recipients(1))

    assert waits == [], "no retry before the reset"
    assert "3600 s, is longer than the 600 s a run waits" in str(caught.value)
    assert sendgrid_server.accepted_recipients() == []


def test_429_without_a_reset_header_backs_off(sendgrid_server: SendGridServer) -> None:
    backend, waits = make_backend(sendgrid_server)
    sendgrid_server.fail_next(429)

    backend.send(make_message(), make_recipients(1))

    assert len(waits) == 1
    assert 0.0 <= waits[0] <= 1.0  # the first backoff: full jitter under the base delay
    assert len(sendgrid_server.requests) == 1


def test_5xx_is_retried_with_backoff_then_sent_once(sendgrid_server: SendGridServer) -> None:
    backend, waits = make_backend(sendgrid_server, max_retries=3)
    sendgrid_server.fail_next(500)
    sendgrid_server.fail_next(503)

    backend.send(make_message(), make_recipients(4))

    assert len(waits) == 2
    assert 0.0 <= waits[0] <= 1.0
    assert 0.0 <= waits[1] <= 2.0
    assert sendgrid_server.received == 3
    assert len(sendgrid_server.requests) == 1


def test_5xx_forever_fails_the_batch_after_max_retries(sendgrid_server: SendGridServer) -> None:
    backend, waits = make_backend(sendgrid_server, max_retries=3)
    for _ in range(4):
        sendgrid_server.fail_next(500)

    with pytest.raises(BatchFailed, match="HTTP 500: internal server error") as caught:
        backend.send(make_message(), make_recipients(4))

    assert "4 attempts" in str(caught.value)
    assert len(waits) == 3
    assert sendgrid_server.received == 4
    assert sendgrid_server.accepted_recipients() == []


def test_a_refused_connection_is_retried_then_fails(sendgrid_server: SendGridServer) -> None:
    backend, waits = make_backend(sendgrid_server, host=closed_port_url(), max_retries=2)

    with pytest.raises(BatchFailed, match="cannot reach SendGrid") as caught:
        backend.send(make_message(), make_recipients(2))

    assert "Connection refused" in str(caught.value)
    assert len(waits) == 2


class UntrustedTls:
    """A TLS listener on 127.0.0.1 with a self-signed certificate (tests/data/tls), which
    no client verifies; it counts the handshakes it is offered."""

    def __init__(self) -> None:
        tls = ROOT / "tests" / "data" / "tls"
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(tls / "self-signed.crt", tls / "self-signed.key")
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self._listener.getsockname()[1]}"
        self.handshakes = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.handshakes += 1
            with contextlib.suppress(OSError), connection:
                self._context.wrap_socket(connection, server_side=True).close()

    def close(self) -> None:
        self._listener.close()


def test_a_certificate_that_cannot_be_verified_fails_at_once(
    sendgrid_server: SendGridServer,
) -> None:
    untrusted = UntrustedTls()
    try:
        backend, waits = make_backend(sendgrid_server, host=untrusted.url, max_retries=3)
        with pytest.raises(BatchFailed, match="cannot reach SendGrid") as caught:
            backend.send(make_message(), make_recipients(2))
    finally:
        untrusted.close()

    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert waits == [], "retrying cannot make a certificate trusted"
    assert untrusted.handshakes == 1


def test_no_answer_within_the_timeout_is_uncertain_and_not_retried(
    sendgrid_server: SendGridServer,
) -> None:
    backend, waits = make_backend(sendgrid_server, timeout=0.5)
    sendgrid_server.hang_next(10)
    started = time.monotonic()

    with pytest.raises(BatchUncertain, match=r"no answer within 0.5 s"):
        backend.send(make_message(), make_recipients(3))

    assert 0.4 < time.monotonic() - started < 5
    assert waits == []
    assert sendgrid_server.received == 1
    # ...and SendGrid did take it: exactly why the batch is uncertain, not failed.
    assert sendgrid_server.accepted_recipients() == [f"reader{n}@example.com" for n in range(3)]


def test_a_dropped_connection_is_uncertain_and_not_retried(
    sendgrid_server: SendGridServer,
) -> None:
    backend, waits = make_backend(sendgrid_server)
    sendgrid_server.drop_next()

    with pytest.raises(BatchUncertain, match="connection broke"):
        backend.send(make_message(), make_recipients(3))

    assert waits == []
    assert sendgrid_server.received == 1
    assert sendgrid_server.requests == []


def test_a_slow_answer_within_the_timeout_is_accepted(sendgrid_server: SendGridServer) -> None:
    backend, waits = make_backend(sendgrid_server, timeout=2.0)
    sendgrid_server.slow_next(0.3)

    message_id = backend.send(make_message(), make_recipients(2))

    assert message_id == sendgrid_server.requests[0].message_id
    assert waits == []


def test_a_400_is_refused_with_sendgrids_message(sendgrid_server: SendGridServer) -> None:
    backend, waits = make_backend(sendgrid_server)
    sendgrid_server.refuse_with(
        400, "The from address does not match a verified Sender Identity.", "from"
    )

    with pytest.raises(BatchRefused) as caught:
        backend.send(make_message(), make_recipients(2))

    text = str(caught.value)
    assert "HTTP 400" in text
    assert "from: The from address does not match a verified Sender Identity." in text
    assert caught.value.details == (
        "from: The from address does not match a verified Sender Identity.",
    )
    assert waits == []
    assert sendgrid_server.received == 1


def test_a_real_validation_error_reaches_the_user(sendgrid_server: SendGridServer) -> None:
    backend, _ = make_backend(sendgrid_server)
    message = make_message(asm_group_id=7, reply_to="not-an-address")

    with pytest.raises(BatchRefused, match=re.escape("reply_to.email")):
        backend.send(message, make_recipients(1))


def test_a_wrong_key_is_refused_without_showing_it(sendgrid_server: SendGridServer) -> None:
    wrong_key = "SG.wrong-secret-0123456789abcdef"
    backend, waits = make_backend(sendgrid_server, api_key=wrong_key)

    with pytest.raises(BatchRefused) as caught:
        backend.send(make_message(), make_recipients(2))

    error = caught.value
    assert "refused the API key" in str(error)
    assert "HTTP 401" in str(error)
    everything = "".join(
        [str(error), repr(error), *error.details, *traceback.format_exception(error)]
    )
    assert wrong_key not in everything
    assert wrong_key not in repr(backend)
    assert waits == []


def test_a_403_names_the_key_and_sendgrids_reason(sendgrid_server: SendGridServer) -> None:
    backend, _ = make_backend(sendgrid_server)
    sendgrid_server.refuse_with(403, "access forbidden")

    with pytest.raises(BatchRefused, match=r"API key.*HTTP 403: access forbidden"):
        backend.send(make_message(), make_recipients(1))


def test_debug_logging_never_shows_the_key(
    sendgrid_server: SendGridServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    backend, _ = make_backend(sendgrid_server)
    sendgrid_server.fail_next(500)

    backend.send(make_message(), make_recipients(2))

    assert "retrying in" in caplog.text  # the retry is logged...
    assert sendgrid_server.api_key not in caplog.text  # ...the key is not


# -- threads ---------------------------------------------------------------------------------


def test_four_threads_send_different_batches_at_once(sendgrid_server: SendGridServer) -> None:
    backend, waits = make_backend(sendgrid_server)
    batches = [make_recipients(250, start=250 * n) for n in range(4)]
    for _ in batches:
        sendgrid_server.slow_next(0.2)  # keep the requests in flight together

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(lambda batch: backend.send(make_message(), batch), batches))

    requests = sendgrid_server.requests
    assert sorted(ids) == sorted(r.message_id for r in requests)
    assert sorted(tuple(r.recipients) for r in requests) == sorted(
        tuple(x.email for x in batch) for batch in batches
    )
    assert all(r.headers["Authorization"] == f"Bearer {sendgrid_server.api_key}" for r in requests)
    assert waits == []


def test_threads_under_rate_limits_deliver_each_address_once(
    sendgrid_server: SendGridServer,
) -> None:
    backend, waits = make_backend(sendgrid_server)
    sendgrid_server.rate_limit_every(3, reset_in=1)
    batches = [make_recipients(50, start=50 * n) for n in range(8)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda batch: backend.send(make_message(), batch), batches))

    accepted = sendgrid_server.accepted_recipients()
    assert sorted(accepted) == sorted(r.email for batch in batches for r in batch)
    assert len(waits) == sendgrid_server.received - 8 > 0


# -- the server as another process ---------------------------------------------------------


def test_faults_can_be_queued_over_http(sendgrid_server: SendGridServer) -> None:
    backend, waits = make_backend(sendgrid_server)
    script = json.dumps([{"kind": "fail", "status": 500}, {"kind": "slow", "seconds": 0.1}])
    request = urllib.request.Request(
        f"{sendgrid_server.url}/_test/faults", data=script.encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert json.load(answer) == {"queued": 2}

    backend.send(make_message(), make_recipients(2))

    assert len(waits) == 1
    assert sendgrid_server.received == 2
    assert len(sendgrid_server.requests) == 1


@pytest.mark.slow
def test_the_server_runs_as_a_process_and_reports_what_it_accepted() -> None:
    command = [sys.executable, "-m", "tests.sendgrid_server", "--port", "0", "--api-key", "pk"]
    process = subprocess.Popen([*command, "--fast"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        backend = SendGridBackend(api_key="pk", host=url, timeout=5, max_retries=0)

        backend.send(make_message(), make_recipients(1000))
        # --fast skips the JSON Schema, not the hand-written limits
        body = valid_body(10)
        duplicate_in_other_case(body)
        assert post(url, "pk", body)[0] == 400

        with urllib.request.urlopen(f"{url}/_test/accepted", timeout=5) as answer:
            assert json.load(answer) == [f"reader{n}@example.com" for n in range(1000)]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_sdk_is_loaded_by_prepare_not_by_importing_the_backend() -> None:
    # `digest send` builds the backend, forks the child that reads the list, and only then
    # prepares the backend: importing the SDK and the standard library's HTTP client at
    # module level would delay that fork by 0.15 s.
    script = (
        "import sys\n"
        "from digest.deliver.sendgrid import SendGridBackend\n"
        "backend = SendGridBackend(api_key='SG.k', host='http://127.0.0.1:9', timeout=1,"
        " max_retries=0)\n"
        "print('sendgrid' in sys.modules, 'http.client' in sys.modules)\n"
        "backend.prepare()\n"
        "print('sendgrid' in sys.modules, 'http.client' in sys.modules)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert ran.stdout.split() == ["False", "False", "True", "True"]
