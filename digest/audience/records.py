"""The CSV records of subscribers.csv, read so that a quote left open costs its own row only.

A quoted value may span lines (an address block, a name on two lines). A quote left
open would make csv read every row after it into that one value, so a value that
spans lines is taken only when it is well formed: closed by a quote that a comma or
the end of a line follows, before the end of the file. Otherwise its record is given
as ``LEFT_OPEN`` with the cells of its first line alone, and the lines after its first
are read again as records.
"""

from __future__ import annotations

import csv
import functools
import re
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

from ..errors import SubscribersError

# A record as RFC 4180 writes it: fields bare (no comma or line break, no quote first)
# or quoted (quotes inside doubled), separated by commas, then the end of the line.
_FIELD = r'(?:[^",\r\n][^,\r\n]*|"(?:[^"]|"")*")?'
_WELL_FORMED = re.compile(rf"{_FIELD}(?:,{_FIELD})*(?:\r\n|\n|\r)?")
# A record's ``lines`` when its quote was left open (see Records).
LEFT_OPEN = 0
# Far beyond any row (SendGrid takes 10,000 bytes of merge fields per reader): csv reads a
# whole line before it looks at it, so a file without line breaks (a device, a corrupt
# export) would otherwise be read into memory whole. (csv's own limit bounds a field.)
MAX_LINE_CHARS = 1024 * 1024
# Given to csv to close a value whose quote is open at the end of the file.
_CLOSING_QUOTE = '"\n'


class Lines(Protocol):
    """What Records reads lines from: a text file opened with ``newline=""``."""

    def readline(self, size: int, /) -> str: ...


T = TypeVar("T")


def _not_csv(path: Path, line: int, error: csv.Error) -> SubscribersError:
    return SubscribersError(
        f"{path}: line {line} is not valid CSV ({error})",
        "fix that line; quote fields that contain commas, quotes or newlines",
    )


class Records:
    """The file's CSV records, each as (line, cells, lines): the number of its first line,
    its cells, and how many lines it takes.

    A line without a quote is a record of its own, its cells split at the commas: the
    common case, read without csv (which would take twice as long for the same cells).
    A line with a quote starts a record csv reads, as many lines as it takes. A record
    whose quoted value spans lines but is not well formed (``_WELL_FORMED``), or is still
    open at the end of the file or at csv's field size limit, had its quote left open:
    csv read the lines after it into that value. It is given as ``LEFT_OPEN`` lines with
    the cells of its first line alone, and the lines after its first are read again as
    records. The lines of a record that spans lines are held meanwhile, at most csv's
    field size limit (128 KB); the file is otherwise streamed.
    """

    def __init__(self, path: Path, handle: Lines) -> None:
        self._path = path
        # Lines of at most MAX_LINE_CHARS (a longer one is refused), read without a Python
        # frame between the file and the loop below; resumed after lines read again.
        self._handle = iter(functools.partial(handle.readline, MAX_LINE_CHARS), "")
        self._again: deque[str] = deque()  # lines to read again before the file's next

    def __iter__(self) -> Iterator[tuple[int, list[str], int]]:
        return self.read(_as_record)

    def read(self, make: Callable[[list[str], int, int], T | None], line: int = 1) -> Iterator[T]:
        """``make(cells, line, lines)`` of each record from here on, the first at ``line``
        (after a header read through ``iter``: its line plus its lines), Nones left out:
        what a reader of rows wants, without a tuple and a loop of its own for each."""
        again, longest = self._again, csv.field_size_limit()
        while True:
            from_file = not again
            for text in self._handle if from_file else _drained(again):
                if '"' not in text and len(text) <= longest:  # no field can be over the limit
                    body = text.rstrip("\r\n")
                    made = make(body.split(",") if body else [], line, 1)
                    line += 1
                    if made is not None:
                        yield made
                    continue
                self._bounded(text, line)
                cells, lines = self._quoted(text, line)
                made = make(cells, line, lines)
                line += lines or 1
                if made is not None:
                    yield made
                if from_file and again:  # lines to read again come before the file's next
                    break
            else:
                if from_file:
                    return

    def _quoted(self, first: str, line: int) -> tuple[list[str], int]:
        """The record that starts with line ``first`` as csv reads it, and its lines; or the
        cells of ``first`` alone and LEFT_OPEN, its other lines to be read again."""
        held = [first]
        at_end = False

        def lines() -> Iterator[str]:
            nonlocal at_end
            yield first
            while (text := self._next_line()) is not None:
                self._bounded(text, line + len(held))
                held.append(text)
                yield text
            at_end = True
            yield _CLOSING_QUOTE

        try:
            cells = next(csv.reader(lines()))
        except csv.Error as error:
            if len(held) == 1:
                raise _not_csv(self._path, line, error) from None
            # A value grown past the size limit: a quote left open, like any other.
            return self._read_again(held), LEFT_OPEN
        if at_end or (len(held) > 1 and _WELL_FORMED.fullmatch("".join(held)) is None):
            return self._read_again(held), LEFT_OPEN
        return cells, len(held)

    def _bounded(self, text: str, line: int) -> None:
        """Refuse a line as long as MAX_LINE_CHARS: it may have no end (see there)."""
        if len(text) >= MAX_LINE_CHARS:
            raise SubscribersError(
                f"{self._path}: line {line} is longer than {MAX_LINE_CHARS:,} characters",
                "this is not a subscriber list, or a broken one: check [subscribers] path",
            )

    def _next_line(self) -> str | None:
        """The next line to read: one to read again, else the file's; None at its end."""
        return self._again.popleft() if self._again else next(self._handle, None)

    def _read_again(self, held: list[str]) -> list[str]:
        """The cells of the held record's first line; its other lines are to be read again."""
        self._again.extendleft(reversed(held[1:]))
        return next(csv.reader([held[0]]))


def _as_record(cells: list[str], line: int, lines: int) -> tuple[int, list[str], int]:
    return line, cells, lines


def _drained(lines: deque[str]) -> Iterator[str]:
    """The lines, taken from the front until none is left (lines put in front meanwhile too)."""
    while lines:
        yield lines.popleft()
