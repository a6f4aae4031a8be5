"""International domains reach SendGrid in their ASCII (IDNA 2008) form, as SMTP and the
outbox write them: SendGrid has refused Unicode addresses, and one refusal stops a send."""

from __future__ import annotations

import random
from typing import Any

import pytest

from digest.deliver import Message
from digest.deliver.mail_send import build_body
from digest.deliver.sendgrid import SendGridBackend
from digest.errors import DeliveryError
from digest.models import Recipient
from tests.sendgrid_server import SendGridServer


def message(**changes: Any) -> Message:
    fields: dict[str, Any] = {
        "subject": "News for %%name%%",
        "html": "<p>Hello %%name%%</p>",
        "text": "Hello %%name%%\n",
        "from_email": "news@bücher.example",
        "from_name": "Bücher News",
        "reply_to": "editor@straße.example",
        "edition": "2026-03-09",
    }
    fields.update(changes)
    return Message(**fields)


def reader(email: str, name: str = "Reader") -> Recipient:
    return Recipient(email=email, name=name, substitutions={"%%name%%": name})


def test_unicode_domains_reach_sendgrid_in_ascii(sendgrid_server: SendGridServer) -> None:
    backend = SendGridBackend(
        api_key=sendgrid_server.api_key,
        host=sendgrid_server.url,
        timeout=5,
        max_retries=0,
        rng=random.Random(1),
    )
    readers = [reader("user@bücher.example", "Jürgen"), reader("plain@example.com")]
    backend.send(message(), readers)

    (request,) = sendgrid_server.requests
    assert request.recipients == ["user@xn--bcher-kva.example", "plain@example.com"]
    assert request.body["personalizations"][0]["to"] == [
        {"email": "user@xn--bcher-kva.example", "name": "Jürgen"}
    ]
    # IDNA 2008: straße keeps its ß (xn--strae-oqa), where IDNA 2003 would mail strasse.
    assert request.body["from"] == {"email": "news@xn--bcher-kva.example", "name": "Bücher News"}
    assert request.body["reply_to"] == {"email": "editor@xn--strae-oqa.example"}
    # The recipient as the ledger and history know it is unchanged.
    assert readers[0].email == "user@bücher.example"


def test_one_address_in_both_forms_is_still_once_per_request() -> None:
    readers = [reader("user@bücher.example"), reader("user@xn--bcher-kva.example")]
    with pytest.raises(DeliveryError, match="appears twice in one SendGrid batch"):
        build_body(message(), readers)


def test_a_domain_that_is_no_international_name_is_named() -> None:
    with pytest.raises(DeliveryError, match=r"user@a\.\u2603\u0301x\.example: the domain is not"):
        build_body(message(), [reader("user@a.\u2603\u0301x.example")])
