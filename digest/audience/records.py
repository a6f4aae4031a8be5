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
import re
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import SubscribersError

# A record as RFC 4180 writes it: fields bare (no comma or line break, no quote first)
# or quoted (quotes inside doubled), separated by commas, then the end of the line.
_FIELD = r'(?:[^",\r\n][^,\r\n]*|"(?:[^"]|"")*")?'
_WELL_FORMED = re.compile(rf"{_FIELD}(?:,{_FIELD})*(?:\r\n|\n|\r)?")
# A record's ``lines`` when its quote was left open (see Records).
LEFT_OPEN = 0
# Given to csv to close a value whose quote is open at the end of the file.
_CLOSING_QUOTE = '"\n'


def _not_csv(path: Path, line: int, error: csv.Error) -> SubscribersError:
    return SubscribersError(
        f"{path}: line {line} is not valid CSV ({error})",
        "fix that line; quote fields that contain commas, quotes or newlines",
    )


class Records:
    """The file's CSV records, each as (line, cells, lines): the number of its first line,
    its cells, and how many lines it takes.

    A record whose quoted value spans lines but is not well formed (``_WELL_FORMED``),
    or is still open at the end of the file or at csv's field size limit, had its quote
    left open: csv read the lines after it into that value. It is given as ``LEFT_OPEN``
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
                        yield line, self._read_again(), LEFT_OPEN
                        line += 1
                return
            except csv.Error as error:
                self._done = reader.line_num
                if not self._held:
                    raise _not_csv(self._path, line, error) from None
                # A value grown past the size limit: a quote left open, like any other.
                yield line, self._read_again(), LEFT_OPEN
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
