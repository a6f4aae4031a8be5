"""Reading subscribers.csv: validated Subscribers out, every bad row reported with its line number.

The file is streamed row by row (a list can have a million rows). Line numbers are
physical lines of the file (the header is line 1), correct across quoted fields that
span lines. A row whose quote was left open is reported as such and skipped, and the
lines after its first are read again as rows (``records.Records``). A well-formed value
in which a line reads as a row of the file is reported and skipped too
(``_Layout.swallows_rows``): no value spanning rows is sent.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO, TypeVar

from ..errors import InvalidAddress, SubscribersError
from ..files import special_kind
from ..models import SUBSCRIBER_STATUSES, Subscriber
from ..text import plural
from .addresses import normalize
from .records import LEFT_OPEN, Records

COLUMNS = ("email", "name", "status", "tags", "subscribed_at")
INVALID = "invalid"
DUPLICATE = "duplicate"
LEFT_OPEN_QUOTE = (
    "quote left open: the row is skipped and the lines after it are read as rows; close the quote"
)
ROWS_IN_VALUE = (
    "a quoted value over several lines holds what reads as a row: the row is skipped; "
    "close the quote where the value ends, or keep that line from starting with an address"
)
# What an address in a line of its own looks like (a line that could be a row).
_ADDRESS = re.compile(r'[^@\s"]+@[^@\s"]+')
# Far beyond any row (SendGrid takes 10,000 bytes of merge fields per reader).
MAX_LINE_CHARS = 1024 * 1024
T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """A row that cannot be sent to: its line, its address (as written if invalid), why, and kind.

    ``kind`` is "invalid" (bad address, bad status, substitutions too large) or "duplicate".
    """

    line: int
    email: str
    reason: str
    kind: str = INVALID

    def __str__(self) -> str:
        shown = self.email or "(no address)"
        return f"line {self.line}: {shown}: {self.reason}"


def read_subscribers(path: Path) -> Iterator[Subscriber | Problem]:
    """Each row of the file in order: a Subscriber, or a Problem when the row is invalid.

    Raises SubscribersError (on first iteration) when the file cannot be read at all.
    """
    return _reading(path, _rows)


def inactive_rows(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, address as written, status) of each row with a known status other than active.

    Raises SubscribersError (on first iteration) when the file cannot be read at all.
    """
    return _reading(path, _inactive_rows)


def _reading(path: Path, rows: Callable[[Path, Iterable[str]], Iterator[T]]) -> Iterator[T]:
    """``rows(path, lines)`` over the file's lines, with one clear error if it cannot be read."""
    try:
        kind = special_kind(path)
        if kind:
            raise SubscribersError(
                f"{path}: is {kind}, not a CSV file", "set [subscribers] path to the list's file"
            )
        with path.open(encoding="utf-8-sig", newline="") as handle:
            yield from rows(path, _lines(path, handle))
    except FileNotFoundError:
        raise SubscribersError(
            f"{path}: no such file",
            "create it with a header row such as `email,name,status`, "
            "or set [subscribers] path in digest.toml",
        ) from None
    except UnicodeDecodeError:
        raise SubscribersError(
            f"{path}: line {_undecodable_line(path)} is not valid UTF-8",
            "save the file as UTF-8 (in Excel: CSV UTF-8)",
        ) from None
    except OSError as exc:
        raise SubscribersError(f"{path}: cannot read the file ({exc.strerror or exc})") from None


def _lines(path: Path, handle: TextIO) -> Iterator[str]:
    """The file's lines, each shorter than MAX_LINE_CHARS: csv reads a whole line before
    it looks at it, so a file without line breaks (a device, a corrupt export) would
    otherwise be read into memory whole. (csv's own limit bounds a field across lines.)"""
    lines = iter(functools.partial(handle.readline, MAX_LINE_CHARS), "")
    for number, line in enumerate(lines, start=1):
        if len(line) >= MAX_LINE_CHARS:
            raise SubscribersError(
                f"{path}: line {number} is longer than {MAX_LINE_CHARS:,} characters",
                "this is not a subscriber list, or a broken one: check [subscribers] path",
            )
        yield line


def merge_columns(path: Path) -> tuple[str, ...]:
    """The file's columns beyond the known ones: the merge fields templates may use."""
    return next(_reading(path, _extra_columns), ())


def _extra_columns(path: Path, handle: Iterable[str]) -> Iterator[tuple[str, ...]]:
    """The header's columns beyond the known ones (the merge fields), if it has a header."""
    layout = _header(path, iter(Records(path, handle)))
    if layout is not None:
        yield tuple(name for name, _ in layout.merge)


def first_active(path: Path) -> Subscriber | None:
    """The first valid active subscriber, for build and preview; None when there is none."""
    with closing(read_subscribers(path)) as rows:
        for row in rows:
            if isinstance(row, Subscriber) and row.active:
                return row
    return None


def _rows(path: Path, handle: Iterable[str]) -> Iterator[Subscriber | Problem]:
    records = iter(Records(path, handle))
    layout = _header(path, records)
    if layout is None:
        raise SubscribersError(
            f"{path}: the file is empty", "add a header row with an `email` column"
        )
    for line, cells, lines in records:
        if lines == LEFT_OPEN:
            yield Problem(line, layout.written_email(cells), LEFT_OPEN_QUOTE)
            continue
        row = _row(layout, cells, line, spans_lines=lines > 1)
        if row is not None:
            yield row


def _inactive_rows(path: Path, handle: Iterable[str]) -> Iterator[tuple[int, str, str]]:
    """(line, address as written, status) of each row with a known status other than active."""
    records = iter(Records(path, handle))
    layout = _header(path, records)
    if layout is None:
        return
    for line, cells, lines in records:
        if lines != LEFT_OPEN and layout.status < len(cells):
            status = cells[layout.status].strip().lower()
            if status in _INACTIVE and layout.email < len(cells):
                yield line, cells[layout.email].strip(), status


def _header(path: Path, records: Iterator[tuple[int, list[str], int]]) -> _Layout | None:
    """The layout the header row gives, None for an empty file."""
    header = next(records, None)
    if header is None:
        return None
    _, names, lines = header
    if lines == LEFT_OPEN:
        raise SubscribersError(
            f"{path}: line 1 (the header row) has a quote left open",
            "close the quote, or take the quotes out of the header row",
        )
    return _Layout.of(path, names)


_INACTIVE = frozenset(SUBSCRIBER_STATUSES) - {"active"}


@dataclass(frozen=True)
class _Layout:
    """Where each column is in a row. A column the header lacks points at ``width``, the
    index of the empty cell every row is padded with, so that rows need no special case."""

    width: int
    email: int
    name: int
    status: int
    tags: int
    subscribed_at: int
    merge: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, path: Path, header: list[str]) -> _Layout:
        names = [name.strip() for name in header]
        names = [name.lower() if name.lower() in COLUMNS else name for name in names]
        if "email" not in names:
            found = ", ".join(name for name in names if name) or "nothing"
            raise SubscribersError(
                f"{path}: line 1 has no `email` column (found: {found})",
                "the first line must be a header row naming the columns, one of them `email`",
            )
        repeated = sorted({name for name in names if name and names.count(name) > 1})
        if repeated:
            raise SubscribersError(
                f"{path}: line 1 names the column(s) {', '.join(repeated)} more than once",
                "give every column a different name",
            )
        width = len(names)
        known = {name: names.index(name) if name in names else width for name in COLUMNS}
        merge = tuple(
            (name, index) for index, name in enumerate(names) if name and name not in COLUMNS
        )
        return cls(width=width, merge=merge, **known)

    def swallows_rows(self, cells: list[str]) -> bool:
        """Whether any value holds a line, after its first, that reads as a row of this file:
        an address in the email column, and two cells at least (when the header has two).

        Such a value may be rows read into a quote left open that happened to close
        well; a value over several lines (an address block, a name) seldom has one.
        """
        return any("\n" in cell and self._holds_row(cell) for cell in cells)

    def _holds_row(self, value: str) -> bool:
        for text in value.splitlines()[1:]:
            cells = next(csv.reader([text]), [])
            if (
                len(cells) >= min(2, self.width)
                and self.email < len(cells)
                and _ADDRESS.fullmatch(cells[self.email].strip())
            ):
                return True
        return False

    def written_email(self, cells: list[str]) -> str:
        """The address cell of a row, as written (stripped), "" if the row has none."""
        return cells[self.email].strip() if self.email < len(cells) else ""


def _row(
    layout: _Layout, cells: list[str], line: int, *, spans_lines: bool
) -> Subscriber | Problem | None:
    """The row as a Subscriber, or the Problem with it; None for a blank row."""
    width = layout.width
    extra: list[str] = []
    if len(cells) == width:  # the common case
        cells.append("")
    elif len(cells) > width:
        extra, cells = cells[width:], [*cells[:width], ""]
    else:
        cells.extend([""] * (width + 1 - len(cells)))
    written = cells[layout.email].strip()
    if spans_lines and layout.swallows_rows(cells):
        return Problem(line, written.partition("\n")[0].strip(), ROWS_IN_VALUE)
    if not written:
        blank = not "".join(cells).strip() and not "".join(extra).strip()
        return None if blank else Problem(line, "", "no email address")
    if extra and "".join(extra).strip():
        return Problem(
            line,
            written,
            f"{plural(width + len(extra), 'field')} but the header has {width} "
            "(quote fields that contain commas)",
        )
    try:
        email = normalize(written)
    except InvalidAddress as exc:
        return Problem(line, written, f"invalid address: {exc}")
    status = cells[layout.status].strip().lower() or "active"
    if status not in SUBSCRIBER_STATUSES:
        return Problem(
            line, written, f"unknown status {status!r} (use {', '.join(SUBSCRIBER_STATUSES)})"
        )
    tags = cells[layout.tags]
    return Subscriber(
        email,
        cells[layout.name].strip(),
        status,
        tuple(filter(None, map(str.strip, tags.split(";")))) if tags else (),
        cells[layout.subscribed_at].strip(),
        {name: cells[index].strip() for name, index in layout.merge} if layout.merge else {},
        line,
    )


def _undecodable_line(path: Path) -> int:
    """The first physical line that is not UTF-8 (decoding errors surface a buffer late);
    lines are read at most MAX_LINE_CHARS bytes at a time, as the file may have none."""
    with path.open("rb") as handle:
        lines = iter(functools.partial(handle.readline, MAX_LINE_CHARS), b"")
        for number, raw in enumerate(lines, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0
