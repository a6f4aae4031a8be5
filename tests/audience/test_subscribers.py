"""subscribers.csv: columns and defaults, line numbers, problems, errors, and streaming."""

from __future__ import annotations

import itertools
import subprocess
import sys
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from digest.audience.active import (
    AudienceReport,
    Suppression,
    active_audience,
    check_subscribers,
    suppressed_addresses,
)
from digest.audience.csvfile import (
    LEFT_OPEN_QUOTE,
    ROWS_IN_VALUE,
    Problem,
    first_active,
    read_subscribers,
)
from digest.errors import SubscribersError
from digest.models import Subscriber

DATA = Path(__file__).resolve().parents[1] / "data" / "subscribers"


def write(tmp_path: Path, text: str, name: str = "subscribers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def by_line(rows: list[Subscriber | Problem]) -> dict[int, Subscriber | Problem]:
    return {row.line: row for row in rows}


def test_every_column_and_its_default() -> None:
    rows = list(read_subscribers(DATA / "columns.csv"))

    assert all(isinstance(row, Subscriber) for row in rows)
    ada, grace, alan, katherine, edsger = rows
    assert ada == Subscriber(
        email="ada@example.com",
        name="Ada Lovelace",
        status="active",
        tags=("weekly", "engineering"),
        subscribed_at="2024-01-15",
        fields={"company": "Analytical Engines", "plan": "pro"},
        line=2,
    )
    assert grace.email == "Grace@example.com"  # the domain is normalized, the local part kept
    assert grace.status == "active"  # an empty status means active
    assert grace.subscribed_at == "2024-02-03"
    assert grace.fields == {"company": "Harvard", "plan": ""}
    assert alan.name == ""
    assert alan.status == "unsubscribed"
    assert alan.tags == ("weekly", "math")
    assert katherine.status == "bounced"
    assert katherine.tags == ()
    assert edsger.status == "complained"
    assert [row.line for row in rows] == [2, 3, 4, 5, 6]


def test_header_names_of_known_columns_ignore_case_and_spaces(tmp_path: Path) -> None:
    path = write(tmp_path, " Email , NAME ,Status,Company\nada@example.com,Ada,,ACME\n")

    (ada,) = read_subscribers(path)

    assert isinstance(ada, Subscriber)
    assert (ada.email, ada.name, ada.status) == ("ada@example.com", "Ada", "active")
    assert ada.fields == {"Company": "ACME"}


def test_only_email_column_is_needed(tmp_path: Path) -> None:
    path = write(tmp_path, "email\nada@example.com\n")

    assert list(read_subscribers(path)) == [Subscriber(email="ada@example.com", line=2)]


def test_unknown_columns_become_merge_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "company,email,favourite colour\nACME,ada@example.com, teal \n")

    (ada,) = read_subscribers(path)

    assert isinstance(ada, Subscriber)
    assert ada.fields == {"company": "ACME", "favourite colour": "teal"}


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("email,name\nada@example.com,Ada\n".encode("utf-8-sig"))

    (ada,) = read_subscribers(path)

    assert isinstance(ada, Subscriber)
    assert ada.email == "ada@example.com"


def test_quoted_commas_quotes_and_newlines_keep_line_numbers() -> None:
    rows = by_line(list(read_subscribers(DATA / "multiline.csv")))

    assert sorted(rows) == [2, 3, 6, 7]
    assert rows[2].name == "Lovelace, Ada"  # type: ignore[union-attr]
    assert rows[3].name.splitlines() == ["Grace", "Brewster", "Hopper"]  # type: ignore[union-attr]
    assert isinstance(rows[6], Problem)
    assert rows[6].email == "not an address"
    assert rows[7].name == 'He said "hi"'  # type: ignore[union-attr]


def test_invalid_rows_are_reported_with_line_and_reason() -> None:
    problems = check_subscribers(DATA / "problems.csv")

    shown = [(problem.line, problem.email, problem.kind) for problem in problems]
    assert shown == [
        (3, "not-an-address", "invalid"),
        (4, "", "invalid"),
        (5, "grace@example.com", "invalid"),
        (6, "ADA@example.com", "duplicate"),
        (7, "alan@mail.localhost", "invalid"),
        (11, "Katherine@example.com", "duplicate"),
    ]
    reasons = {problem.line: problem.reason for problem in problems}
    assert reasons[3] == "invalid address: An email address must have an @-sign."
    assert reasons[4] == "no email address"
    assert reasons[5].startswith("unknown status 'retired'")
    assert reasons[6] == "duplicate of line 2"
    assert "special-use or reserved" in reasons[7]
    # The active row the send withholds, not the row that keeps the address off the list.
    assert reasons[11] == "line 8 marks this address unsubscribed, so this row is not sent"
    assert str(problems[0]) == (
        "line 3: not-an-address: invalid address: An email address must have an @-sign."
    )


def test_check_names_the_active_row_another_row_keeps_off_the_list(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,name,status\n"
        "ann@example.com,Ann,active\n"
        "bob@example.com,Bob,bounced\n"
        "ANN@example.com,Ann,unsubscribed\n"
        "BOB@example.com,Bob,active\n"
        "bob@EXAMPLE.com,Bob,complained\n",
    )

    assert [(p.line, p.reason, p.kind) for p in check_subscribers(path)] == [
        (2, "line 4 marks this address unsubscribed, so this row is not sent", "duplicate"),
        (5, "line 3 marks this address bounced, so this row is not sent", "duplicate"),
        # Not line 4: told it repeats line 2, one might delete the row that unsubscribes.
        (6, "duplicate of line 3", "duplicate"),
    ]


def test_check_sizes_active_rows_with_the_test_it_is_given(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,status,company\n"
        "ann@example.com,active,huge\n"
        "bob@example.com,unsubscribed,huge\n"
        "ANN@example.com,active,small\n",
    )

    def misfit(subscriber: Subscriber) -> str:
        return "too large" if subscriber.fields["company"] == "huge" else ""

    # Line 4 is no duplicate: line 2 is left out, so a send mails line 4.
    assert check_subscribers(path, misfit) == [Problem(2, "ann@example.com", "too large")]
    assert check_subscribers(path) == [
        Problem(4, "ANN@example.com", "duplicate of line 2", "duplicate")
    ]


def test_a_clean_file_has_no_problems() -> None:
    assert check_subscribers(DATA / "columns.csv") == []


def test_extra_filled_cells_are_a_problem_but_trailing_empty_ones_are_not(tmp_path: Path) -> None:
    path = write(tmp_path, "email,name\nada@example.com,Lovelace, Ada\ngrace@example.com,Grace,,\n")

    ada, grace = read_subscribers(path)

    assert isinstance(ada, Problem)
    assert ada.line == 2
    assert ada.reason == "3 fields but the header has 2 (quote fields that contain commas)"
    assert isinstance(grace, Subscriber)
    assert grace.name == "Grace"


def test_blank_rows_are_skipped_but_a_row_with_anything_in_it_is_not(tmp_path: Path) -> None:
    text = 'email,name\n\n  ,  \n,,,,\n,Ada\n,,,x\n"\n",\ngrace@example.com,Grace\n'
    path = write(tmp_path, text)

    rows = list(read_subscribers(path))

    assert [(row.line, row.reason) for row in rows if isinstance(row, Problem)] == [
        (5, "no email address"),
        (6, "no email address"),
    ]
    assert [row.email for row in rows if isinstance(row, Subscriber)] == ["grace@example.com"]


def shown(rows: list[Subscriber | Problem]) -> list[tuple[int, str, str]]:
    """Each row as (line, address, what): the reason for a Problem, else the status."""
    return [
        (row.line, row.email, row.reason if isinstance(row, Problem) else row.status)
        for row in rows
    ]


def test_a_quote_left_open_in_a_merge_field_skips_that_row_only() -> None:
    path = DATA / "open_quote_middle.csv"

    rows = list(read_subscribers(path))
    report = AudienceReport()
    audience = list(active_audience(path, report))

    assert shown(rows) == [
        (2, "ada@example.com", "active"),
        (3, "grace@example.com", LEFT_OPEN_QUOTE),
        (4, "alan@example.com", "active"),
        (5, "ADA@example.com", "active"),
        (6, "katherine@example.com", "active"),
        (7, "edsger@example.com", "unsubscribed"),
        (8, "margaret@example.com", "active"),
    ]
    katherine = by_line(rows)[6]
    assert isinstance(katherine, Subscriber)
    assert katherine.fields == {"company": "NASA, Langley"}
    assert not any("\n" in value for row in audience for value in row.fields.values())
    assert [row.email for row in audience] == [
        "ada@example.com",
        "alan@example.com",
        "ADA@example.com",
        "katherine@example.com",
        "margaret@example.com",
    ]
    assert report.skipped == Counter({"invalid": 1, "unsubscribed": 1})
    assert [(p.line, p.reason) for p in report.problems] == [(3, LEFT_OPEN_QUOTE)]
    # The rows the open quote had swallowed are checked like any other.
    assert check_subscribers(path) == [
        Problem(3, "grace@example.com", LEFT_OPEN_QUOTE),
        Problem(5, "ADA@example.com", "duplicate of line 2", "duplicate"),
    ]
    assert suppressed_addresses(path) == {"edsger@example.com": Suppression(7, "unsubscribed")}


@pytest.mark.parametrize(
    "name", ["open_quote_last_row.csv", "open_quote_at_eof.csv", "open_quote_then_text.csv"]
)
def test_a_quote_left_open_on_the_last_row_is_reported(name: str) -> None:
    rows = list(read_subscribers(DATA / name))

    assert shown(rows)[:2] == [
        (2, "ada@example.com", "active"),
        (3, "grace@example.com", LEFT_OPEN_QUOTE),
    ]
    # What followed the open quote is read as rows: here a line that is no row at all.
    assert [(row.line, row.email) for row in rows[2:]] == (
        [(4, "Mark I")] if name == "open_quote_then_text.csv" else []
    )


def test_two_quotes_left_open_in_a_row_are_each_reported() -> None:
    rows = list(read_subscribers(DATA / "open_quote_twice.csv"))

    assert shown(rows) == [
        (2, "ada@example.com", LEFT_OPEN_QUOTE),
        (3, "grace@example.com", LEFT_OPEN_QUOTE),
        (4, "alan@example.com", "active"),
    ]


def test_a_quote_left_open_in_the_email_column_is_reported_on_one_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'email,name\n"ada@example.com,Ada\ngrace@example.com,Grace\nalan@example.com,Alan\n',
    )

    assert shown(list(read_subscribers(path))) == [
        (2, "ada@example.com,Ada", LEFT_OPEN_QUOTE),
        (3, "grace@example.com", "active"),
        (4, "alan@example.com", "active"),
    ]


def test_a_quote_left_open_before_more_than_csv_holds_in_a_field(tmp_path: Path) -> None:
    """csv stops a value at 128 KB: the rows it had read into it are read again."""
    readers = [f"reader{n}@example.com,Reader {n},ACME" for n in range(5000)]  # 170 KB
    path = write(tmp_path, "\n".join(["email,name,company", 'ada@example.com,Ada,"ACME', *readers]))

    rows = list(read_subscribers(path))

    assert shown(rows[:2]) == [
        (2, "ada@example.com", LEFT_OPEN_QUOTE),
        (3, "reader0@example.com", "active"),
    ]
    assert [row.line for row in rows] == list(range(2, 5003))
    assert all(isinstance(row, Subscriber) for row in rows[1:])


def test_quoted_values_over_several_lines_are_read_whole() -> None:
    rows = list(read_subscribers(DATA / "multiline_values.csv"))

    assert all(isinstance(row, Subscriber) for row in rows)
    ada, grace, alan = rows
    assert (ada.line, grace.line, alan.line) == (2, 6, 8)
    assert ada.name == "Ada\r\nLovelace"  # type: ignore[union-attr]
    assert ada.fields["address"].splitlines() == [  # type: ignore[union-attr]
        "12 St James's Square",
        "London SW1Y 4JH",
        "United Kingdom",
    ]
    assert grace.fields["address"] == 'Office "B",\r\nHarvard, Cambridge MA'  # type: ignore[union-attr]
    assert check_subscribers(DATA / "multiline_values.csv") == []


def test_a_well_formed_value_that_holds_rows_is_reported_not_sent() -> None:
    """A quote left open that happens to close well still never sends rows as a value."""
    path = DATA / "rows_in_value.csv"

    rows = list(read_subscribers(path))

    assert shown(rows) == [(2, "ada@example.com", ROWS_IN_VALUE), (5, "alan@example.com", "active")]
    assert [s.email for s in active_audience(path, AudienceReport())] == ["alan@example.com"]


def test_a_quote_left_open_in_the_header_is_an_error() -> None:
    with pytest.raises(SubscribersError, match=r"line 1 \(the header row\) has a quote left open"):
        check_subscribers(DATA / "open_quote_header.csv")


def test_a_quoted_name_over_several_lines_is_not_taken_for_an_open_quote(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        'email,name,status\nada@example.com,"Ada\nLovelace, Countess",active\n'
        'grace@example.com,"Grace\nhopper@navy.mil",active\n',
    )

    assert check_subscribers(path) == []
    assert [s.name for s in read_subscribers(path)] == [  # type: ignore[union-attr]
        "Ada\nLovelace, Countess",
        "Grace\nhopper@navy.mil",
    ]


def test_active_audience_yields_active_rows_and_counts_the_rest() -> None:
    report = AudienceReport()

    audience = [subscriber.email for subscriber in active_audience(DATA / "problems.csv", report)]

    # No deduplication here: the ledger does it when it freezes the audience.
    assert audience == [
        "ada@example.com",
        "ADA@example.com",
        "alan@example.com",
        "Katherine@example.com",
    ]
    assert report.active == 4
    assert report.skipped == Counter({"invalid": 4, "unsubscribed": 1})
    assert [problem.line for problem in report.problems] == [3, 4, 5, 7]

    report = AudienceReport()
    assert len(list(active_audience(DATA / "columns.csv", report))) == 2
    assert report.skipped == Counter({"unsubscribed": 1, "bounced": 1, "complained": 1})


def test_first_active_skips_invalid_and_inactive_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,name,status\nbroken,X,active\nada@example.com,Ada,bounced\n"
        "grace@example.com,Grace,\n",
    )

    first = first_active(path)

    assert first is not None
    assert (first.email, first.line) == ("grace@example.com", 4)
    assert first_active(write(tmp_path, "email,status\nada@example.com,unsubscribed\n")) is None


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nobody.csv"

    with pytest.raises(SubscribersError, match=r"nobody\.csv: no such file") as caught:
        list(read_subscribers(missing))
    assert "[subscribers] path" in str(caught.value)
    with pytest.raises(SubscribersError, match="no such file"):
        check_subscribers(missing)
    with pytest.raises(SubscribersError, match="no such file"):
        first_active(missing)


def test_a_file_without_an_email_column_is_an_error() -> None:
    with pytest.raises(SubscribersError, match=r"no `email` column \(found: name, status\)"):
        check_subscribers(DATA / "no_email_column.csv")


def test_an_empty_file_and_repeated_columns_are_errors(tmp_path: Path) -> None:
    with pytest.raises(SubscribersError, match="empty"):
        check_subscribers(write(tmp_path, ""))
    with pytest.raises(SubscribersError, match="email more than once"):
        check_subscribers(write(tmp_path, "email,Email\na@example.com,b@example.com\n"))


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    rows = [f"reader{n}@example.com,Reader {n}" for n in range(1, 600)]
    rows.insert(499, "jose@example.com,José")
    path.write_bytes("\n".join(["email,name", *rows, ""]).encode("latin-1"))

    with pytest.raises(SubscribersError, match=r"latin1\.csv: line 501 is not valid UTF-8"):
        check_subscribers(path)


FEED_SCRIPT = """
import sys
with open(sys.argv[1], "w", encoding="utf-8") as out:
    out.write("email,name,status,company\\n")
    for n in range(int(sys.argv[2])):
        status = "unsubscribed" if n % 10 == 9 else "active"
        out.write(f"reader{n}@mail{n % 50}.example.com,Reader {n},{status},ACME\\n")
"""


def test_a_200k_row_file_streams_through_active_audience(tmp_path: Path) -> None:
    """Subscribers come out as the file is read, and memory stays flat: neither the 10 MB
    file nor the rows already given out are held. (A pipe, which would show rows coming
    out while the file is still being written, is refused as a list: send reads it twice.)"""
    total = 200_000
    path = tmp_path / "subscribers.csv"
    subprocess.run([sys.executable, "-c", FEED_SCRIPT, str(path), str(total)], check=True)
    report = AudienceReport()
    tracemalloc.start()
    try:
        audience = active_audience(path, report)
        first = next(audience)
        taken = sum(1 for _ in itertools.islice(audience, 20_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rest = sum(1 for _ in audience)

    assert first.email == "reader0@mail0.example.com"
    # 20,000 rows are 1.2 MB as text and several times that as Subscribers: none are kept.
    assert peak < 500_000
    assert 1 + taken + rest == report.active == total * 9 // 10
    assert report.skipped == Counter({"unsubscribed": total // 10})


def test_suppressed_addresses_are_the_rows_that_keep_an_address_off_the_list(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "email,name,status\n"
        "ann@example.com,Ann,active\n"
        'Bob@Example.COM,"Bob, on\ntwo lines",unsubscribed\n'
        "ann@EXAMPLE.com,Ann,bounced\n"
        "ANN@example.com,Ann,complained\n"
        "not-an-address,X,unsubscribed\n"
        "cy@example.com,Cy,paused\n",
    )
    assert suppressed_addresses(path) == {
        "bob@example.com": Suppression(3, "unsubscribed"),
        "ann@example.com": Suppression(5, "bounced"),
    }


def test_a_list_without_a_status_column_suppresses_nobody(tmp_path: Path) -> None:
    assert suppressed_addresses(write(tmp_path, "email\nann@example.com\n")) == {}
