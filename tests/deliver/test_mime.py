"""build_message: complete, parseable, 7-bit messages with each recipient's values filled in."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage

import pytest

from digest.deliver import Message
from digest.deliver.mime import build_message
from digest.errors import DeliveryError
from digest.models import Recipient, token

NOW = datetime(2026, 3, 9, 9, 0, tzinfo=timezone(timedelta(hours=-7)))
LONG_URL = "https://example.com/unsubscribe?token=" + "a1b2c3d4" * 30
MESSAGE = Message(
    subject=f"Grüße, {token('name')}: the TAG/AMPTP update — week 10",
    html="<table><tr><td>"
    + "".join(f"<a href='https://example.com/p/{n}'>Pöst {n}</a>" for n in range(400))
    + f"</td></tr></table><p>Hi {token('name')}, <a href='{token('unsubscribe')}'>leave</a></p>",
    text=f"Hi {token('name')},\n" + "Ünïcode text " * 200 + f"\nLeave: {token('unsubscribe')}\n",
    from_email="news@example.com",
    from_name="Zoë's Blög, Weekly",
    reply_to="Editor <editor@example.com>",
    edition="2026-03-09",
)
RECIPIENT = Recipient(
    email="ana@example.com",
    name='Ana "Nani" Müller',
    substitutions={token("name"): "Ana", token("unsubscribe"): LONG_URL},
    headers={
        "List-Unsubscribe": f"<{LONG_URL}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    },
)


def build(message: Message = MESSAGE, recipient: Recipient = RECIPIENT) -> bytes:
    built = build_message(message, recipient, now=NOW, message_id_domain="mail.example.com")
    return built.as_bytes()


def parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def text_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def test_the_wire_form_is_7bit_with_short_crlf_lines() -> None:
    data = build()

    assert data.isascii()
    lines = data.split(b"\r\n")
    assert b"\n" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 998
    assert max(len(line) for line in lines if not line.startswith(b"List-Unsubscribe:")) <= 78


def test_encoded_body_lines_are_at_most_76_characters_as_rfc_2045_requires() -> None:
    data = build()
    boundary = parse(data).get_boundary()
    assert boundary
    parts = data.split(b"--" + boundary.encode())[1:-1]

    assert len(parts) == 2
    for part in parts:
        headers, body = part.strip(b"\r\n").split(b"\r\n\r\n", 1)
        assert re.search(rb"Content-Transfer-Encoding: (quoted-printable|base64)", headers)
        assert max(len(line) for line in body.split(b"\r\n")) == 76, headers


def test_mime_version_is_a_header_of_the_message_not_of_its_parts() -> None:
    data = build()
    message = parse(data)

    assert data.count(b"MIME-Version:") == 1
    assert message["MIME-Version"] == "1.0"
    assert [part["MIME-Version"] for part in message.iter_parts()] == [None, None]


def test_list_id_names_the_newsletter_under_the_senders_domain() -> None:
    plain = replace(MESSAGE, from_name="FTV Consulting Insights", from_email="a@ftv.example.com")
    quoted = replace(MESSAGE, from_name='The "Weekly" \\ Digest')
    unnamed = replace(MESSAGE, from_name="")

    list_ids = [parse(build(m))["List-Id"] for m in (plain, quoted, MESSAGE, unnamed)]
    assert list_ids == [
        '"FTV Consulting Insights" <ftv-consulting-insights.ftv.example.com>',
        '"The \\"Weekly\\" \\\\ Digest" <the-weekly-digest.example.com>',
        "<zoe-s-blog-weekly.example.com>",
        "<digest.example.com>",
    ]
    assert parse(build(replace(MESSAGE, from_email="news@bücher.example")))["List-Id"] == (
        "<zoe-s-blog-weekly.xn--bcher-kva.example>"
    )


def test_short_non_ascii_bodies_are_encoded_too() -> None:
    short = replace(MESSAGE, text="Grüße, Ana\n", html="<p>Grüße, Ana</p>")
    data = build(short)

    assert data.isascii()
    assert text_of(parse(data), "plain") == "Grüße, Ana\n"


def test_non_ascii_names_and_subject_are_encoded_and_read_back() -> None:
    data = build()
    headers = data.split(b"\r\n\r\n", 1)[0]
    message = parse(data)

    assert b"=?utf-8?" in headers
    assert message["Subject"] == "Grüße, Ana: the TAG/AMPTP update — week 10"
    assert message["From"].addresses[0].display_name == "Zoë's Blög, Weekly"
    assert message["From"].addresses[0].addr_spec == "news@example.com"
    assert message["To"].addresses[0].display_name == 'Ana "Nani" Müller'
    assert message["To"].addresses[0].addr_spec == "ana@example.com"
    assert message["Reply-To"] == "Editor <editor@example.com>"


@pytest.mark.parametrize(
    "name",
    [
        "Bob, eve@evil.example " + "and a long tail " * 5,
        '<a href="https://evil.example/">Verify</a>, "Eve" <eve@evil.example>; ' + "x " * 30,
        "Tom & Jerry <tj>",
    ],
)
def test_a_name_with_commas_or_brackets_stays_one_display_name(name: str) -> None:
    """Python without the fix of CPython gh-80222 (3.11.7) unquotes a long quoted display
    name when it folds it: "Bob, eve@evil.example ..." would add eve as a recipient."""
    data = build(recipient=replace(RECIPIENT, name=name))

    to = parse(data)["To"]
    assert [(a.display_name, a.addr_spec) for a in to.addresses] == [(name, "ana@example.com")]
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


def test_text_comes_before_html_both_utf8_and_filled() -> None:
    message = parse(build())

    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert [part.get_content_charset() for part in parts] == ["utf-8", "utf-8"]
    text, html = text_of(message, "plain"), text_of(message, "html")
    assert text.startswith("Hi Ana,\nÜnïcode text ")
    assert f"Leave: {LONG_URL}\n" in text
    assert "Pöst 399" in html
    assert f"<p>Hi Ana, <a href='{LONG_URL}'>leave</a></p>" in html
    assert "%%" not in text + html


def test_headers_date_id_edition_and_one_click_unsubscribe() -> None:
    data = build()
    message = parse(data)

    assert message["Date"].datetime == NOW
    assert message["MIME-Version"] == "1.0"
    assert message["Message-ID"].startswith("<2026-03-09.")
    assert message["Message-ID"].endswith("@mail.example.com>")
    assert message["X-Digest-Edition"] == "2026-03-09"
    assert message["List-Unsubscribe"] == f"<{LONG_URL}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_all("List-Unsubscribe") == [f"<{LONG_URL}>"]
    assert f"\r\nList-Unsubscribe: <{LONG_URL}>\r\n".encode() in data


def test_a_list_of_unsubscribe_urls_folds_only_between_urls() -> None:
    urls = f"<mailto:leave@example.com?subject=a,b>, <{LONG_URL}&x=1,2>"
    one = replace(RECIPIENT, headers={"List-Unsubscribe": urls})
    data = build(recipient=one)

    assert parse(data)["List-Unsubscribe"] == urls
    raw = "List-Unsubscribe: <mailto:leave@example.com?subject=a,b>,\r\n " + f"<{LONG_URL}&x=1,2>"
    assert f"\r\n{raw}\r\n".encode() in data


def test_optional_headers_are_left_out_when_unset() -> None:
    bare = replace(MESSAGE, reply_to="", edition="")
    message = parse(build(bare, Recipient(email="ana@example.com")))

    assert message["Reply-To"] is None
    assert message["X-Digest-Edition"] is None
    assert message["List-Unsubscribe"] is None
    assert message["To"] == "ana@example.com"
    assert message["Message-ID"].startswith("<digest.")


def test_the_same_inputs_give_the_same_bytes_and_ids_differ_per_recipient_and_subject() -> None:
    other = replace(RECIPIENT, email="ben@example.com")
    test_send = replace(MESSAGE, subject="[TEST] " + MESSAGE.subject)

    assert build() == build()
    ids = {
        parse(data)["Message-ID"] for data in (build(), build(recipient=other), build(test_send))
    }
    assert len(ids) == 3


def test_a_utc_clock_and_a_naive_clock_are_both_written_as_rfc5322_dates() -> None:
    utc = build_message(
        MESSAGE, RECIPIENT, now=datetime(2026, 3, 9, tzinfo=UTC), message_id_domain="x"
    )
    naive = build_message(MESSAGE, RECIPIENT, now=datetime(2026, 3, 9), message_id_domain="x")

    assert utc["Date"] == "Mon, 09 Mar 2026 00:00:00 +0000"
    assert naive["Date"] == "Mon, 09 Mar 2026 00:00:00 -0000"


def test_an_international_domain_is_written_in_ascii() -> None:
    message = parse(build(recipient=replace(RECIPIENT, email="jorg@bücher.de")))

    assert message["To"].addresses[0].addr_spec == "jorg@xn--bcher-kva.de"


def test_an_international_domain_is_written_by_idna_2008_not_mapped_to_another() -> None:
    # IDNA 2003 (Python's "idna" codec) maps straße.de to strasse.de, someone else's domain.
    message = parse(build(recipient=replace(RECIPIENT, email="hans@straße.de")))
    assert message["To"].addresses[0].addr_spec == "hans@xn--strae-oqa.de"


def test_an_international_sender_domain_gives_an_ascii_message_id() -> None:
    sender = replace(MESSAGE, from_email="news@bücher.example")
    built = build_message(sender, RECIPIENT, now=NOW, message_id_domain="bücher.example")
    parsed = parse(built.as_bytes())
    assert parsed["Message-ID"].endswith("@xn--bcher-kva.example>")
    assert parsed["From"].addresses[0].domain == "xn--bcher-kva.example"


def test_a_non_ascii_local_part_is_refused_with_the_address() -> None:
    with pytest.raises(DeliveryError, match=r"jörg@example\.com"):
        build(recipient=replace(RECIPIENT, email="jörg@example.com"))
