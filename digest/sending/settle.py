"""Settling uncertain batches: `digest send --resend-uncertain|--accept-uncertain [FILE]
[--batch N]`.

A batch left in flight by a crash or a read timeout may or may not have reached the
provider. The operator checks its activity log and settles each batch (``--batch N``),
or each reader, with a file of addresses such as the log's CSV export: those listed
are sent again, or recorded as delivered, and the rest stay uncertain. The plan is
worked out before anything changes, so the confirmation says exactly what will happen.
"""

from __future__ import annotations

import csv
import itertools
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..errors import InvalidAddress, SettleError
from ..ledger import Batch, Ledger
from ..urls import ascii_domain

RESEND = "resend"
ACCEPT = "accept"
# The column that holds the address in a CSV of addresses, by preference; names compare
# ignoring case, spaces and hyphens ("Email", "To Email", "e-mail").
EMAIL_COLUMNS = ("email", "to_email", "email_address", "e_mail", "recipient", "to", "address")
# A file of addresses larger than this is refused (SendGrid's activity export holds at
# most a million events, a few hundred MB).
MAX_LISTING_BYTES = 1 << 30
SHOWN = 3  # addresses named in a warning


@dataclass(frozen=True)
class Settle:
    """What the options ask: ``action`` (RESEND or ACCEPT) for the uncertain batches
    numbered ``batches`` (none: all of them), for the readers ``listed`` in a file
    (None: all of theirs)."""

    action: str
    batches: tuple[int, ...] = ()
    listed: Path | None = None

    @property
    def option(self) -> str:
        return f"--{self.action}-uncertain"


@dataclass(frozen=True)
class Plan:
    """What settling will do: for each batch settled (by id), the addresses as stored of
    the readers it settles (None: all of them); ``unknown`` counts addresses of the file
    that are no uncertain reader of those batches, ``unknown_shown`` names a few."""

    settle: Settle
    moves: dict[int, frozenset[str] | None]
    numbers: tuple[int, ...]
    readers: int
    unknown: int = 0
    unknown_shown: tuple[str, ...] = field(default=())

    @property
    def where(self) -> str:
        """The batches settled and the file that chose the readers, for messages."""
        batches = named(self.numbers) if self.numbers else "no batch"
        return f"{batches}, listed in {self.settle.listed}" if self.settle.listed else batches


def plan_settlement(ledger: Ledger, key: str, uncertain: list[Batch], settle: Settle) -> Plan:
    """Which uncertain readers of edition ``key`` the options settle; nothing changes yet."""
    scope = _scope(key, uncertain, settle.batches)
    if settle.listed is None:
        moves: dict[int, frozenset[str] | None] = {batch.id: None for batch in scope}
        numbers = tuple(batch.number for batch in scope)
        return Plan(settle, moves, numbers, sum(batch.size for batch in scope))
    stored = {
        address_key(reader.email): (batch.id, reader.email)
        for batch in scope
        for reader in ledger.batch_recipients(batch.id)
    }
    chosen: dict[int, set[str]] = {}
    unknown: set[str] = set()
    shown: list[str] = []
    for address in listed_addresses(settle.listed):
        compared = address_key(address)
        found = stored.get(compared)
        if found is not None:
            chosen.setdefault(found[0], set()).add(found[1])
        elif compared not in unknown:
            unknown.add(compared)
            if len(shown) < SHOWN:
                shown.append(printable(address))
    return Plan(
        settle,
        {batch_id: frozenset(addresses) for batch_id, addresses in chosen.items()},
        tuple(batch.number for batch in scope if batch.id in chosen),
        sum(map(len, chosen.values())),
        len(unknown),
        tuple(shown),
    )


def _scope(key: str, uncertain: list[Batch], numbers: Sequence[int]) -> list[Batch]:
    """The uncertain batches numbered ``numbers`` (all of them if none), in order."""
    if not numbers:
        return uncertain
    by_number = {batch.number: batch for batch in uncertain}
    for number in numbers:
        if number not in by_number:
            there = (
                f"its uncertain batches are {', '.join(map(str, by_number))}"
                if by_number
                else "none of its batches is uncertain"
            )
            raise SettleError(f"edition {key} has no uncertain batch {number}: {there}")
    return [by_number[number] for number in sorted(set(numbers))]


def named(numbers: Sequence[int]) -> str:
    """'batch 3' or 'batches 2, 5'."""
    if len(numbers) == 1:
        return f"batch {numbers[0]}"
    return f"batches {', '.join(map(str, numbers))}"


def how_to_settle(key: str, numbers: Sequence[int]) -> str:
    """The commands that settle the uncertain batches ``numbers`` of edition ``key``."""
    one = len(numbers) == 1
    batch = f"digest send --edition {key} --batch {numbers[0] if one else 'N'}"
    each = "" if one else f" (N: each of {', '.join(map(str, numbers))})"
    some = f"digest send --edition {key}"
    return (
        f"check them in the provider's activity log, then run `{batch} --accept-uncertain` if"
        f" they got it or `{batch} --resend-uncertain` if not{each}; to settle some of them,"
        f" `{some} --accept-uncertain FILE` records the addresses FILE lists (one a line, or"
        f" the log's CSV export) as delivered, and `{some} --resend-uncertain FILE` sends"
        " them again"
    )


def address_key(address: str) -> str:
    """How addresses compare: ignoring case, and an international domain in its ASCII
    form, as a provider's log may show it (bücher.example as xn--bcher-kva.example)."""
    local, at, domain = address.strip().rpartition("@")
    if at and not domain.isascii():
        with suppress(InvalidAddress):
            domain = ascii_domain(domain)
    return f"{local}{at}{domain}".lower()


def listed_addresses(path: Path) -> Iterator[str]:
    """The addresses a file lists: a CSV with a header row and an email column (one of
    EMAIL_COLUMNS, such as SendGrid's activity export), or one address a line (blank
    lines and lines starting with # skipped, as in digest's own list of uncertain
    readers). Refused in one line: a file that is missing, not a regular file, larger
    than MAX_LISTING_BYTES, not UTF-8, or a CSV without an email column."""
    _check_listing(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            yield from _addresses(path, handle)
    except UnicodeDecodeError:
        raise SettleError(f"{path} is not UTF-8 text", "save it as UTF-8 (CSV UTF-8)") from None
    except OSError as exc:
        raise SettleError(f"cannot read {path}: {exc.strerror or exc}") from None


def _check_listing(path: Path) -> None:
    """Refuse, before opening it, what cannot be a file of addresses (a FIFO would block,
    /dev/zero would never end)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise SettleError(
            f"cannot read {path}: {exc.strerror or exc}",
            "name the file of addresses to settle (one a line, or a CSV with an email column)",
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise SettleError(f"{path} is not a regular file", "name a file of addresses")
    if info.st_size > MAX_LISTING_BYTES:
        raise SettleError(
            f"{path} is {info.st_size:,} bytes, more than {MAX_LISTING_BYTES:,}",
            "keep only the edition's events in it (the activity log filters by date)",
        )


def _addresses(path: Path, handle: TextIO) -> Iterator[str]:
    lines = iter(handle)
    skipped = 0  # blank and comment lines before the first line of content
    for line in lines:
        first = line.strip()
        if first and not first.startswith("#"):
            break
        skipped += 1
    else:
        return
    if "@" in first and not any(mark in first for mark in ",;\t"):
        yield first
        yield from _one_a_line(lines)
        return
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(itertools.chain([line], lines), delimiter=delimiter)
    try:
        column = _email_column(path, skipped + 1, next(reader))
        row_line = skipped + reader.line_num + 1
        for row in reader:
            address = row[column].strip() if column < len(row) else ""
            if "\n" in address or "\r" in address:
                raise SettleError(
                    f"{path}:{row_line}: an address runs over several lines: a quote left open"
                    " reads the rows after it into one value",
                    "close the quote",
                )
            if address:
                yield address
            row_line = skipped + reader.line_num + 1
    except csv.Error as exc:
        raise SettleError(f"{path}:{skipped + reader.line_num}: {exc}") from None


def _one_a_line(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        address = line.strip()
        if address and not address.startswith("#"):
            yield address


def _email_column(path: Path, line: int, header: list[str]) -> int:
    names = [cell.strip().lower().replace(" ", "_").replace("-", "_") for cell in header]
    for wanted in EMAIL_COLUMNS:
        if wanted in names:
            return names.index(wanted)
    raise SettleError(
        f"{path}:{line}: no column of addresses in the header"
        f" ({', '.join(printable(cell) for cell in header[:6])})",
        f"name it one of {', '.join(EMAIL_COLUMNS)}, or list one address a line",
    )


def printable(text: str, limit: int = 100) -> str:
    """Text from a file, safe to print on a terminal: control characters escaped, cut."""
    shown = "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text[:limit]
    )
    return shown + ("..." if len(text) > limit else "")
