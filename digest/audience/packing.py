"""The audience packed into the batches a send freezes: deduplicated, in order, and
without the readers another row or the ledger keeps off the list.

``AudiencePacker`` needs no ledger, so it runs in the child process that reads the
list while the parent renders the email. The addresses it has seen spill from a set
into a private temporary SQLite database past a bound, so memory stays flat however
long the list: this module and the ledger are the only ones that use sqlite3.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager

from ..errors import DiskFull
from ..models import PackedBatch, Subscriber, pack_recipients, unpack_recipients


def withhold(
    batches: Iterable[PackedBatch], addresses: Collection[str], withheld: list[str]
) -> Iterator[PackedBatch]:
    """The batches without the recipients whose lowercased address is in ``addresses``
    (a batch left empty is dropped); each address left out is appended to ``withheld``."""
    for batch in batches:
        if not holds_any(batch.recipients, addresses):
            yield batch
            continue
        kept = []
        for subscriber in unpack_recipients(batch.recipients):
            if subscriber.email.lower() in addresses:
                withheld.append(subscriber.email)
            else:
                kept.append(subscriber)
        if kept:
            yield PackedBatch(len(kept), pack_recipients(kept))


def holds_any(packed: str, addresses: Collection[str]) -> bool:
    """Whether a packed batch (``pack_recipients``) has a recipient whose lowercased address
    is in ``addresses``. A look at the addresses alone, a third of the cost of unpacking:
    nearly every batch has none to withhold, and with no addresses it costs nothing."""
    return bool(addresses) and any(row[0].lower() in addresses for row in json.loads(packed))


class AudiencePacker:
    """Turns an audience into the batches ``start_edition`` freezes: deduplicated (addresses
    compared case-insensitively, the first one kept), in order, ``batch_size`` at most each.

    It needs no ledger, so it can run in another process while the ledger writes.
    ``duplicates`` counts the subscribers dropped. The addresses seen are kept in a
    set while there are at most ``in_memory`` of them (200,000 take about 20 MB),
    then in a private temporary SQLite database, so memory stays flat however long
    the list (a million addresses in a set would take 100 MB).
    """

    def __init__(self, batch_size: int, *, in_memory: int = 200_000) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.batch_size = batch_size
        self.duplicates = 0
        self._in_memory = in_memory

    def batches(self, audience: Iterable[Subscriber]) -> Iterator[PackedBatch]:
        """The audience's batches, streamed as the audience is."""
        size = self.batch_size
        with contextlib.closing(_SeenAddresses(self._in_memory)) as seen:
            kept: list[Subscriber] = []
            for chunk in _chunks(audience, size):
                first_ones = seen.first_ones(chunk)
                self.duplicates += len(chunk) - len(first_ones)
                kept += first_ones
                while len(kept) >= size:
                    yield PackedBatch(size, pack_recipients(kept[:size]))
                    del kept[:size]
            if kept:
                yield PackedBatch(len(kept), pack_recipients(kept))


class _SeenAddresses:
    """The lowercased addresses met so far: a set up to ``in_memory`` of them, then a
    SQLite table, each with the position where it was first met."""

    def __init__(self, in_memory: int) -> None:
        self._in_memory = in_memory
        self._memory: set[str] | None = set()
        self._db: sqlite3.Connection | None = None
        self._met = 0

    def first_ones(self, chunk: Sequence[Subscriber]) -> list[Subscriber]:
        """The subscribers of ``chunk`` whose address was not met before, in it or earlier."""
        keys = [subscriber.email.lower() for subscriber in chunk]
        first = self._met
        self._met += len(chunk)
        if self._memory is None:
            with _room_for_addresses():
                return self._first_ones_on_disk(chunk, keys, first)
        seen, kept = self._memory, []
        for subscriber, key in zip(chunk, keys, strict=True):
            if key not in seen:
                seen.add(key)
                kept.append(subscriber)
        if len(seen) > self._in_memory:
            with _room_for_addresses():
                self._move_to_disk(seen)
        return kept

    def _move_to_disk(self, seen: set[str]) -> None:
        # "": a private database in a temporary file, deleted on close; no journal, as
        # nothing in it outlives the process. Every address in it was met before any
        # position still to come.
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE seen (address TEXT PRIMARY KEY, position INTEGER NOT NULL)
                WITHOUT ROWID;
            BEGIN;
            """
        )
        self._db.executemany("INSERT INTO seen VALUES (?, -1)", ((key,) for key in seen))
        self._memory = None

    def _first_ones_on_disk(
        self, chunk: Sequence[Subscriber], keys: list[str], first: int
    ) -> list[Subscriber]:
        assert self._db is not None
        before = self._db.total_changes
        self._db.executemany(
            "INSERT OR IGNORE INTO seen (address, position) VALUES (?, ?)",
            zip(keys, range(first, self._met), strict=True),
        )
        if self._db.total_changes - before == len(chunk):  # the common case: all new
            return list(chunk)
        position = "SELECT position FROM seen WHERE address = ?"
        return [
            subscriber
            for at, (subscriber, key) in enumerate(zip(chunk, keys, strict=True), start=first)
            if self._db.execute(position, (key,)).fetchone()[0] == at
        ]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


@contextmanager
def _room_for_addresses() -> Iterator[None]:
    """SQLite's errors on the private table of addresses seen as one line: a table in a
    temporary file fails for want of room (full, or "disk I/O error" past a size limit)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise DiskFull(
            f"cannot keep the list's addresses in a temporary file ({exc})",
            "free space in the temporary folder (TMPDIR) or raise the file size limit, "
            "then run the command again; nothing was sent or recorded",
        ) from None


def _chunks(items: Iterable[Subscriber], size: int) -> Iterator[list[Subscriber]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
