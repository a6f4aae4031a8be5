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
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO, TypeVar

from ..errors import InvalidAddress, SubscribersError
from ..files import special_kind
from ..models import SUBSCRIBER_STATUSES, Subscriber
from ..text import plural
from .addresses import fast_normalize, slow_normalize
from .records import LEFT_OPEN, MAX_LINE_CHARS, Records

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
T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """A row that cannot be sent to: its line, its address (as written if invalid), why, and kind.

    ``kind`` is "invalid" (bad address, bad status, substitutions too large) or "duplicate".
    ``status``: what the row's status cell says when that keeps its address off every send
    though the row itself is broken (too many fields, rows in a value), as
    ``active.suppressed_addresses`` honours it; "" otherwise.
    """

    line: int
    email: str
    reason: str
    kind: str = INVALID
    status: str = ""

    def __str__(self) -> str:
        shown = self.email or "(no address)"
        return f"line {self.line}: {shown}: {self.reason}"


@dataclass(frozen=True)
class Written:
    """A record of the file exactly as written (its lines, line endings included) and what
    it reads as: ``row`` a Subscriber or a Problem, None for a blank row and the header,
    whose column names ``header`` gives (as the reader knows them: ``Email`` is ``email``).
    Joined, the texts of a file's records are the file (less a byte order mark)."""

    text: str
    row: Subscriber | Problem | None
    header: tuple[str, ...] = ()


# A share of a list's rows, (index, count): those whose address, as written, falls to
# ``index`` of ``count`` (``in_share``). Processes that each read one share of a list
# see every row once between them, and all the rows of one reader in the same share.
Share = tuple[int, int]
WHOLE: Share = (0, 1)


def read_subscribers(path: Path, share: Share = WHOLE) -> Iterator[Subscriber | Problem]:
    """Each row of the file (of ``share`` of it) in order: a Subscriber, or a Problem when
    the row is invalid.

    Raises SubscribersError (on first iteration) when the file cannot be read at all.
    """
    return _reading(path, functools.partial(_rows, share=share))


def in_share(written: str, share: Share) -> bool:
    """Whether the row whose address cell is ``written`` belongs to ``share``.

    Decided by its local part alone, ignoring case and the spaces around it, which is all
    that can tell apart two valid spellings of one address (``Ann@X.com``, ``ann@x.com``,
    ``ann@xn--bcher-kva.example`` and ``ann@bücher.example``; a quoted local part is not
    valid): all the rows of a reader go to the same share, so each share's duplicates and
    suppressions are its own.
    """
    return hash(written.strip().rpartition("@")[0].lower()) % share[1] == share[0]


def written_records(path: Path) -> Iterator[Written]:
    """Each record of the file as written, the header first, with what it reads as: what
    a command that rewrites the file copies, changing only what it must.

    Raises SubscribersError (on first iteration) when the file cannot be read at all.
    """
    return _reading(path, _written)


def inactive_rows(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, address as written, status) of each row with a known status other than active.

    Raises SubscribersError (on first iteration) when the file cannot be read at all.
    """
    return _reading(path, _inactive_rows)


def _reading(path: Path, rows: Callable[[Path, TextIO], Iterator[T]]) -> Iterator[T]:
    """``rows(path, handle)`` over the open file, with one clear error if it cannot be read."""
    try:
        kind = special_kind(path)
        if kind:
            raise SubscribersError(
                f"{path}: is {kind}, not a CSV file", "set [subscribers] path to the list's file"
            )
        with path.open(encoding="utf-8-sig", newline="") as handle:
            yield from rows(path, handle)
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


def merge_columns(path: Path) -> tuple[str, ...]:
    """The file's columns beyond the known ones: the merge fields templates may use."""
    return next(_reading(path, _extra_columns), ())


def _extra_columns(path: Path, handle: TextIO) -> Iterator[tuple[str, ...]]:
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


def _rows(path: Path, handle: TextIO, share: Share = WHOLE) -> Iterator[Subscriber | Problem]:
    records = Records(path, handle)
    layout = _header(path, iter(records))
    if layout is None:
        raise SubscribersError(
            f"{path}: the file is empty", "add a header row with an `email` column"
        )
    read = _row_reader(layout)
    if share != WHOLE:
        read = _share_of(read, layout.email, share)
    return records.read(read, 1 + layout.header_lines)


def _share_of(read: RowReader, at_email: int, share: Share) -> RowReader:
    """``read`` for the rows of ``share``; None, like a blank row, for the others (which
    it never looks at: that is the saving)."""

    def shared(cells: list[str], line: int, lines: int) -> Subscriber | Problem | None:
        written = cells[at_email] if at_email < len(cells) else ""
        return read(cells, line, lines) if in_share(written, share) else None

    return shared


def _written(path: Path, handle: TextIO) -> Iterator[Written]:
    """The records of ``_rows`` with the lines each was read from. Every line the file
    gives passes through ``taken`` once, in order; a record's lines are at its front when
    it comes, since csv reads no further than the record's end (lines read again after a
    quote left open come from Records' own copy, and wait here for their own records)."""
    taken: deque[str] = deque()

    class Teed:
        def readline(self, size: int) -> str:
            line = handle.readline(size)
            if line:
                taken.append(line)
            return line

    records = iter(Records(path, Teed()))
    layout = _header(path, records)
    if layout is None:
        raise SubscribersError(
            f"{path}: the file is empty", "add a header row with an `email` column"
        )
    yield Written("".join(taken), None, layout.names)
    taken.clear()
    read = _row_reader(layout)
    for line, cells, count in records:
        text = "".join(taken.popleft() for _ in range(max(count, 1)))
        yield Written(text, read(cells, line, count))
    if taken:  # never, by the above; but the file is rebuilt whole whatever happens
        yield Written("".join(taken), None)


def _inactive_rows(path: Path, handle: TextIO) -> Iterator[tuple[int, str, str]]:
    """(line, address as written, status) of each row with a known status other than active."""
    records = Records(path, handle)
    layout = _header(path, iter(records))
    if layout is None:
        return iter(())
    at_email, at_status = layout.email, layout.status

    def inactive(cells: list[str], line: int, lines: int) -> tuple[int, str, str] | None:
        if lines != LEFT_OPEN and at_status < len(cells):
            status = cells[at_status]
            if status != "active":  # as written, nearly always
                status = status.strip().lower()
                if status in _INACTIVE and at_email < len(cells):
                    return line, cells[at_email].strip(), status
        return None

    return records.read(inactive, 1 + layout.header_lines)


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
    return _Layout.of(path, names, lines)


_STATUSES = frozenset(SUBSCRIBER_STATUSES)
_INACTIVE = _STATUSES - {"active"}


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
    names: tuple[str, ...] = ()
    header_lines: int = 1

    @classmethod
    def of(cls, path: Path, header: list[str], lines: int = 1) -> _Layout:
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
                f"{path}: line 1 names {'the column' if len(repeated) == 1 else 'the columns'}"
                f" {', '.join(repeated)} more than once",
                "give every column a different name",
            )
        width = len(names)
        known = {name: names.index(name) if name in names else width for name in COLUMNS}
        merge = tuple(
            (name, index) for index, name in enumerate(names) if name and name not in COLUMNS
        )
        return cls(width=width, merge=merge, names=tuple(names), header_lines=lines, **known)

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


# What a record (its cells, first line and number of lines) reads as.
RowReader = Callable[[list[str], int, int], Subscriber | Problem | None]


def _row_reader(layout: _Layout) -> RowReader:
    """What a record (its cells, first line and number of lines) reads as under ``layout``:
    a Subscriber, the Problem with it, or None for a blank row. The column indexes are
    bound once: a list of a million rows would look each up a million times."""
    width, at_email, at_name, at_status = layout.width, layout.email, layout.name, layout.status
    at_tags, at_since, merge = layout.tags, layout.subscribed_at, layout.merge

    def read(cells: list[str], line: int, lines: int) -> Subscriber | Problem | None:
        if lines == LEFT_OPEN:
            return Problem(line, layout.written_email(cells), LEFT_OPEN_QUOTE)
        extra: list[str] | tuple[()] = ()
        if len(cells) == width:  # the common case
            cells.append("")
        elif len(cells) > width:
            extra, cells = cells[width:], [*cells[:width], ""]
        else:
            cells.extend([""] * (width + 1 - len(cells)))
        written = cells[at_email].strip()
        if lines > 1 and layout.swallows_rows(cells):
            first = written.partition("\n")[0].strip()
            return Problem(line, first, ROWS_IN_VALUE, status=_keeps_off(cells[at_status], written))
        if not written:
            blank = not "".join(cells).strip() and not "".join(extra).strip()
            return None if blank else Problem(line, "", "no email address")
        if extra and "".join(extra).strip():
            fields = f"{plural(width + len(extra), 'field')} but the header has {width}"
            reason = f"{fields} (quote fields that contain commas)"
            return Problem(line, written, reason, status=_keeps_off(cells[at_status], written))
        try:  # normalize(), its two steps inlined: a million rows call it a million times
            email = fast_normalize(written) or slow_normalize(written)
        except InvalidAddress as exc:
            return Problem(line, written, f"invalid address: {exc}")
        status = cells[at_status]
        if status not in _STATUSES:  # as written, nearly always; else read it leniently
            status = status.strip().lower() or "active"
        if status not in _STATUSES:
            return Problem(
                line, written, f"unknown status {status!r} (use {', '.join(SUBSCRIBER_STATUSES)})"
            )
        tags = cells[at_tags]
        return Subscriber(
            email,
            cells[at_name].strip(),
            status,
            tuple(filter(None, map(str.strip, tags.split(";")))) if tags else (),
            cells[at_since].strip(),
            {name: cells[index].strip() for name, index in merge} if merge else {},
            line,
        )

    return read


def _keeps_off(status_cell: str, written: str) -> str:
    """The status a broken row's cell names if it keeps its address off every send, as
    ``_inactive_rows`` reads it (an address over several lines is none); else ""."""
    status = status_cell.strip().lower()
    return status if status in _INACTIVE and "\n" not in written else ""


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
