"""Settling uncertain batches batch by batch (--batch N) and reader by reader (a file of
addresses), against the local SendGrid stand-in: its record of recipients proves that
nobody got the edition twice and nobody was skipped."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from digest.errors import SettleError
from digest.sending.settle import address_key, listed_addresses
from tests.commands.conftest import Folder
from tests.commands.test_send import listed, send, write_readers
from tests.commands.test_send_terminal import run_on_terminal
from tests.sendgrid_server import SendGridServer

KEY = "2026-11-27"
DATA = Path(__file__).resolve().parents[1] / "data" / "settle"


def history(folder: Folder) -> dict[str, str]:
    """The edition's row of `digest history`, by column."""
    header, *rows = (line.split("\t") for line in folder.run("history").stdout.splitlines())
    [row] = [row for row in rows if row[1] == "edition"]
    return dict(zip(header, row, strict=True))


def uncertain_listing(folder: Folder) -> Path:
    return folder.path / ".digest" / f"uncertain-{KEY}.txt"


@pytest.fixture
def one_arrived_one_not(ready: Folder, server: SendGridServer) -> list[str]:
    """2500 readers in batches of 1000, 1000 and 500; batch 1 reached the stand-in but
    got no answer in time, batch 2's connection broke before it was taken: both
    uncertain, one delivered and one not."""
    emails = write_readers(ready, 2500)
    ready.env.update(DIGEST_SENDGRID_CONCURRENCY="1", DIGEST_SENDGRID_TIMEOUT="0.5")
    server.hang_next(2)
    server.drop_next()
    first = send(ready)
    assert first.exit_code == 1
    assert sorted(server.accepted_recipients()) == sorted(emails[:1000] + emails[2000:])
    return emails


def test_each_uncertain_batch_is_named_and_settled_on_its_own(
    ready: Folder, server: SendGridServer, one_arrived_one_not: list[str]
) -> None:
    emails = one_arrived_one_not
    assert (history(ready)["uncertain"], history(ready)["uncertain batches"]) == ("2000", "1,2")
    plain = send(ready)
    assert plain.exit_code == 1
    assert f"batches 1, 2 of edition {KEY}, 2000 recipients, were in flight" in plain.stderr
    command = f"`digest send --edition {KEY} --batch N --accept-uncertain`"
    assert f"Check them in the provider's activity log, then run {command} if" in plain.stderr
    assert "(N: each of 1, 2)" in plain.stderr
    text = uncertain_listing(ready).read_text()
    assert "# batch 1: 1000 recipients\n" in text and "# batch 2: 1000 recipients\n" in text
    assert listed(uncertain_listing(ready)) == emails[:2000]

    unknown = send(ready, "--edition", KEY, "--batch", "3", "--accept-uncertain")
    assert unknown.exit_code == 1
    assert unknown.stderr == (
        f"error: edition {KEY} has no uncertain batch 3: its uncertain batches are 1, 2; "
        "`digest history` lists each edition's uncertain batches\n"
    )

    arrived = send(ready, "--edition", KEY, "--batch", "1", "--accept-uncertain")
    assert arrived.exit_code == 1, "batch 2 is still uncertain"
    assert "Recorded 1000 uncertain recipients (batch 1) as delivered" in arrived.stdout
    assert f"batch 2 of edition {KEY}, 1000 recipients, was in flight" in arrived.stderr
    assert f"`digest send --edition {KEY} --batch 2 --resend-uncertain` if not" in arrived.stderr
    assert listed(uncertain_listing(ready)) == emails[1000:2000]
    assert history(ready)["uncertain batches"] == "2"

    lost = send(ready, "--edition", KEY, "--batch", "2", "--resend-uncertain")
    assert lost.exit_code == 0, lost.output
    assert "Sending 1000 uncertain recipients (batch 2) again" in lost.stdout
    assert f"Edition {KEY}: sent to 1000 (1000 of them again); skipped" in lost.stdout
    assert "is complete" in lost.stdout
    assert not uncertain_listing(ready).exists()
    assert Counter(server.accepted_recipients()) == Counter(emails), "each reader once"


def test_batch_numbers_need_an_edition_and_a_way_to_settle(
    ready: Folder, server: SendGridServer
) -> None:
    for args, said in (
        (["--batch", "1", "--accept-uncertain"], "--batch needs --edition KEY"),
        (["--edition", KEY, "--batch", "1"], "--batch goes with --resend-uncertain or"),
        (["--accept-uncertain", ""], "the file name is empty"),
        (["--to", "a@example.com", "--accept-uncertain"], "not a test (--to) or a --dry-run"),
    ):
        refused = send(ready, *args)
        assert refused.exit_code == 2, args
        assert said in refused.stderr, refused.stderr
    not_started = send(ready, "--accept-uncertain", str(DATA / "one-a-line.txt"))
    assert not_started.exit_code == 1
    assert f"edition {KEY} has not started, so it has no uncertain readers" in not_started.stderr
    assert server.received == 0
    assert "2026" not in ready.run("history").stdout, "no edition was started"


@pytest.fixture
def partly_delivered(ready: Folder, server: SendGridServer) -> list[str]:
    """1500 readers in batches of 1000 and 500; batch 1 got no answer in time and only its
    first 600 readers reached the stand-in (as an activity log would show them)."""
    emails = write_readers(ready, 1500)
    ready.env.update(DIGEST_SENDGRID_CONCURRENCY="1", DIGEST_SENDGRID_TIMEOUT="0.5")
    server.hang_next(2, take=600)
    assert send(ready).exit_code == 1
    assert sorted(server.accepted_recipients()) == sorted(emails[:600] + emails[1000:])
    return emails


def write_activity_export(path: Path, delivered: list[str]) -> None:
    """A CSV like the provider's activity export: every event of the edition (the readers
    of batch 2 too), in another case, plus a reader of another edition."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        export = csv.writer(handle)
        export.writerow(["Message ID", "Event", "From Email", "To Email", "Processed"])
        for number, address in enumerate([*delivered, "someone-else@example.com"]):
            export.writerow([f"m{number}", "delivered", "news@example.com", address.upper(), ""])


def test_a_file_of_the_addresses_that_arrived_records_exactly_those_as_delivered(
    ready: Folder, server: SendGridServer, partly_delivered: list[str], tmp_path: Path
) -> None:
    emails = partly_delivered
    export = tmp_path / "activity.csv"
    write_activity_export(export, server.accepted_recipients())

    accepted = send(ready, "--accept-uncertain", str(export))

    assert accepted.exit_code == 1, "the 400 who got nothing are still uncertain"
    assert (
        f"Resuming edition {KEY} (" in accepted.stdout
        and f"0 recipients to go; 600 uncertain recipients (batch 1, listed in {export}) to"
        " record as delivered."
        in accepted.stdout
    )
    assert (
        f"Recorded 600 uncertain recipients (batch 1, listed in {export}) as delivered"
        in accepted.stdout
    )
    assert "recorded as delivered 600;" in accepted.stdout
    assert f"501 addresses in {export} are not uncertain recipients of edition" in accepted.stderr
    assert "they are left as they are and sent nothing" in accepted.stderr
    assert f"batch 1 of edition {KEY}, 400 recipients, was in flight" in accepted.stderr
    assert listed(uncertain_listing(ready)) == emails[600:1000]
    row = history(ready)
    assert (row["accepted"], row["uncertain"], row["uncertain batches"]) == ("1100", "400", "1")

    rest = send(ready, "--resend-uncertain")
    assert rest.exit_code == 0, rest.output
    assert f"Edition {KEY}: sent to 400 (400 of them again);" in rest.stdout
    assert Counter(server.accepted_recipients()) == Counter(emails), "each reader once"
    assert history(ready)["status"] == "sent"


def test_a_file_of_the_addresses_that_did_not_arrive_resends_exactly_those(
    ready: Folder, server: SendGridServer, partly_delivered: list[str], tmp_path: Path
) -> None:
    emails = partly_delivered
    missing = tmp_path / "missing.txt"
    missing.write_text(
        "# in the list of uncertain readers, not in the activity log\n"
        + "".join(f"  {address.title()}\n" for address in emails[600:1000])
        + "stranger@example.com\n"
    )
    before = len(server.requests)

    resent = send(ready, "--resend-uncertain", str(missing))

    assert resent.exit_code == 1, "the 600 who got it are still uncertain"
    assert "400 recipients to go, 400 of them uncertain ones sent again (batch 1, listed in" in (
        resent.stdout
    )
    assert f"Edition {KEY}: sent to 400 (400 of them again);" in resent.stdout
    assert f"1 address in {missing} is not an uncertain recipient" in resent.stderr
    assert "stranger@example.com" in resent.stderr
    assert [r.recipients for r in server.requests[before:]] == [emails[600:1000]]
    assert listed(uncertain_listing(ready)) == emails[:600]

    settled = send(ready, "--accept-uncertain")
    assert settled.exit_code == 0, settled.output
    assert "Recorded 600 uncertain recipients (batch 1) as delivered" in settled.stdout
    assert Counter(server.accepted_recipients()) == Counter(emails), "each reader once"


def test_the_prompt_says_how_many_readers_it_will_record_and_no_changes_nothing(
    ready: Folder, server: SendGridServer, partly_delivered: list[str], tmp_path: Path
) -> None:
    export = tmp_path / "activity.csv"
    write_activity_export(export, server.accepted_recipients())

    code, screen = run_on_terminal(ready, server, "n", "--accept-uncertain", str(export))

    assert code == 0, screen
    assert f"Resume edition {KEY}: record 600 uncertain recipients as delivered? [y/N]" in (
        screen.replace("\r\n", " ")
    )
    assert "cancelled" in screen
    assert history(ready)["uncertain"] == "1000"
    assert listed(uncertain_listing(ready)) == partly_delivered[:1000]


def test_addresses_in_a_file_that_name_nobody_uncertain_are_shown_escaped(
    ready: Folder, server: SendGridServer, partly_delivered: list[str]
) -> None:
    result = send(ready, "--accept-uncertain", str(DATA / "hostile.csv"))

    assert result.exit_code == 1
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "\\x1b]0;pwned\\x07\\x1b[2Jevil@example.com" in result.stderr
    assert "Recorded 1 uncertain recipient (batch 1, listed in" in result.stdout
    assert history(ready)["uncertain"] == "999"


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("no-email-column.csv", "no-email-column.csv:1: no column of addresses in the header"),
        ("latin1.csv", "latin1.csv is not UTF-8 text"),
        ("unclosed-quote.csv", "unclosed-quote.csv:3: an address runs over several lines"),
        ("missing.csv", "cannot read "),
    ],
)
def test_a_file_that_cannot_settle_anyone_is_one_line_and_changes_nothing(
    ready: Folder, server: SendGridServer, partly_delivered: list[str], name: str, said: str
) -> None:
    refused = send(ready, "--resend-uncertain", str(DATA / name))

    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: ") and said in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    assert history(ready)["uncertain"] == "1000"
    assert sorted(server.accepted_recipients()) == sorted(
        partly_delivered[:600] + partly_delivered[1000:]
    )


def test_a_device_is_not_read_as_a_file_of_addresses() -> None:
    with pytest.raises(SettleError, match="/dev/zero is not a regular file"):
        list(listed_addresses(Path("/dev/zero")))


@pytest.mark.parametrize(
    ("name", "addresses"),
    [
        (
            "activity-export.csv",
            [
                "Reader1@Example.com",
                "reader1@example.com",
                "reader2@example.com",
                "user@bücher.example",
            ],
        ),
        ("semicolons-bom.csv", ["reader1@example.com", "reader2@example.com"]),
        (
            "one-a-line.txt",
            ["reader1@example.com", "READER2@example.com", "user@xn--bcher-kva.example"],
        ),
    ],
)
def test_files_of_addresses_in_the_usual_shapes(name: str, addresses: list[str]) -> None:
    assert list(listed_addresses(DATA / name)) == addresses


def test_addresses_compare_ignoring_case_and_the_form_of_an_international_domain() -> None:
    assert address_key(" User@Bücher.Example ") == address_key("user@xn--bcher-kva.example")
    assert address_key("Reader1@Example.com") == "reader1@example.com"
    assert address_key("not an address") == "not an address"
