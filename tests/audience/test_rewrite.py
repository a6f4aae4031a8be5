"""subscribers.csv changed in place: only the status cells that must change, every other byte
as written; rows appended after the list as it was."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from digest.audience.addresses import address_key
from digest.audience.csvfile import Problem, read_subscribers, written_records
from digest.audience.rewrite import RANK, Mark, append_rows, mark_statuses, stronger
from digest.errors import SubscribersError
from digest.models import Subscriber

DATA = Path(__file__).resolve().parents[1] / "data" / "subscribers"
READABLE = sorted(
    path
    for path in DATA.glob("*.csv")
    if path.name not in {"hostile_header.csv", "no_email_column.csv", "open_quote_header.csv"}
)


def copy(path: Path, tmp_path: Path) -> Path:
    target = tmp_path / "subscribers.csv"
    target.write_bytes(path.read_bytes())
    return target


@pytest.mark.parametrize("path", READABLE, ids=lambda path: path.name)
def test_the_records_as_written_are_the_file(path: Path) -> None:
    text = path.read_bytes().decode("utf-8-sig")
    records = list(written_records(path))
    assert "".join(record.text for record in records) == text
    assert [r.row for r in records if r.row is not None] == list(read_subscribers(path))


@pytest.mark.parametrize("path", READABLE, ids=lambda path: path.name)
def test_marking_every_reader_changes_their_status_cells_and_nothing_else(
    path: Path, tmp_path: Path
) -> None:
    target = copy(path, tmp_path)
    before = list(written_records(target))
    marks = {
        address_key(r.row.email): Mark("complained", "test", r.row.email)
        for r in before
        if isinstance(r.row, Subscriber)
    }

    marked = mark_statuses(target, marks, write=True)

    after = list(written_records(target))
    assert len(after) == len(before)
    changed = {change.line for change in marked.changes}
    for old, new in zip(before[1:], after[1:], strict=True):
        if isinstance(old.row, Subscriber) and old.row.line in changed:
            assert isinstance(new.row, Subscriber)
            assert new.row == replace(old.row, status="complained")
        else:
            assert new.text == old.text
    assert all(isinstance(r.row, Subscriber) for r in before if r.row and r.row.line in changed)
    assert changed == {
        r.row.line for r in before if isinstance(r.row, Subscriber) and r.row.status != "complained"
    }


def marked_file(tmp_path: Path, text: str, address: str, status: str) -> str:
    path = tmp_path / "subscribers.csv"
    path.write_bytes(text.encode())
    mark_statuses(path, {address_key(address): Mark(status, "test", address)}, write=True)
    return path.read_bytes().decode()


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # a short row gets the cells it lacks
        ("email,name,status\nada_at_x.com\n", "email,name,status\nada_at_x.com,,bounced\n"),
        # quotes, a value over two lines and the line ending kept
        (
            'email,name,status,city\r\n"ada_at_x.com","A\r\nB",active,"Z, Q"\r\n',
            'email,name,status,city\r\n"ada_at_x.com","A\r\nB",bounced,"Z, Q"\r\n',
        ),
        # a quoted status replaced; no line ending at the end stays none
        ('email,status\nada_at_x.com,"active"', "email,status\nada_at_x.com,bounced"),
        # quotes csv reads leniently are written again the way RFC 4180 writes them
        (
            'email,name,status\nada_at_x.com,"Bo"b,active\n',
            "email,name,status\nada_at_x.com,Bob,bounced\n",
        ),
        # no status column: one is added to the header and the changed rows
        (
            "email,name\nbob_at_x.com,B\nada_at_x.com,A\n",
            "email,name,status\nbob_at_x.com,B\nada_at_x.com,A,bounced\n",
        ),
    ],
)
def test_a_status_cell_is_rewritten_as_little_as_it_can_be(
    tmp_path: Path, before: str, after: str
) -> None:
    result = marked_file(tmp_path, before.replace("_at_", "@"), "ada@x.com", "bounced")
    assert result == after.replace("_at_", "@")


def test_a_status_only_goes_up(tmp_path: Path) -> None:
    text = (
        "email,status\na@x.com,complained\nb@x.com,unsubscribed\nc@x.com,bounced\nd@x.com,active\n"
    )
    path = tmp_path / "subscribers.csv"
    path.write_text(text, encoding="utf-8")
    marks = {f"{who}@x.com": Mark("bounced", "test", f"{who}@x.com") for who in "abcd"}
    marked = mark_statuses(path, marks, write=True)
    assert path.read_text(encoding="utf-8") == text.replace("d@x.com,active", "d@x.com,bounced")
    assert marked.already == {"complained": 1, "unsubscribed": 1, "bounced": 1}


def test_the_most_final_mark_wins_and_the_first_on_a_tie() -> None:
    first, later = Mark("unsubscribed", "one", "a"), Mark("unsubscribed", "two", "a")
    assert stronger(later, first) is first
    assert stronger(Mark("complained", "spam", "a"), first).status == "complained"
    assert stronger(Mark("bounced", "bounce", "a"), first) is first
    assert list(RANK) == ["active", "bounced", "unsubscribed", "complained"]


def test_a_dry_run_writes_nothing_not_even_a_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text("email,status\na@x.com,active\n", encoding="utf-8")
    marked = mark_statuses(path, {"a@x.com": Mark("bounced", "t", "a@x.com")}, write=False)
    assert [c.line for c in marked.changes] == [2]
    assert path.read_text(encoding="utf-8") == "email,status\na@x.com,active\n"
    assert [p.name for p in tmp_path.iterdir()] == ["subscribers.csv"]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("\ufeffemail,name\r\nold@x.com,Old\r\n", "\ufeffemail,name\r\nold@x.com,Old\r\n"),
        ("email,name\nold@x.com,Old", "email,name\nold@x.com,Old\n"),  # a line end added
    ],
)
def test_appended_rows_follow_the_list_as_it_was_in_its_line_ending(
    tmp_path: Path, before: str, after: str
) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_bytes(before.encode())
    append_rows(path, [["new@x.com", 'Ann "A", B'], ["two@x.com", "Line\nbreak"]])
    ending = "\r\n" if "\r\n" in before else "\n"
    added = f'new@x.com,"Ann ""A"", B"{ending}two@x.com,"Line\nbreak"{ending}'
    assert path.read_bytes().decode() == after + added
    rows = [row for row in read_subscribers(path) if not isinstance(row, Problem)]
    assert [(r.email, r.name) for r in rows][-2:] == [
        ("new@x.com", 'Ann "A", B'),
        ("two@x.com", "Line\nbreak"),
    ]


def test_an_empty_list_file_is_an_error_not_a_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(SubscribersError, match="the file is empty"):
        mark_statuses(path, {}, write=True)
