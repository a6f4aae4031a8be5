"""Readers' values are text where they land, and only templates place them: end to end.

Hostile names (tests/data/escape/subscribers.csv) and a feed that plants tokens and
SendGrid tags in every field (tests/data/escape/planted-tokens.xml) go through every
way an email leaves digest: `build`, a dry run's outbox, SMTP and SendGrid (whose
stand-in assembles each recipient's message from the request as SendGrid does).
"""

from __future__ import annotations

import csv
import email
import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from digest.audience.tokens import UnsubscribeTokens
from tests.commands.conftest import API_KEY, NOW, Folder
from tests.deliver.smtp_server import RecordingHandler, running
from tests.render.helpers import Page
from tests.sendgrid_server import Delivered, SendGridServer

DATA = Path(__file__).resolve().parents[1] / "data" / "escape"
SECRET = "unsubscribe-secret-for-escape-tests"
EDITION = "2026-11-27"
BACKENDS = ("build", "outbox", "smtp", "sendgrid")
Deliver = Callable[[Folder], list[Delivered]]


def readers(path: Path) -> dict[str, dict[str, str]]:
    """The active rows of a subscribers file, by address."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle)
        return {row["email"]: row for row in rows if (row["status"] or "active") == "active"}


def as_text(value: str) -> str:
    """A reader's value as the subject and text part show it: SendGrid tags made inert."""
    return value.replace("<%", "<\u2060%")


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def from_message(to: str, message: EmailMessage) -> Delivered:
    """What ``to`` got, its To header naming no one else, whatever the name beside it."""

    def body(subtype: str) -> str:
        part = message.get_body((subtype,))
        assert part is not None
        return str(part.get_content()).replace("\r\n", "\n")

    assert [address.addr_spec for address in message["To"].addresses] == [to]
    return Delivered(to, str(message["Subject"]), body("plain"), body("html"))


def via_build(folder: Folder) -> list[Delivered]:
    result = folder.run("build", "--now", NOW)
    assert result.exit_code == 0, result.output
    out = folder.path / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    built = from_message(manifest["rendered_for"], parsed((out / "digest.eml").read_bytes()))
    html, text = (
        (out / name).read_text(encoding="utf-8") for name in ("digest.html", "digest.txt")
    )
    assert manifest["subject"] == built.subject
    return [Delivered(built.to, built.subject, text, html)]


def via_outbox(folder: Folder) -> list[Delivered]:
    result = folder.run("send", "--dry-run", "--now", NOW)
    assert result.exit_code == 0, result.output
    files = sorted((folder.path / "outbox" / EDITION).glob("*.eml"))
    return [from_message(path.stem, parsed(path.read_bytes())) for path in files]


def via_smtp(folder: Folder) -> list[Delivered]:
    handler = RecordingHandler()
    with running(handler) as server:
        folder.env.update(
            DIGEST_DELIVERY_BACKEND="smtp",
            DIGEST_SMTP_HOST="127.0.0.1",
            DIGEST_SMTP_PORT=str(server.port),
            DIGEST_SMTP_SECURITY="none",
            DIGEST_SMTP_TIMEOUT="5",
        )
        result = folder.run("send", "--yes", "--now", NOW)
    assert result.exit_code == 0, result.output
    return [from_message(mail.rcpt_tos[0], mail.message) for mail in handler.accepted]


def sendgrid(server: SendGridServer) -> Deliver:
    def via_sendgrid(folder: Folder) -> list[Delivered]:
        folder.env.update(SENDGRID_API_KEY=API_KEY, DIGEST_SENDGRID_HOST=server.url)
        result = folder.run("send", "--yes", "--now", NOW)
        assert result.exit_code == 0, result.output
        return [mail for request in server.requests for mail in request.delivered()]

    return via_sendgrid


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def deliver(backend: str, server: SendGridServer) -> Deliver:
    """Each way an email leaves digest, as what each recipient gets."""
    if backend == "sendgrid":
        return sendgrid(server)
    return {"build": via_build, "outbox": via_outbox, "smtp": via_smtp}[backend]


@pytest.fixture
def hostile(folder: Folder) -> Folder:
    """The example with the hostile list, the reader's name in the subject too."""
    (folder.path / "subscribers.csv").write_bytes((DATA / "subscribers.csv").read_bytes())
    folder.env.update(
        DIGEST_UNSUBSCRIBE_SECRET=SECRET,
        DIGEST_NEWSLETTER_SUBJECT="News for {{ subscriber.name }}",
    )
    return folder


def test_hostile_names_reach_each_reader_as_text(hostile: Folder, deliver: Deliver) -> None:
    """Names in the subject, first names (a column of the list) in the greeting."""
    rows = readers(DATA / "subscribers.csv")

    mails = deliver(hostile)

    assert {mail.to for mail in mails} <= set(rows) and mails
    for mail in mails:
        page, name, first = Page(mail.html), rows[mail.to]["name"], rows[mail.to]["first_name"]
        assert not page.all("form") and not page.all("input"), mail.to
        assert not [href for href in page.hrefs() if not href.startswith("https://")], mail.to
        assert f"Hi {first}, here is what's new." in page.text
        assert f"Hi {as_text(first)}, here is what's new." in mail.text
        assert mail.subject == f"News for {as_text(name)}"


def test_the_outbox_and_sendgrid_give_each_reader_the_same_email(
    hostile: Folder, server: SendGridServer
) -> None:
    outbox = {mail.to: mail for mail in via_outbox(hostile)}
    sent = {mail.to: mail for mail in sendgrid(server)(hostile)}

    assert sorted(sent) == sorted(outbox) == sorted(readers(DATA / "subscribers.csv"))
    for address, mail in sent.items():
        # A MIME text part ends with a line end, which the outbox's has gained.
        assert replace(mail, html=mail.html + "\n") == outbox[address]


@pytest.fixture
def planted(folder: Folder) -> Folder:
    """The example list with the planted feed, and templates that show every post field."""
    (folder.path / "feed.xml").write_bytes((DATA / "planted-tokens.xml").read_bytes())
    featured = folder.path / "templates" / "partials" / "featured.mjml.j2"
    shown = (
        "        <mj-text>By {{ featured.author }}: {{ featured.summary }}</mj-text>\n"
        "        <mj-text>{{ featured.content | safe }}</mj-text>\n"
        "      </mj-column>"
    )
    featured.write_text(featured.read_text().replace("      </mj-column>", shown))
    text = folder.path / "templates" / "digest.txt.j2"
    text.write_text(
        text.read_text().replace(
            "Read more:", "By {{ featured.author }}: {{ featured.summary }}\n\nRead more:"
        )
    )
    folder.env["DIGEST_UNSUBSCRIBE_SECRET"] = SECRET
    return folder


def test_tokens_planted_in_a_feed_fill_in_no_readers_value(
    planted: Folder, backend: str, deliver: Deliver
) -> None:
    if backend == "sendgrid":
        planted.env["DIGEST_SENDGRID_ASM_GROUP_ID"] = "42"  # SendGrid fills its tags too
    rows = readers(planted.path / "subscribers.csv")

    mails = deliver(planted)

    assert mails
    for mail in mails:
        row, page = rows[mail.to], Page(mail.html)
        values = [mail.to, row["name"], row["company"], UnsubscribeTokens(SECRET).make(mail.to)]
        values += [quote(value, safe="") for value in values] + ["sendgrid.test"]
        links = [url for url in page.hrefs() + page.sources() if "evil.example.com" in url]
        links += [line for line in mail.text.splitlines() if "evil.example.com" in line]
        assert len(links) >= 6, mail.to
        given_away = [(v, u) for u in links for v in values if v in u or v in unquote(u)]
        assert given_away == [], mail.to
        title = "Title %%email%% %%name%% %%company%% %%unsubscribe_url%% %%AAAAAAAAAAAA.email%%"
        for shown in (
            title,
            "By Author %%name%% %%email%%",
            "Summary %%email%% %%unsubscribe_url%% %%company%%",
        ):
            assert shown in page.text and shown in mail.text, (mail.to, shown)
        assert "Content %%email%% %%name.html%% %%company.url%%" in page.text
        assert mail.subject.startswith(f"{title} <\u2060%asm_group_")
        assert "<%" not in mail.html + mail.text + mail.subject


def test_a_merge_field_that_would_make_a_whole_link_stops_build_in_one_line(
    folder: Folder,
) -> None:
    footer = folder.path / "templates" / "partials" / "footer.mjml.j2"
    lines = footer.read_text().splitlines()
    lines.insert(3, '        <mj-text><a href="{{ subscriber.company }}">Your site</a></mj-text>')
    footer.write_text("\n".join(lines) + "\n")

    result = folder.run("build", "--now", NOW)

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: templates/partials/footer.mjml.j2:4: subscriber.company is placed in <a href> "
        "before the link's host is fixed"
    )
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (folder.path / "out").exists()


def test_an_edition_started_before_tokens_had_keys_is_finished_escaped(
    hostile: Folder, server: SendGridServer
) -> None:
    """Its stored tokens are the unkeyed %%name%% kind: the rest of its readers get them
    filled, HTML-escaped in the HTML part."""
    generated = [f"reader{n}@example.com,Reader {n},active," for n in range(1000)]
    listed = (DATA / "subscribers.csv").read_text().splitlines()
    (hostile.path / "subscribers.csv").write_text("\n".join([listed[0], *generated, *listed[1:]]))
    hostile.env.update(
        SENDGRID_API_KEY=API_KEY, DIGEST_SENDGRID_HOST=server.url, DIGEST_SENDGRID_CONCURRENCY="1"
    )
    server.slow_next(0)
    server.refuse_with(400, "The from address does not match a verified Sender Identity.")
    assert hostile.run("send", "--yes", "--now", NOW).exit_code == 1
    unkeyed(hostile.path / ".digest" / "state.db")
    server.reset()

    resumed = hostile.run("send", "--yes", "--now", NOW)

    assert resumed.exit_code == 0, resumed.output
    rows = readers(DATA / "subscribers.csv")
    mails = [mail for request in server.requests for mail in request.delivered()]
    assert sorted(mail.to for mail in mails) == sorted(rows)
    keys = server.requests[0].body["personalizations"][0]["substitutions"]
    assert sorted(keys) == [
        "%%first_name%%",
        "%%first_name.html%%",
        "%%name%%",
        "%%name.html%%",
        "%%unsubscribe_url%%",
        "%%unsubscribe_url.html%%",
    ]
    for mail in mails:
        page, row = Page(mail.html), rows[mail.to]
        assert not page.all("form") and f"Hi {row['first_name']}, here" in page.text
        assert mail.subject == f"News for {as_text(row['name'])}"


def unkeyed(state: Path) -> None:
    """Make the ledger's edition look as an earlier digest stored it: %%name%% tokens in
    subject, HTML and text, and no key."""
    db = sqlite3.connect(state)
    with db:
        (key,) = db.execute("SELECT token_key FROM editions").fetchone()
        keyed = re.compile(rf"%%{key}\.([\w-]+)(?:\.\w+)?%%")
        subject, html, text = db.execute("SELECT subject, html, text FROM editions").fetchone()
        db.execute(
            "UPDATE editions SET subject = ?, html = ?, text = ?, token_key = ''",
            [keyed.sub(r"%%\1%%", part) for part in (subject, html, text)],
        )
    db.close()
