"""The greeting uses each reader's first name: a `first_name` column when the list has one,
else the first word of the name (README: "Templates"), "there" otherwise; and filters on a
reader's value work per reader, in the built email and in what SendGrid is sent."""

from __future__ import annotations

from tests.commands.conftest import NOW, Folder
from tests.render.helpers import Page
from tests.sendgrid_server import SendGridServer

LIST = (
    "email,name,status\n"
    "ada@example.com,Ada Lovelace,active\n"
    "doc@example.com,Dr Grace Hopper,active\n"
    "anon@example.com,,active\n"
    "tj@example.com,Tom & Jerry <tj>,active\n"
)


def greetings(folder: Folder) -> tuple[str, str]:
    """The greeting line of the built email's text part and of its HTML."""
    result = folder.run("build", "--now", NOW)
    assert result.exit_code == 0, result.output
    out = folder.path / "out"
    text = (out / "digest.txt").read_text(encoding="utf-8")
    html = Page((out / "digest.html").read_text(encoding="utf-8")).text
    line = next(line for line in text.splitlines() if line.startswith("Hi "))
    start = html.index("Hi ")
    return line, html[start : html.index("new.", start) + 4]


def test_the_example_greets_its_first_reader_by_first_name(folder: Folder) -> None:
    assert greetings(folder) == ("Hi Ada, here is what's new.",) * 2


def test_a_first_name_column_decides_even_when_empty(folder: Folder) -> None:
    listing = folder.path / "subscribers.csv"
    listing.write_text("email,name,first_name\nada@example.com,Lovelace,Augusta Ada\n")
    assert greetings(folder)[0] == "Hi Augusta Ada, here is what's new."
    listing.write_text("email,name,first_name\nacme@example.com,ACME Corp,\n")
    assert greetings(folder)[0] == "Hi there, here is what's new."


def test_each_reader_is_greeted_by_their_own_first_name_and_filters_apply_per_reader(
    ready: Folder, server: SendGridServer
) -> None:
    (ready.path / "subscribers.csv").write_text(LIST)
    text = ready.path / "templates" / "digest.txt.j2"
    text.write_text(text.read_text() + "\nFor {{ subscriber.name | upper | d('our reader') }}\n")

    result = ready.run("send", "--yes", "--now", NOW)

    assert result.exit_code == 0, result.output
    mails = {mail.to: mail for request in server.requests for mail in request.delivered()}
    expected = {
        "ada@example.com": ("Ada", "ADA LOVELACE"),
        "doc@example.com": ("Dr Grace Hopper", "DR GRACE HOPPER"),
        "anon@example.com": ("there", "our reader"),
        "tj@example.com": ("Tom", "TOM & JERRY <TJ>"),
    }
    assert sorted(mails) == sorted(expected)
    for address, (first, shouting) in expected.items():
        mail = mails[address]
        assert f"Hi {first}, here is what's new." in mail.text
        assert f"Hi {first}, here is what's new." in Page(mail.html).text
        assert f"For {shouting}\n" in mail.text


def test_a_first_name_column_is_cut_as_a_name_is_and_its_reader_still_gets_the_edition(
    ready: Folder, server: SendGridServer
) -> None:
    """A first_name of 3,000 two-byte characters would take SendGrid's substitutions past
    10,000 bytes, and SendGrid would refuse the whole batch: it is cut to 200 characters,
    as a name is, and both readers are mailed."""
    (ready.path / "subscribers.csv").write_text(
        f"email,name,first_name,status\nok@example.com,Ok,Ok,active\n"
        f"long@example.com,Long,{'é' * 3000},active\n",
        encoding="utf-8",
    )

    result = ready.run("send", "--yes", "--now", NOW)

    assert result.exit_code == 0, result.output
    mails = {mail.to: mail for request in server.requests for mail in request.delivered()}
    assert sorted(mails) == ["long@example.com", "ok@example.com"]
    assert f"Hi {'é' * 200}, here is what's new." in mails["long@example.com"].text
