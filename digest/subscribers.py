"""Reading subscribers.csv: validated Subscribers out, every bad row reported with its line number.

The file is streamed row by row (a list can have a million rows), so nothing here
holds the whole list in memory except ``check_subscribers``' table of addresses
seen, which it needs to name duplicates. Line numbers are physical lines of the
file (the header is line 1), correct across quoted fields that span lines.
"""

from __future__ import annotations

import csv
import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar

from .addresses import InvalidAddress, normalize
from .errors import SubscribersError
from .files import special_kind
from .models import SUBSCRIBER_STATUSES, Subscriber

COLUMNS = ("email", "name", "status", "tags", "subscribed_at")
INVALID = "invalid"
DUPLICATE = "duplicate"
# A newline then what looks like the start of a row ("someone@host,"): inside one field,
# the sign of a quote left open, which makes csv read every following row into that field.
SWALLOWED_ROW = re.compile(r'\n[^,\s"]+@[^,\s]+,')
UNBALANCED_QUOTE = "unbalanced quote: the rows after it were read into this field; close the quote"
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
    header = next(csv.reader(handle), None)
    if header is not None:
        yield tuple(name for name, _ in _Layout.of(path, header).merge)


def check_subscribers(path: Path) -> list[Problem]:
    """Every problem in the file, in line order, including case-insensitive duplicates."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for row in read_subscribers(path):
        if isinstance(row, Problem):
            problems.append(row)
            continue
        key = row.email.lower()
        first = seen.setdefault(key, row.line)
        if first != row.line:
            problems.append(Problem(row.line, row.email, f"duplicate of line {first}", DUPLICATE))
    return problems


def first_active(path: Path) -> Subscriber | None:
    """The first valid active subscriber, for build and preview; None when there is none."""
    with closing(read_subscribers(path)) as rows:
        for row in rows:
            if isinstance(row, Subscriber) and row.active:
                return row
    return None


def _rows(path: Path, handle: Iterable[str]) -> Iterator[Subscriber | Problem]:
    reader = csv.reader(handle)
    try:
        header = next(reader, None)
        if header is None:
            raise SubscribersError(
                f"{path}: the file is empty", "add a header row with an `email` column"
            )
        layout = _Layout.of(path, header)
        end = reader.line_num
        for cells in reader:
            start, end = end + 1, reader.line_num
            row = _row(layout, cells, start, spans_lines=end > start)
            if row is not None:
                yield row
    except csv.Error as exc:
        raise _not_csv(path, reader.line_num, exc) from None


def _inactive_rows(path: Path, handle: Iterable[str]) -> Iterator[tuple[int, str, str]]:
    """(line, address as written, status) of each row with a known status other than active."""
    reader = csv.reader(handle)
    try:
        header = next(reader, None)
        if header is None:
            return
        layout = _Layout.of(path, header)
        end = reader.line_num
        for cells in reader:
            start, end = end + 1, reader.line_num
            if layout.status < len(cells):
                status = cells[layout.status].strip().lower()
                if status in _INACTIVE and layout.email < len(cells):
                    yield start, cells[layout.email].strip(), status
    except csv.Error as exc:
        raise _not_csv(path, reader.line_num, exc) from None


_INACTIVE = frozenset(SUBSCRIBER_STATUSES) - {"active"}


def _not_csv(path: Path, line: int, error: csv.Error) -> SubscribersError:
    return SubscribersError(
        f"{path}: line {line} is not valid CSV ({error})",
        "fix that line; quote fields that contain commas, quotes or newlines",
    )


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
        """Whether a known column holds what looks like further rows (a quote left open).

        A quoted name may span lines; only a line that starts like a row is suspect.
        """
        known = (self.email, self.name, self.status, self.tags, self.subscribed_at)
        return any("\n" in cells[i] and SWALLOWED_ROW.search(cells[i]) for i in known)


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
        return Problem(line, written.partition("\n")[0].strip(), UNBALANCED_QUOTE)
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
