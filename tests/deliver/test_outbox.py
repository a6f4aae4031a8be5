"""OutboxBackend: one .eml per recipient, stable names, overwritten on rerun, written atomically."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.deliver import Message
from digest.deliver.outbox import OutboxBackend
from digest.errors import BatchFailed
from digest.models import Recipient, token

START = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
MESSAGE = Message(
    subject=f"Digest for {token('name')}",
    html=f"<p>Hi {token('name')}</p>",
    text=f"Hi {token('name')}\n",
    from_email="news@example.com",
    from_name="Example",
    edition="2026-03-09",
)


def person(address: str, name: str) -> Recipient:
    return Recipient(email=address, name=name, substitutions={token("name"): name})


AUDIENCE = [
    person("carol@example.net", "Carol"),
    person("alice@example.com", "Alice"),
    person("bob@example.org", "Bob"),
]


class Clock:
    """A clock that moves a minute every time it is read."""

    def __init__(self) -> None:
        self.readings: Iterator[datetime] = (START + timedelta(minutes=n) for n in range(10**6))

    def __call__(self) -> datetime:
        return next(self.readings)


def parse(path: Path) -> EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.fixture
def outbox(tmp_path: Path) -> OutboxBackend:
    return OutboxBackend(tmp_path / "outbox", now=Clock(), message_id_domain="example.com")


def test_one_file_per_recipient_named_by_address(outbox: OutboxBackend) -> None:
    batch_id = outbox.send(MESSAGE, AUDIENCE)

    folder = outbox.directory / "2026-03-09"
    assert batch_id == "outbox:2026-03-09:3"
    assert sorted(path.name for path in folder.iterdir()) == [
        "alice@example.com.eml",
        "bob@example.org.eml",
        "carol@example.net.eml",
    ]
    for recipient in AUDIENCE:
        message = parse(folder / f"{recipient.email}.eml")
        assert message["To"] == f"{recipient.name} <{recipient.email}>"
        assert message["Subject"] == f"Digest for {recipient.name}"
        body = message.get_body(("plain",))
        assert body is not None
        assert body.get_content().replace("\r\n", "\n") == f"Hi {recipient.name}\n"


def test_a_rerun_overwrites_instead_of_adding(outbox: OutboxBackend) -> None:
    outbox.send(MESSAGE, AUDIENCE)
    first = parse(outbox.directory / "2026-03-09" / "alice@example.com.eml")
    outbox.send(MESSAGE, [person("Alice@Example.com", "Alice"), *AUDIENCE[2:]])

    folder = outbox.directory / "2026-03-09"
    assert len(list(folder.iterdir())) == 3
    second = parse(folder / "alice@example.com.eml")
    assert second["Date"].datetime > first["Date"].datetime
    assert second["Message-ID"] == first["Message-ID"]


def test_no_temporary_files_are_left_even_when_a_write_fails(outbox: OutboxBackend) -> None:
    folder = outbox.directory / "2026-03-09"
    (folder / "bob@example.org.eml").mkdir(parents=True)

    with pytest.raises(BatchFailed, match=r"cannot write the outbox in .*2026-03-09"):
        outbox.send(MESSAGE, AUDIENCE)

    assert sorted(path.name for path in folder.iterdir()) == [
        "alice@example.com.eml",
        "bob@example.org.eml",
        "carol@example.net.eml",
    ]
    assert (folder / "bob@example.org.eml").is_dir()


def test_unsafe_addresses_get_distinct_safe_names(outbox: OutboxBackend) -> None:
    odd = [person("a/b@example.com", "One"), person("a_b@example.com", "Two")]
    outbox.send(MESSAGE, odd)

    names = sorted(path.name for path in (outbox.directory / "2026-03-09").iterdir())
    assert len(names) == 2
    assert all("/" not in name and name.endswith(".eml") for name in names)
    assert "a_b@example.com.eml" in names


def test_a_message_without_an_edition_gets_its_own_folder(outbox: OutboxBackend) -> None:
    batch_id = outbox.send(
        Message(subject="s", html="<p>h</p>", text="t", from_email="a@x.org"), AUDIENCE[:1]
    )

    assert batch_id == "outbox::1"
    assert [path.name for path in (outbox.directory / "no-edition").iterdir()] == [
        "carol@example.net.eml"
    ]


def test_an_outbox_that_is_a_file_fails_the_batch_in_one_clear_line(tmp_path: Path) -> None:
    blocked = OutboxBackend(tmp_path / "outbox", now=Clock(), message_id_domain="example.com")
    (tmp_path / "outbox").write_text("not a folder")
    with pytest.raises(BatchFailed) as failed:
        blocked.send(MESSAGE, AUDIENCE)
    assert "cannot write the outbox" in str(failed.value)
    assert failed.value.hint == "set delivery.outbox to a folder you can write"
