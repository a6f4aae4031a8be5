"""The list read fast and checked in one pass: the same records as csv, the same problems as
the two passes it replaced (``reference_problems``), and the counts."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from digest.audience.active import (
    ListCheck,
    check_list,
    check_subscribers,
    suppressed_addresses,
)
from digest.audience.csvfile import DUPLICATE, Problem, read_subscribers
from digest.audience.records import Records
from digest.models import Subscriber

DATA = Path(__file__).resolve().parents[1] / "data" / "subscribers"
FIXTURES = sorted(
    path
    for path in DATA.glob("*.csv")
    if path.name not in {"hostile_header.csv", "no_email_column.csv", "open_quote_header.csv"}
)


def reference_problems(
    path: Path, misfit: Callable[[Subscriber], str] = lambda _row: ""
) -> list[Problem]:
    """check_subscribers as it was: the suppressing rows found by a pass of their own
    (``suppressed_addresses``, which a send uses), then every row judged against them."""
    suppressed = suppressed_addresses(path)
    seen: dict[bool, dict[str, int]] = {True: {}, False: {}}
    problems = []
    for row in read_subscribers(path):
        if isinstance(row, Problem):
            problems.append(row)
            continue
        key = row.email.lower()
        if row.active:
            too_large = misfit(row)
            if too_large:
                problems.append(Problem(row.line, row.email, too_large))
                continue
            if key in suppressed:
                why = suppressed[key]
                reason = f"line {why.line} marks this address {why.status}, so this row is not sent"
                problems.append(Problem(row.line, row.email, reason, DUPLICATE))
                continue
        first = seen[row.active].setdefault(key, row.line)
        if first != row.line:
            problems.append(Problem(row.line, row.email, f"duplicate of line {first}", DUPLICATE))
    return problems


def random_list(rng: random.Random, rows: int) -> str:
    """A list where anything goes: repeated addresses in any case, every status before and
    after, broken rows that still name a status, blank and quoted rows, line ends of
    every kind."""
    people = [f"p{n}@example.com" for n in range(rows // 3 + 1)]
    statuses = ["active", "", "unsubscribed", "bounced", "complained", "Unsubscribed", "gone"]
    lines = ["email,name,status"]
    for _ in range(rows):
        email = rng.choice(people)
        email = email.upper() if rng.random() < 0.2 else email
        status = rng.choice(statuses)
        shape = rng.random()
        if shape < 0.05:
            lines.append(f"{email},Too,{status},many")
        elif shape < 0.08:
            lines.append(f"not an address,X,{status}")
        elif shape < 0.1:
            lines.append("")
        elif shape < 0.15:
            lines.append(f'"{email}","Name, quoted",{status}')
        else:
            lines.append(f"{email},Name,{status}")
    return "".join(line + rng.choice(["\n", "\r\n", "\r"]) for line in lines)


@pytest.mark.parametrize("seed", range(40))
def test_one_pass_finds_what_two_passes_found(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "subscribers.csv"
    path.write_text(random_list(rng, rng.randint(5, 60)), encoding="utf-8", newline="")
    too_large = {f"p{n}@example.com" for n in range(0, 20, 7)}

    def misfit(row: Subscriber) -> str:
        return "too large" if row.email.lower() in too_large else ""

    assert check_subscribers(path, misfit) == reference_problems(path, misfit)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.name)
def test_one_pass_agrees_with_two_on_every_fixture(path: Path) -> None:
    assert check_subscribers(path) == reference_problems(path)


def test_an_unsubscribe_written_below_its_readers_rows_withholds_them_all(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text(
        "email,status\nAda@example.com,active\nada@example.com,active\nbob@example.com,active\n"
        "ADA@example.com,unsubscribed\n",
        encoding="utf-8",
    )
    found = check_list(path)
    assert [(p.line, p.email, p.reason) for p in found.problems] == [
        (2, "Ada@example.com", "line 5 marks this address unsubscribed, so this row is not sent"),
        (3, "ada@example.com", "line 5 marks this address unsubscribed, so this row is not sent"),
    ]
    assert found.counts == {"active": 1, "unsubscribed": 1, "duplicate": 2}


def test_each_row_is_counted_once_by_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text(
        "email,status\n"
        "a@example.com,active\n"
        "b@example.com,\n"
        "A@example.com,active\n"  # duplicate
        "c@example.com,unsubscribed\n"
        "d@example.com,bounced\n"
        "e@example.com,complained\n"
        "e@example.com,complained\n"  # duplicate
        "broken,active\n"  # invalid
        "\n"  # blank: not a row
        "f@example.com,retired\n",  # invalid
        encoding="utf-8",
    )
    counts = check_list(path).counts
    assert counts == {
        "active": 2,
        "unsubscribed": 1,
        "bounced": 1,
        "complained": 1,
        "invalid": 2,
        "duplicate": 2,
    }
    assert sum(counts.values()) == 9


def test_the_ledgers_unsubscribes_still_marked_otherwise_are_counted_once(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text(
        "email,status\nada@example.com,active\nADA@example.com,active\nbob@example.com,bounced\n"
        "cy@example.com,unsubscribed\ndi@example.com,active\n",
        encoding="utf-8",
    )
    ledger = {"ada@example.com", "bob@example.com", "cy@example.com", "zed@example.com"}
    assert check_list(path, unsubscribed=ledger).unsynced == 2  # ada (twice) and bob


def cells_by_csv(text: str) -> list[tuple[int, list[str]]]:
    """(first line, cells) of each record, as csv reads a file without open quotes."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records, line = [], 1
    for cells in reader:
        records.append((line, cells))
        line = reader.line_num + 1
    return records


@pytest.mark.parametrize("seed", range(30))
def test_records_are_csvs_records_when_every_quote_is_closed(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    pieces = ["a", "", " b ", "c\x00d", "é", "x;y", '"q,1"', '"say ""hi"""', '"two\nlines"', "z"]
    lines = []
    for _ in range(rng.randint(1, 40)):
        row = ",".join(rng.choice(pieces) for _ in range(rng.randint(1, 4)))
        lines.append(row + rng.choice(["\n", "\r\n", "\r", ""]) if lines or row else "\n")
    text = "".join(line if line.endswith(("\n", "\r")) else line + "\n" for line in lines)

    records = Records(tmp_path / "x.csv", io.StringIO(text, newline=""))

    assert [(line, cells) for line, cells, _ in records] == cells_by_csv(text)


def spelling_variants(rng: random.Random, rows: int) -> str:
    """A list whose readers come back in every spelling of their address: case, spaces
    around it, the other form of an international domain, a mailbox name; and quoted,
    which is invalid."""
    people = [("ann", "example.com"), ("bob", "bücher.example"), ("postmaster", "x.org")]
    people += [(f"p{n}", "example.com") for n in range(rows // 4)]
    lines = ["email,name,status"]
    for _ in range(rows):
        local, domain = rng.choice(people)
        spelled = rng.choice(
            [
                f"{local}@{domain}",
                f"{local.upper()}@{domain.upper()}",
                f'"{local}"@{domain}',
                f"  {local}@{domain} ",
                f"{local}@{domain.encode('idna').decode()}",
            ]
        )
        status = rng.choice(["active", "active", "", "unsubscribed", "bounced", "complained"])
        cell = '"' + spelled.replace('"', '""') + '"'  # as a spreadsheet quotes it
        lines.append(f"{cell},Name,{status}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("count", [2, 3])
def test_the_shares_of_a_list_checked_apart_are_the_list_checked_whole(
    tmp_path: Path, seed: int, count: int
) -> None:
    rng = random.Random(seed)
    path = tmp_path / "subscribers.csv"
    text = spelling_variants(rng, 60) if seed % 2 else random_list(rng, 60)
    path.write_text(text, encoding="utf-8", newline="")
    unsubscribed = {"ann@example.com", "p1@example.com", "bob@bücher.example"}

    whole = check_list(path, unsubscribed=unsubscribed)
    shares = [check_list(path, unsubscribed=unsubscribed, share=(i, count)) for i in range(count)]

    assert ListCheck.of_shares(shares) == whole
    assert all(share.problems or share.counts for share in shares), "each share has rows"
