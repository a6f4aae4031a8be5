"""Reading subscribers.csv: validated Subscribers out, every bad row reported with its line number.

The file is streamed row by row (a list can have a million rows), so nothing here
holds the whole list in memory except ``check_subscribers``' table of addresses
seen, which it needs to name duplicates. Line numbers are physical lines of the
file (the header is line 1), correct across quoted fields that span lines.

A quoted value may span lines (an address block, a name on two lines). A quote left
open would make csv read every row after it into that one value, so a value that
spans lines is taken only when it is well formed: closed by a quote that a comma or
the end of a line follows, before the end of the file. Otherwise its row is reported
as a quote left open and skipped, and the lines after its first are read again as
rows (``_Records``). A well-formed value in which a line reads as a row of the file
is reported and skipped too (``_Layout.swallows_rows``): no value spanning rows is sent.
"""

from __future__ import annotations

import csv
import functools
import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar

from ..errors import InvalidAddress, SubscribersError
from ..files import special_kind
from ..models import SUBSCRIBER_STATUSES, Subscriber
from .addresses import normalize

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
# A record as RFC 4180 writes it: fields bare (no comma or line break, no quote first)
# or quoted (quotes inside doubled), separated by commas, then the end of the line.
_FIELD = r'(?:[^",\r\n][^,\r\n]*|"(?:[^"]|"")*")?'
_WELL_FORMED = re.compile(rf"{_FIELD}(?:,{_FIELD})*(?:\r\n|\n|\r)?")
# What an address in a line of its own looks like (a line that could be a row).
_ADDRESS = re.compile(r'[^@\s"]+@[^@\s"]+')
# A record's ``lines`` when its quote was left open (see _Records).
_LEFT_OPEN = 0
# Given to csv to close a value whose quote is open at the end of the file.
_CLOSING_QUOTE = '"\n'
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


@dataclass
class AudienceReport:
    """What ``active_audience`` let through and what it skipped, and why, filled as it streams.

    ``skipped`` counts by reason: unsubscribed, bounced, complained, invalid, duplicate
    (the last is counted by whoever deduplicates: the ledger's AudiencePacker).
    """

    active: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)

    def count_withheld(
        self, addresses: Iterable[str], suppressed: Mapping[str, Suppression]
    ) -> None:
        """Count as duplicates, and report, the active rows left out because another row of
        their address is unsubscribed, bounced or complained (see suppressed_addresses)."""
        for email in addresses:
            why = suppressed[email.lower()]
            self.active -= 1
            self.skipped[DUPLICATE] += 1
            reason = f"marked {why.status} here, so its row marked active is not sent either"
            self.problems.append(Problem(why.line, email, reason, DUPLICATE))


def _fits(_subscriber: Subscriber) -> str:
    """Every row fits (``check_subscribers`` without an email to size rows against)."""
    return ""


def read_subscribers(path: Path) -> Iterator[Subscriber | Problem]:
    """Each row of the file in order: a Subscriber, or a Problem when the row is invalid.

    Raises SubscribersError (on first iteration) when the file cannot be read at all.
    """
    return _reading(path, _rows)


@dataclass(frozen=True)
class Suppression:
    """A row that keeps its address off every send: its line and status."""

    line: int
    status: str


def suppressed_addresses(path: Path) -> dict[str, Suppression]:
    """Each address (lowercased) that a row marks unsubscribed, bounced or complained, with
    the first such row.

    Such a row keeps the address off the list even if another row of it says active: a
    reader who unsubscribed once is not mailed through a duplicate row. Only these rows
    are validated, so the scan costs about a microsecond a row.
    """
    suppressed: dict[str, Suppression] = {}
    for line, email, status in _reading(path, _inactive_rows):
        try:
            key = normalize(email).lower()
        except InvalidAddress:
            continue  # reported as invalid when the list is read
        suppressed.setdefault(key, Suppression(line, status))
    return suppressed


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


def active_audience(path: Path, report: AudienceReport) -> Iterator[Subscriber]:
    """The valid, active subscribers in file order; counts the rest in ``report``.

    Duplicates are not removed here (the ledger's AudiencePacker dedupes and counts them).
    """
    for row in read_subscribers(path):
        if isinstance(row, Problem):
            report.problems.append(row)
            report.skipped[row.kind] += 1
        elif not row.active:
            report.skipped[row.status] += 1
        else:
            report.active += 1
            yield row


def merge_columns(path: Path) -> tuple[str, ...]:
    """The file's columns beyond the known ones: the merge fields templates may use."""
    return next(_reading(path, _extra_columns), ())


def _extra_columns(path: Path, handle: Iterable[str]) -> Iterator[tuple[str, ...]]:
    """The header's columns beyond the known ones (the merge fields), if it has a header."""
    layout = _header(path, iter(_Records(path, handle)))
    if layout is not None:
        yield tuple(name for name, _ in layout.merge)


def check_subscribers(path: Path, misfit: Callable[[Subscriber], str] = _fits) -> list[Problem]:
    """Every row that a send leaves out for a reason other than its status, in line order.

    That is: invalid rows; active rows whose merge fields are too large, as ``misfit``
    (the send's own test, for the email's tokens) says; active rows whose address
    another row marks unsubscribed, bounced or complained (the send withholds them);
    and duplicates (addresses compare case-insensitively). A row marked inactive is a
    duplicate only of another inactive one: repeating an active row, it is the row that
    keeps the address off the list, and the active row is the one reported.
    """
    suppressed = suppressed_addresses(path)
    seen: dict[bool, dict[str, int]] = {True: {}, False: {}}  # by whether the row is active
    problems: list[Problem] = []
    for row in read_subscribers(path):
        problem = row if isinstance(row, Problem) else _left_out(row, misfit, suppressed, seen)
        if problem is not None:
            problems.append(problem)
    return problems


def _left_out(
    row: Subscriber,
    misfit: Callable[[Subscriber], str],
    suppressed: Mapping[str, Suppression],
    seen: dict[bool, dict[str, int]],
) -> Problem | None:
    """Why a send leaves a valid row out, beyond its status; None when it does not."""
    key = row.email.lower()
    if row.active:
        too_large = misfit(row)
        if too_large:
            return Problem(row.line, row.email, too_large)
        if key in suppressed:
            why = suppressed[key]
            reason = f"line {why.line} marks this address {why.status}, so this row is not sent"
            return Problem(row.line, row.email, reason, DUPLICATE)
    first = seen[row.active].setdefault(key, row.line)
    if first != row.line:
        return Problem(row.line, row.email, f"duplicate of line {first}", DUPLICATE)
    return None


def first_active(path: Path) -> Subscriber | None:
    """The first valid active subscriber, for build and preview; None when there is none."""
    with closing(read_subscribers(path)) as rows:
        for row in rows:
            if isinstance(row, Subscriber) and row.active:
                return row
    return None


def _rows(path: Path, handle: Iterable[str]) -> Iterator[Subscriber | Problem]:
    records = iter(_Records(path, handle))
    layout = _header(path, records)
    if layout is None:
        raise SubscribersError(
            f"{path}: the file is empty", "add a header row with an `email` column"
        )
    for line, cells, lines in records:
        if lines == _LEFT_OPEN:
            yield Problem(line, layout.written_email(cells), LEFT_OPEN_QUOTE)
            continue
        row = _row(layout, cells, line, spans_lines=lines > 1)
        if row is not None:
            yield row


def _inactive_rows(path: Path, handle: Iterable[str]) -> Iterator[tuple[int, str, str]]:
    """(line, address as written, status) of each row with a known status other than active."""
    records = iter(_Records(path, handle))
    layout = _header(path, records)
    if layout is None:
        return
    for line, cells, lines in records:
        if lines != _LEFT_OPEN and layout.status < len(cells):
            status = cells[layout.status].strip().lower()
            if status in _INACTIVE and layout.email < len(cells):
                yield line, cells[layout.email].strip(), status


def _header(path: Path, records: Iterator[tuple[int, list[str], int]]) -> _Layout | None:
    """The layout the header row gives, None for an empty file."""
    header = next(records, None)
    if header is None:
        return None
    _, names, lines = header
    if lines == _LEFT_OPEN:
        raise SubscribersError(
            f"{path}: line 1 (the header row) has a quote left open",
            "close the quote, or take the quotes out of the header row",
        )
    return _Layout.of(path, names)


_INACTIVE = frozenset(SUBSCRIBER_STATUSES) - {"active"}


def _not_csv(path: Path, line: int, error: csv.Error) -> SubscribersError:
    return SubscribersError(
        f"{path}: line {line} is not valid CSV ({error})",
        "fix that line; quote fields that contain commas, quotes or newlines",
    )


class _Records:
    """The file's CSV records, each as (line, cells, lines): the number of its first line,
    its cells, and how many lines it takes.

    A record whose quoted value spans lines but is not well formed (``_WELL_FORMED``),
    or is still open at the end of the file or at csv's field size limit, had its quote
    left open: csv read the lines after it into that value. It is given as ``_LEFT_OPEN``
    lines with the cells of its first line alone, and the lines after its first are read
    again as records. The lines of a record that spans lines are held meanwhile, at
    most csv's field size limit (128 KB); the file is otherwise streamed.
    """

    def __init__(self, path: Path, handle: Iterable[str]) -> None:
        self._path = path
        self._handle = iter(handle)  # resumed where it stopped after lines read again
        self._again: deque[str] = deque()  # lines to read (again) before the file's next
        self._held: list[str] = []  # the lines of a record that spans lines, as csv reads it
        self._done = 0  # csv's line count when it gave its last record
        self._at_end = False  # the file ended inside a quoted value
        self._reader = csv.reader(self._lines())

    def __iter__(self) -> Iterator[tuple[int, list[str], int]]:
        reader = self._reader
        line = 1  # the number of the next record's first line
        while True:
            try:
                for cells in reader:
                    lines = reader.line_num - self._done
                    self._done = reader.line_num
                    if lines == 1:  # the common case
                        yield line, cells, 1
                        line += 1
                    elif self._well_formed():
                        self._held.clear()
                        yield line, cells, lines
                        line += lines
                    else:
                        yield line, self._read_again(), _LEFT_OPEN
                        line += 1
                return
            except csv.Error as error:
                self._done = reader.line_num
                if not self._held:
                    raise _not_csv(self._path, line, error) from None
                # A value grown past the size limit: a quote left open, like any other.
                yield line, self._read_again(), _LEFT_OPEN
                line += 1

    def _well_formed(self) -> bool:
        """Whether the record held, which spans lines, is well formed and closed."""
        return not self._at_end and _WELL_FORMED.fullmatch("".join(self._held)) is not None

    def _read_again(self) -> list[str]:
        """The cells of the held record's first line; its other lines are to be read again."""
        held = self._held
        self._again.extendleft(reversed(held[1:]))
        first = held[0]
        held.clear()
        self._at_end = False
        return next(csv.reader([first]))

    def _lines(self) -> Iterator[str]:
        """The lines csv reads: any to read again, then the file's; and at the end of the
        file inside a quoted value, a quote that closes it, so that csv gives the record."""
        reader, held, again = self._reader, self._held, self._again
        previous = ""
        while True:
            from_file = not again
            for line in self._handle if from_file else _drained(again):
                if reader.line_num != self._done:  # csv asks for the next line of a record
                    if not held:
                        held.append(previous)
                    held.append(line)
                yield line
                previous = line
                if again and from_file:
                    break
            else:
                if not from_file:
                    continue
                if reader.line_num == self._done:
                    return
                if not held:
                    held.append(previous)
                self._at_end = True
                yield _CLOSING_QUOTE


def _drained(lines: deque[str]) -> Iterator[str]:
    """The lines, taken from the front until none is left (lines put in front meanwhile too)."""
    while lines:
        yield lines.popleft()


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
            f"{width + len(extra)} fields but the header has {width} "
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
