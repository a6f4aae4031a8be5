"""subscribers.path is bounded: what is not a regular file is refused in one line, and no
line is read whole past a megabyte (/dev/zero as the list grew the process to 15 GB)."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from digest.audience.active import check_subscribers
from digest.audience.csvfile import MAX_LINE_CHARS, first_active, read_subscribers
from digest.errors import SubscribersError
from digest.models import Subscriber

HINT = "set [subscribers] path to the list's file"


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_device_as_the_list_is_one_line(device: str) -> None:
    for read in (check_subscribers, first_active):
        with pytest.raises(SubscribersError) as caught:
            read(Path(device))
        assert str(caught.value) == f"{device}: is a device, not a CSV file; {HINT}"


def test_a_folder_or_a_named_pipe_as_the_list_is_refused(tmp_path: Path) -> None:
    """A pipe would block with no writer, and send reads the list more than once."""
    os.mkfifo(tmp_path / "pipe.csv")
    for path, kind in ((tmp_path, "a folder"), (tmp_path / "pipe.csv", "a named pipe")):
        with pytest.raises(SubscribersError, match=f"is {kind}, not a CSV file"):
            check_subscribers(path)


def write_huge_line(path: Path, byte: bytes, size: int) -> None:
    """A header, then one line of ``size`` bytes without a break."""
    with path.open("wb") as out:
        out.write(b"email,name\n")
        for _ in range(size // 1_000_000):
            out.write(byte * 1_000_000)


@pytest.mark.parametrize(
    ("byte", "reason"),
    [(b"x", "is longer than 1,048,576 characters"), (b"\xff", "is not valid UTF-8")],
    ids=["text", "not-utf8"],
)
def test_a_line_of_30_mb_is_refused_without_reading_it_whole(
    tmp_path: Path, byte: bytes, reason: str
) -> None:
    path = tmp_path / "subscribers.csv"
    write_huge_line(path, byte, 30_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(SubscribersError) as caught:
            list(read_subscribers(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(caught.value).startswith(f"{path}: line 2 {reason}")
    assert peak < 10 * MAX_LINE_CHARS


def test_a_field_over_csvs_limit_across_many_lines_costs_its_row_only(tmp_path: Path) -> None:
    """csv's own field limit (131,072 characters) bounds a quoted field spanning lines: past
    it the row is a quote left open, and the lines after it are read as rows again."""
    path = tmp_path / "subscribers.csv"
    path.write_text(
        'email,name\nann@example.com,"' + "x\n" * 100_000 + '"\nbob@example.com,Bob\n',
        encoding="utf-8",
    )
    problems = check_subscribers(path)
    assert (problems[0].line, problems[0].email) == (2, "ann@example.com")
    assert problems[0].reason.startswith("quote left open")
    assert [row.email for row in read_subscribers(path) if isinstance(row, Subscriber)] == [
        "bob@example.com"
    ]


def test_a_line_just_under_the_limit_is_read_as_before(tmp_path: Path) -> None:
    """Ten merge fields of 100,000 characters (each under csv's field limit) and a CRLF."""
    path = tmp_path / "subscribers.csv"
    columns = [f"c{n}" for n in range(10)]
    row = "ann@example.com," + ",".join("v" * 100_000 for _ in columns)
    row += "," + "w" * (MAX_LINE_CHARS - len(row) - 4) + "\r\n"
    assert len(row) == MAX_LINE_CHARS - 1
    path.write_text(f"email,{','.join(columns)},last\r\n{row}bob@example.com\n", newline="")
    ann, bob = read_subscribers(path)
    assert (ann.email, ann.line, ann.fields["c9"]) == ("ann@example.com", 2, "v" * 100_000)
    assert (bob.email, bob.line) == ("bob@example.com", 3)
