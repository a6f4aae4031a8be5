"""subscribers.csv changed in place, as only `subscribers sync` and `subscribers import` do:
statuses raised (``mark_statuses``) and readers appended (``append_rows``), everything
else exactly as written.

Every other row, column, value, quote, line ending and byte order mark stays as it was,
and so does the row order: the file is copied record by record (``written_records``)
and only a changed row's status cell is rewritten. The new file is written beside the
old one and renamed over it (``files.Replacement``), with the old one's permissions, so
a crash leaves the old list or the new one; and it is put in place only if the old one
did not change meanwhile (an editor saving it, another sync), or it would be lost.

A status only ever goes up ``RANK``: a reader who complained stays so whatever else
SendGrid lists, one who unsubscribed is not turned into a bounce (which a list owner
may reactivate once the mailbox works again), and nobody is reactivated.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import re
import stat
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DiskFull, ListChanged, SubscribersError
from ..files import Replacement
from ..models import Subscriber
from .addresses import address_key
from .csvfile import Written, written_records

# The statuses from least to most final; sync moves a row up, never down.
RANK = {"active": 0, "bounced": 1, "unsubscribed": 2, "complained": 3}
STATUS = "status"
_BOM = "\ufeff"
_QUOTED = re.compile(r'"(?:[^"]|"")*"')
_BARE = re.compile(r"[^,\r\n]*")
_LINE_END = re.compile(r"(?:\r\n|\n|\r)\Z")
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


@dataclass(frozen=True)
class Mark:
    """What a source says of an address: the status it calls for, and who says so
    (``address`` as that source spells it, for reports)."""

    status: str
    source: str
    address: str


@dataclass(frozen=True)
class Change:
    """A row whose status was raised: its line, address, status before and after, and why."""

    line: int
    email: str
    before: str
    after: str
    source: str


@dataclass
class Marked:
    """What ``mark_statuses`` did: the rows it changed, how many rows had the status
    asked already (or a more final one), and the keys of the marks some row matched."""

    changes: list[Change] = field(default_factory=list)
    already: Counter[str] = field(default_factory=Counter)
    matched: set[str] = field(default_factory=set)


def stronger(mark: Mark, other: Mark | None) -> Mark:
    """The mark that wins: the more final status; on a tie, the one met first (``other``)."""
    return mark if other is None or RANK[mark.status] > RANK[other.status] else other


def mark_statuses(path: Path, marks: Mapping[str, Mark], *, write: bool) -> Marked:
    """Raise the status of each row whose address (``address_key``) has a mark that asks
    for a more final one; write the list (if ``write`` and anything changed).

    Invalid rows are left as they are. A list without a status column gets one, last,
    in the header and in each changed row (other rows may lack the cell: it reads as
    active). Raises ListChanged if the file changed while it was read.
    """
    marked = Marked()
    with _replacing(path, write) as (out, before):
        if out is not None and _has_bom(path):
            out.write(_BOM.encode())
        status_at = 0
        for record in written_records(path):
            text = record.text
            if record.header:
                status_at = _status_column(record.header)
                if status_at == len(record.header):
                    text = _with_cell(text, status_at, STATUS)
            elif isinstance(record.row, Subscriber):
                text = _marked(record, status_at, marks, marked)
            if out is not None:
                out.write(text.encode())
        if out is not None and marked.changes:
            _unchanged_since(path, before)
            out.commit()
    return marked


def _marked(record: Written, status_at: int, marks: Mapping[str, Mark], marked: Marked) -> str:
    """The record's text, its status cell raised if a mark asks for it."""
    row = record.row
    assert isinstance(row, Subscriber)
    key = address_key(row.email)
    mark = marks.get(key)
    if mark is None:
        return record.text
    marked.matched.add(key)
    if RANK[mark.status] <= RANK[row.status]:
        marked.already[row.status] += 1
        return record.text
    marked.changes.append(Change(row.line, row.email, row.status, mark.status, mark.source))
    return _with_cell(record.text, status_at, mark.status)


def append_rows(path: Path, rows: Sequence[Sequence[str]]) -> None:
    """Append ``rows`` (cells in the list's column order) to the list, each on a line of
    its own ending as the header's does; the file before them stays byte for byte.
    Raises ListChanged if the file changed while it was read."""
    header = next(written_records(path))
    ending = _LINE_END.search(header.text)
    newline = ending.group() if ending else "\n"
    with _replacing(path, True) as (out, before), path.open("rb") as old:
        assert out is not None
        last = b""
        for chunk in iter(lambda: old.read(1 << 20), b""):
            out.write(chunk)
            last = chunk[-1:]
        if last not in (b"\n", b"\r", b""):
            out.write(newline.encode())
        for cells in rows:
            out.write((",".join(map(_quoted, cells)) + newline).encode())
        _unchanged_since(path, before)
        out.commit()


def known_addresses(path: Path, wanted: Collection[str]) -> dict[str, int]:
    """Of the keys ``wanted`` (``address_key``), those some row of the list has (invalid
    rows too, as written), with the line of the first: one pass, memory of ``wanted``."""
    found: dict[str, int] = {}
    for record in written_records(path):
        row = record.row
        if row is not None:
            key = address_key(row.email)
            if key in wanted:
                found.setdefault(key, row.line)
    return found


def _status_column(names: tuple[str, ...]) -> int:
    """Where the status column is; one past the last column if the list has none."""
    return names.index(STATUS) if STATUS in names else len(names)


def _with_cell(text: str, index: int, value: str) -> str:
    """The record ``text`` with its cell ``index`` made ``value`` (a plain word) and every
    other cell, its quotes and the line ending as written; empty cells are added up to
    ``index`` when the record has fewer. A record not written as RFC 4180 writes one
    (which csv still reads) is written again the way RFC 4180 does."""
    ending = _LINE_END.search(text)
    body, end = (text[: ending.start()], ending.group()) if ending else (text, "")
    cells = _raw_cells(body)
    if cells is None:
        cells = [_quoted(cell) for cell in next(csv.reader(io.StringIO(body)), [])]
    cells += [""] * (index + 1 - len(cells))
    cells[index] = value
    return ",".join(cells) + end


def _raw_cells(body: str) -> list[str] | None:
    """The cells of a record as written, quotes kept; None if it is not well formed."""
    cells: list[str] = []
    at = 0
    while True:
        found = (_QUOTED if body.startswith('"', at) else _BARE).match(body, at)
        if found is None:
            return None
        cells.append(found.group())
        at = found.end()
        if at == len(body):
            return cells
        if body[at] != ",":
            return None
        at += 1


def _quoted(value: str) -> str:
    """A cell as RFC 4180 writes it: quoted (quotes doubled) only if it must be."""
    return f'"{value.replace(chr(34), chr(34) * 2)}"' if _NEEDS_QUOTES.search(value) else value


def _has_bom(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(_BOM.encode())) == _BOM.encode()


@contextmanager
def _replacing(path: Path, write: bool) -> Iterator[tuple[Replacement | None, os.stat_result]]:
    """The list's Replacement (None when nothing is to be written) and its state as it is
    first read; a file system's refusal as one line that names the list."""
    try:
        before = path.stat()
        with contextlib.ExitStack() as stack:
            out = None
            if write:
                out = stack.enter_context(Replacement(path, mode=stat.S_IMODE(before.st_mode)))
            yield out, before
    except FileNotFoundError:
        raise SubscribersError(f"{path}: no such file") from None
    except OSError as exc:
        said = f"cannot write the new {path.name} beside it in {path.parent}/"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise DiskFull(f"{said} ({exc.strerror})") from None
        raise SubscribersError(
            f"{said} ({exc.strerror or exc})",
            "the list's folder must be writable (the list is replaced whole, never edited"
            " in place); nothing was changed",
        ) from None


def _unchanged_since(path: Path, before: os.stat_result) -> None:
    """Refuse to replace a list that changed since it was first read: the change would
    be lost."""
    now = path.stat()
    same = (now.st_ino, now.st_size, now.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    if not same:
        raise ListChanged(f"{path} changed while digest was reading it")
