"""The ledger: what was sent, to whom, and how far each send got (SQLite, ``.digest/state.db``).

Sending must survive crashes and reruns without sending anyone an edition twice,
so every fact the send command relies on lives here, committed at once:

- an **edition** (one send of one digest) with its rendered subject, HTML and text
  and the key of their per-reader tokens, so a resumed send sends identical content,
  and the posts it carries;
- its **audience**, frozen and deduplicated when the send starts, so a resumed send
  goes to the same people;
- its **batches** (``pending -> in_flight -> accepted | failed``): a batch is marked
  in flight, committed, *before* its request and marked again after the answer, so
  a batch left in flight after a crash is known to be uncertain;
- **test** sends, for the history;
- **unsubscribes** the endpoint recorded, for sends to leave out before any sync.

Setup (creating the file, switching to WAL, migrating) runs under an exclusive
``flock`` on a sibling lock file, so processes opening a fresh folder at once all
succeed. ``send_lock`` is a second, per-edition ``flock`` held for a whole send, and
``start_lock`` a third, held while any edition starts.

The file must never vanish quietly: a new ledger is made whole under a temporary name
and renamed into place, so that an existing ``state.db`` that is empty, not SQLite or
without digest's tables is damage to report, never a reason to start afresh (which
would send every edition again). Closing copies the write-ahead log into ``state.db``,
so that the file alone holds everything committed.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from .errors import DiskFull, LedgerError, StandDown
from .files import replace_together, sync_folder
from .models import Subscriber, is_edition_key

PENDING = "pending"
IN_FLIGHT = "in_flight"
ACCEPTED = "accepted"
FAILED = "failed"
REJECTED = "rejected"
ALL_STATES = frozenset({PENDING, IN_FLIGHT, ACCEPTED, FAILED, REJECTED})
DONE_STATES = (ACCEPTED, REJECTED)

SENDING = "sending"
SENT = "sent"

EDITION = "edition"
TEST = "test"

# The states a batch may come from, for each state it is marked with. An accepted
# batch never leaves that state: that is what keeps a rerun from sending it twice.
# A rejected batch (its one recipient refused for good, e.g. an SMTP 550) is done too.
_TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    IN_FLIGHT: (PENDING,),
    ACCEPTED: (IN_FLIGHT,),
    REJECTED: (IN_FLIGHT,),
    FAILED: (PENDING, IN_FLIGHT),
    PENDING: (PENDING, IN_FLIGHT, FAILED),
}

BUSY_TIMEOUT_SECONDS = 30.0

# The first 16 bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"
# Tables every schema version has: a database without them is not a digest ledger.
CORE_TABLES = frozenset({"editions", "edition_posts", "batches", "tests"})
_DAMAGED_HINT = (
    "restore it from a backup (`digest ledger backup` makes one); only if no edition was"
    " ever sent from this folder, move it away to start a new ledger, as digest then"
    " knows of nothing sent and would send an edition again"
)

# Send-lock descriptors this process holds. A forked child closes its copies at once,
# so that a child outliving its parent (kill -9) never keeps an edition locked.
_HELD_LOCKS: set[int] = set()


def _close_inherited_locks() -> None:
    for fd in _HELD_LOCKS:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD_LOCKS.clear()


os.register_at_fork(after_in_child=_close_inherited_locks)


def _pack_batch_audiences(db: sqlite3.Connection) -> None:
    """Schema 2: each batch's recipients in one row of ``batch_recipients``, packed as
    ``pack_recipients`` writes them, instead of one ``audience`` row each: freezing an
    audience or reading a batch is one row, not a thousand.

    Packed here in Python and ``batches`` rebuilt rather than altered, so that it needs
    neither JSON1 nor ``DROP COLUMN`` (SQLite 3.35): any SQLite Python 3.11 runs on will do.
    """
    db.execute("CREATE TEMP TABLE packed (batch INTEGER PRIMARY KEY, recipients TEXT NOT NULL)")
    spans = db.execute("SELECT id, first_recipient, size FROM batches").fetchall()
    for batch, first, size in spans:
        rows = db.execute(
            "SELECT email, name, fields FROM audience WHERE id BETWEEN ? AND ? ORDER BY id",
            (first, first + size - 1),
        )
        recipients = pack_recipients(
            Subscriber(email, name, fields=json.loads(fields) if fields else {})
            for email, name, fields in rows
        )
        db.execute("INSERT INTO temp.packed VALUES (?, ?)", (batch, recipients))
    for statement in (
        """CREATE TABLE batches_2 (
            id         INTEGER PRIMARY KEY,
            edition    TEXT NOT NULL REFERENCES editions (key),
            seq        INTEGER NOT NULL,
            state      TEXT NOT NULL
                       CHECK (state IN ('pending', 'in_flight', 'accepted', 'failed', 'rejected')),
            size       INTEGER NOT NULL,
            message_id TEXT,
            error      TEXT,
            updated_at TEXT NOT NULL,
            UNIQUE (edition, seq)
        )""",
        "INSERT INTO batches_2 (id, edition, seq, state, size, message_id, error, updated_at)"
        " SELECT id, edition, seq, state, size, message_id, error, updated_at FROM batches",
        "DROP TABLE batches",
        "ALTER TABLE batches_2 RENAME TO batches",
        "DROP TABLE audience",
        """CREATE TABLE batch_recipients (
            batch      INTEGER PRIMARY KEY REFERENCES batches (id),
            recipients TEXT NOT NULL
        )""",
        "INSERT INTO batch_recipients SELECT batch, recipients FROM temp.packed",
        "DROP TABLE temp.packed",
    ):
        db.execute(statement)


# Forward-only migrations: MIGRATIONS[n] takes a database from user_version n to n + 1,
# as an SQL script or a function of the connection, run in one transaction. Append
# new ones; never edit one that has shipped.
MIGRATIONS: tuple[str | Callable[[sqlite3.Connection], None], ...] = (
    """
    CREATE TABLE editions (
        key         TEXT PRIMARY KEY,
        status      TEXT NOT NULL CHECK (status IN ('sending', 'sent')),
        subject     TEXT NOT NULL,
        preheader   TEXT NOT NULL,
        html        TEXT NOT NULL,
        text        TEXT NOT NULL,
        backend     TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE TABLE edition_posts (
        edition  TEXT NOT NULL REFERENCES editions (key),
        position INTEGER NOT NULL,
        post_id  TEXT NOT NULL,
        PRIMARY KEY (edition, position)
    ) WITHOUT ROWID;
    CREATE TABLE batches (
        id         INTEGER PRIMARY KEY,
        edition    TEXT NOT NULL REFERENCES editions (key),
        seq        INTEGER NOT NULL,
        state      TEXT NOT NULL
                   CHECK (state IN ('pending', 'in_flight', 'accepted', 'failed', 'rejected')),
        -- the batch's recipients: audience ids first_recipient .. first_recipient + size - 1
        first_recipient INTEGER NOT NULL,
        size       INTEGER NOT NULL,
        message_id TEXT,
        error      TEXT,
        updated_at TEXT NOT NULL,
        UNIQUE (edition, seq)
    );
    -- One row per recipient of an edition, in audience order, so a batch is a range
    -- of ids (no index needed). fields is a JSON object of merge fields, NULL when
    -- there are none (most rows): 1M recipients take about 40 MB.
    CREATE TABLE audience (
        id     INTEGER PRIMARY KEY,
        email  TEXT NOT NULL,
        name   TEXT NOT NULL,
        fields TEXT
    );
    -- Test sends (--to); recipients is a JSON array of addresses.
    CREATE TABLE tests (
        id         INTEGER PRIMARY KEY,
        edition    TEXT NOT NULL,
        subject    TEXT NOT NULL,
        recipients TEXT NOT NULL,
        at         TEXT NOT NULL,
        message_id TEXT NOT NULL,
        accepted   INTEGER NOT NULL
    );
    """,
    _pack_batch_audiences,
    # Schema 3: the key of the edition's per-reader tokens; "" for editions started
    # before tokens had keys (their tokens are the plain %%name%% kind).
    "ALTER TABLE editions ADD COLUMN token_key TEXT NOT NULL DEFAULT ''",
    # Readers who unsubscribed through the endpoint (how: ``source``), by lowercased
    # address, the first time kept: for sends to leave out at once, before
    # `digest subscribers sync` writes them into subscribers.csv.
    """
    CREATE TABLE unsubscribes (
        address TEXT PRIMARY KEY,
        at      TEXT NOT NULL,
        source  TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class Edition:
    """One send of one digest, with the content every batch of it sends."""

    key: str
    status: str
    subject: str
    preheader: str
    html: str
    text: str
    started_at: datetime
    finished_at: datetime | None
    backend: str
    post_ids: tuple[str, ...]
    token_key: str = ""


@dataclass(frozen=True)
class Batch:
    """A slice of an edition's audience sent in one request; ``seq`` orders them from 0."""

    id: int
    seq: int
    state: str
    size: int
    message_id: str | None
    error: str | None
    updated_at: datetime

    @property
    def number(self) -> int:
        """How users see the batch: its place in the edition, from 1 (``--batch N``)."""
        return self.seq + 1


@dataclass(frozen=True)
class AudienceCounts:
    """What ``start_edition`` froze: recipients and batches."""

    recipients: int
    batches: int


@dataclass(frozen=True)
class PackedBatch:
    """A batch of an audience as the ledger stores it: ``recipients`` is ``size`` of them,
    packed by ``pack_recipients``."""

    size: int
    recipients: str


@dataclass(frozen=True)
class HistoryRow:
    """A line of ``digest history``: an edition (``kind == "edition"``) or a test send.

    For an edition, ``status`` is "sending" or "sent" and the counts are recipients;
    ``uncertain`` counts recipients of batches left in flight, ``uncertain_batches``
    numbers those batches (``Batch.number``). For a test, ``started_at`` is when it was
    sent, ``status`` is "accepted" or "failed" and ``addresses`` lists its recipients.
    """

    kind: str
    key: str
    started_at: datetime
    subject: str
    status: str
    recipients: int
    accepted: int = 0
    failed: int = 0
    uncertain: int = 0
    posts: int = 0
    refused: int = 0
    finished_at: datetime | None = None
    addresses: tuple[str, ...] = ()
    message_id: str = ""
    uncertain_batches: tuple[int, ...] = ()

    @property
    def pending(self) -> int:
        """Recipients of an edition not yet attempted (failed ones are tried again too)."""
        return self.recipients - self.accepted - self.failed - self.uncertain - self.refused


class Ledger:
    """The state database of one newsletter folder; open it with ``Ledger.open(path)``."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    @classmethod
    def open(cls, path: Path) -> Ledger:
        """Open (creating and migrating if needed) the ledger at ``path``, ready to use.

        Only a missing file is created; one that is there but is not a ledger is refused.
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with _flocked(path.with_suffix(".lock")):
                if os.path.lexists(path):
                    _check_file(path)
                else:
                    _create(path)
                connection = _connect(path)
                try:
                    _set_up(connection, path)
                except BaseException:
                    connection.close()
                    raise
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open {path}: {exc}") from exc
        except OSError as exc:
            if path.parent.is_file():
                raise LedgerError(
                    f"cannot open {path}: {path.parent} is a file, where digest keeps its state",
                    hint=f"move that file away (digest makes the {path.parent.name}/ folder)",
                ) from exc
            raise LedgerError(f"cannot open {path}: {exc.strerror or exc}") from exc
        return cls(path, connection)

    def close(self) -> None:
        """Close the database connection; the ledger is not used after this.

        First the write-ahead log is copied into ``state.db`` (a passive checkpoint:
        it neither waits for nor holds up another process using the ledger), so that
        ``state.db`` alone holds every commit, even while another process has the
        ledger open. The last connection to close also empties and removes the log
        (SQLite does that itself). A checkpoint that fails loses nothing: the log
        keeps what it has not copied.
        """
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def backup(self, target: Path) -> int:
        """Write a consistent copy of the ledger to ``target`` with SQLite's backup API;
        returns how many editions it holds.

        The copy is one read snapshot, taken in one step: a send writing meanwhile neither
        waits for it nor shows half in it. It is written under a temporary name in
        ``target``'s folder and renamed into place, so ``target`` is never half-written,
        and it is one self-contained file (a rollback journal, not WAL), to carry alone.
        """
        target = Path(target)
        _check_backup_target(self.path, target)
        try:
            handle, name = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
            )
            os.close(handle)
            temporary = Path(name)
            try:
                editions = self._copy_to(temporary)
                temporary.replace(target)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
        except OSError as exc:
            reason = exc.strerror or exc
            raise LedgerError(f"cannot back up the ledger to {target}: {reason}") from exc
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot back up the ledger to {target}: {exc}") from exc
        sync_folder(target.parent)
        return editions

    def _copy_to(self, path: Path) -> int:
        copy = sqlite3.connect(path, isolation_level=None)
        try:
            with self._sqlite():
                self._db.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")
            return int(copy.execute("SELECT count(*) FROM editions").fetchone()[0])
        finally:
            copy.close()

    def sent_post_ids(self) -> set[str]:
        """Ids of the posts of every edition whose send has started (sending or sent).

        Every edition in the ledger has started its send: an edition row is only
        written by ``start_edition``, which also marks it sending.
        """
        with self._sqlite():
            return {row[0] for row in self._db.execute("SELECT post_id FROM edition_posts")}

    def unfinished_editions(self) -> list[str]:
        """Keys of editions whose send started and has not finished, oldest first."""
        with self._sqlite():
            rows = self._db.execute(
                "SELECT key FROM editions WHERE status = ? ORDER BY started_at", (SENDING,)
            )
            return [row[0] for row in rows]

    def edition(self, key: str) -> Edition | None:
        """The edition recorded under ``key``, or None if its send never started."""
        with self._sqlite():
            row = self._db.execute(
                "SELECT key, status, subject, preheader, html, text, started_at, finished_at,"
                " backend, token_key FROM editions WHERE key = ?",
                (key,),
            ).fetchone()
            if row is None:
                return None
            posts = self._db.execute(
                "SELECT post_id FROM edition_posts WHERE edition = ? ORDER BY position", (key,)
            )
            return Edition(
                key=row[0],
                status=row[1],
                subject=row[2],
                preheader=row[3],
                html=row[4],
                text=row[5],
                started_at=_from_iso(row[6]),
                finished_at=_from_iso(row[7]) if row[7] else None,
                backend=row[8],
                post_ids=tuple(post[0] for post in posts),
                token_key=row[9],
            )

    def start_edition(
        self,
        key: str,
        *,
        subject: str,
        preheader: str,
        html: str,
        text: str,
        post_ids: Sequence[str],
        audience: Iterable[PackedBatch],
        backend: str,
        started_at: datetime,
        token_key: str = "",
    ) -> AudienceCounts:
        """Record an edition as sending, with its content, posts and frozen audience.

        All in one transaction: either the whole edition is recorded or nothing is.
        The audience comes as ``AudiencePacker`` makes it, deduplicated and packed into
        batches, in order; each becomes a pending batch. It is streamed, so memory stays
        flat whatever its size.
        """
        _check_key(key)
        started = _to_iso(started_at)
        with self._sqlite(), self._transaction():
            existing = self._db.execute(
                "SELECT started_at FROM editions WHERE key = ?", (key,)
            ).fetchone()
            if existing is not None:
                raise LedgerError(
                    f"edition {key} was already started at {existing[0]} in {self.path}",
                    hint="an edition is started once; `digest send --edition KEY` resumes it",
                )
            self._db.execute(
                "INSERT INTO editions (key, status, subject, preheader, html, text, backend,"
                " started_at, token_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, SENDING, subject, preheader, html, text, backend, started, token_key),
            )
            self._db.executemany(
                "INSERT INTO edition_posts (edition, position, post_id) VALUES (?, ?, ?)",
                ((key, position, post_id) for position, post_id in enumerate(post_ids)),
            )
            recipients = batches = 0
            for seq, batch in enumerate(audience):
                batch_id = self._db.execute(
                    "INSERT INTO batches (edition, seq, state, size, updated_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (key, seq, PENDING, batch.size, started),
                ).lastrowid
                self._db.execute(
                    "INSERT INTO batch_recipients (batch, recipients) VALUES (?, ?)",
                    (batch_id, batch.recipients),
                )
                recipients += batch.size
                batches += 1
            return AudienceCounts(recipients=recipients, batches=batches)

    def batches(self, key: str, states: Collection[str] = ALL_STATES) -> list[Batch]:
        """The edition's batches in the given states, in send order (by ``seq``)."""
        wanted = {states} if isinstance(states, str) else set(states)
        with self._sqlite():
            rows = self._db.execute(
                "SELECT id, seq, state, size, message_id, error, updated_at FROM batches"
                " WHERE edition = ? ORDER BY seq",
                (key,),
            )
            return [
                Batch(*row[:6], updated_at=_from_iso(row[6])) for row in rows if row[2] in wanted
            ]

    def batch_recipients(self, batch_id: int) -> list[Subscriber]:
        """The recipients of one batch, in audience order, with name and merge fields."""
        return unpack_recipients(self.packed_recipients(batch_id))

    def packed_recipients(self, batch_id: int) -> str:
        """The batch's recipients as stored (see ``unpack_recipients``): cheap to pass to
        another process."""
        with self._sqlite():
            row = self._db.execute(
                "SELECT recipients FROM batch_recipients WHERE batch = ?", (batch_id,)
            ).fetchone()
        if row is None:
            raise LedgerError(f"no batch {batch_id} in {self.path}")
        return row[0]

    def mark_in_flight(self, batch_id: int, at: datetime) -> None:
        """Record, committed before the request goes out, that the batch is being sent."""
        self._mark(batch_id, IN_FLIGHT, at=_to_iso(at))

    def mark_accepted(self, batch_id: int, message_id: str, at: datetime) -> None:
        """Record, committed at once, that the provider accepted the batch."""
        self._mark(batch_id, ACCEPTED, at=_to_iso(at), message_id=message_id)

    def mark_failed(self, batch_id: int, error: str, at: datetime) -> None:
        """Record, committed at once, that the batch surely was not delivered, and why."""
        self._mark(batch_id, FAILED, at=_to_iso(at), error=error)

    def mark_rejected(self, batch_id: int, error: str, at: datetime) -> None:
        """Record that the provider refused the batch's recipients for good: never resent."""
        self._mark(batch_id, REJECTED, at=_to_iso(at), error=error)

    def mark_pending(self, batch_ids: Sequence[int]) -> None:
        """Put batches (uncertain or failed) back to pending, all or none, to send them again."""
        with self._sqlite(), self._transaction():
            for batch_id in batch_ids:
                self._mark(batch_id, PENDING)

    def settle(
        self, batch_id: int, state: str, at: datetime, only: Collection[str] | None = None
    ) -> int | None:
        """Settle an uncertain (in flight) batch: its recipients, or only those whose
        address as stored is in ``only``, become ``state``: accepted (the provider's log
        shows they got it) or pending (to send them again).

        Settling some of them splits the batch, in one transaction: they move to a new
        batch of the edition in ``state``, numbered after its last, and the others stay
        in flight in this one. Each address stays in exactly one batch of its edition.
        Returns the id of the batch that holds the settled recipients (this one when
        all are settled), or None if ``only`` names none of them.
        """
        if state not in (ACCEPTED, PENDING):
            raise ValueError(f"an uncertain batch is settled as accepted or pending, not {state}")
        when = _to_iso(at)
        with self._sqlite(), self._transaction():
            row = self._db.execute(
                "SELECT edition, state FROM batches WHERE id = ?", (batch_id,)
            ).fetchone()
            if row is None or row[1] != IN_FLIGHT:
                raise self._refused_mark(batch_id, state)
            if only is not None:
                recipients = unpack_recipients(self.packed_recipients(batch_id))
                settled = [s for s in recipients if s.email in only]
                if not settled:
                    return None
                if len(settled) < len(recipients):
                    kept = [s for s in recipients if s.email not in only]
                    return self._split(batch_id, row[0], kept, settled, state, when)
            self._mark(batch_id, state, at=when, message_id="" if state == ACCEPTED else None)
            return batch_id

    def _split(
        self,
        batch_id: int,
        edition: str,
        kept: list[Subscriber],
        settled: list[Subscriber],
        state: str,
        at: str,
    ) -> int:
        """Keep ``kept`` in the batch and move ``settled`` to a new batch in ``state``
        (inside the caller's transaction)."""
        self._db.execute("UPDATE batches SET size = ? WHERE id = ?", (len(kept), batch_id))
        self._db.execute(
            "UPDATE batch_recipients SET recipients = ? WHERE batch = ?",
            (pack_recipients(kept), batch_id),
        )
        new_id = self._db.execute(
            "INSERT INTO batches (edition, seq, state, size, message_id, updated_at)"
            " SELECT ?, max(seq) + 1, ?, ?, ?, ? FROM batches WHERE edition = ?",
            (edition, state, len(settled), "" if state == ACCEPTED else None, at, edition),
        ).lastrowid
        self._db.execute(
            "INSERT INTO batch_recipients (batch, recipients) VALUES (?, ?)",
            (new_id, pack_recipients(settled)),
        )
        assert new_id is not None
        return new_id

    def _mark(
        self,
        batch_id: int,
        state: str,
        *,
        at: str | None = None,
        message_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """Move a batch to ``state`` if it may come from its current state, else raise."""
        sources = _TRANSITIONS[state]
        with self._sqlite():
            changed = self._db.execute(
                "UPDATE batches SET state = ?, message_id = ?, error = ?,"
                " updated_at = coalesce(?, updated_at)"
                f" WHERE id = ? AND state IN ({', '.join('?' * len(sources))})",
                (state, message_id, error, at, batch_id, *sources),
            ).rowcount
            if not changed:
                raise self._refused_mark(batch_id, state)

    def _refused_mark(self, batch_id: int, state: str) -> LedgerError:
        row = self._db.execute(
            "SELECT edition, state FROM batches WHERE id = ?", (batch_id,)
        ).fetchone()
        if row is None:
            return LedgerError(f"no batch {batch_id} in {self.path}")
        return LedgerError(
            f"batch {batch_id} of edition {row[0]} is {row[1]} and cannot become {state}",
            hint="a batch goes pending -> in_flight -> accepted | failed | rejected; an accepted"
            " or rejected batch is never sent again",
        )

    def finish_if_complete(self, key: str, at: datetime) -> bool:
        """Mark the edition sent once every batch is done (accepted, or rejected for good)."""
        finished = _to_iso(at)
        with self._sqlite(), self._transaction():
            row = self._db.execute("SELECT status FROM editions WHERE key = ?", (key,)).fetchone()
            if row is None:
                raise LedgerError(f"no edition {key} in {self.path}")
            if row[0] == SENT:
                return True
            unfinished = self._db.execute(
                "SELECT count(*) FROM batches WHERE edition = ? AND state NOT IN (?, ?)",
                (key, *DONE_STATES),
            ).fetchone()[0]
            if unfinished:
                return False
            self._db.execute(
                "UPDATE editions SET status = ?, finished_at = ? WHERE key = ?",
                (SENT, finished, key),
            )
            return True

    def record_test(
        self,
        key: str,
        *,
        subject: str,
        recipients: Sequence[str],
        at: datetime,
        message_id: str,
        accepted: bool,
    ) -> None:
        """Record a test send of edition ``key`` (it does not start the edition)."""
        with self._sqlite():
            self._db.execute(
                "INSERT INTO tests (edition, subject, recipients, at, message_id, accepted)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key, subject, json.dumps(list(recipients)), _to_iso(at), message_id, accepted),
            )

    def record_unsubscribe(self, address: str, at: datetime, source: str) -> bool:
        """Record, committed at once, that ``address`` unsubscribed (``source``: how, such as
        "one-click" or "page"). The first record is kept: True if this one is it."""
        with self._sqlite():
            return bool(
                self._db.execute(
                    "INSERT OR IGNORE INTO unsubscribes (address, at, source) VALUES (?, ?, ?)",
                    (address.lower(), _to_iso(at), source),
                ).rowcount
            )

    def unsubscribed_addresses(self) -> frozenset[str]:
        """Every address recorded as unsubscribed, lowercased: what a send leaves out."""
        with self._sqlite():
            return frozenset(row[0] for row in self._db.execute("SELECT address FROM unsubscribes"))

    def unsubscribe_count(self) -> int:
        """How many addresses are recorded as unsubscribed."""
        with self._sqlite():
            return self._db.execute("SELECT count(*) FROM unsubscribes").fetchone()[0]

    def history(self) -> list[HistoryRow]:
        """Every edition and test send, newest first, with recipient counts by batch state."""
        with self._sqlite():
            rows = [*self._edition_history(), *self._test_history()]
        return sorted(rows, key=lambda row: row.started_at, reverse=True)

    def _edition_history(self) -> Iterator[HistoryRow]:
        rows = self._db.execute(
            """
            SELECT e.key, e.started_at, e.finished_at, e.subject, e.status,
                   (SELECT count(*) FROM edition_posts p WHERE p.edition = e.key),
                   coalesce(sum(b.size), 0),
                   coalesce(sum(CASE b.state WHEN 'accepted' THEN b.size END), 0),
                   coalesce(sum(CASE b.state WHEN 'failed' THEN b.size END), 0),
                   coalesce(sum(CASE b.state WHEN 'in_flight' THEN b.size END), 0),
                   coalesce(sum(CASE b.state WHEN 'rejected' THEN b.size END), 0),
                   group_concat(CASE b.state WHEN 'in_flight' THEN b.seq + 1 END)
            FROM editions e LEFT JOIN batches b ON b.edition = e.key
            GROUP BY e.key
            """
        )
        for (
            key,
            started,
            finished,
            subject,
            status,
            posts,
            total,
            ok,
            failed,
            unsure,
            refused,
            unsure_numbers,
        ) in rows:
            yield HistoryRow(
                kind=EDITION,
                key=key,
                started_at=_from_iso(started),
                finished_at=_from_iso(finished) if finished else None,
                subject=subject,
                status=status,
                posts=posts,
                recipients=total,
                accepted=ok,
                failed=failed,
                uncertain=unsure,
                refused=refused,
                uncertain_batches=_numbers(unsure_numbers),
            )

    def _test_history(self) -> Iterator[HistoryRow]:
        rows = self._db.execute(
            "SELECT edition, at, subject, recipients, message_id, accepted FROM tests"
        )
        for key, at, subject, recipients, message_id, accepted in rows:
            addresses = tuple(json.loads(recipients))
            yield HistoryRow(
                kind=TEST,
                key=key,
                started_at=_from_iso(at),
                subject=subject,
                status=ACCEPTED if accepted else FAILED,
                recipients=len(addresses),
                accepted=len(addresses) if accepted else 0,
                failed=0 if accepted else len(addresses),
                addresses=addresses,
                message_id=message_id,
            )

    def send_lock(self, key: str) -> contextlib.AbstractContextManager[None]:
        """Hold ``locks/<key>.lock`` beside the database for a whole send of edition ``key``.

        Non-blocking: if another process holds it, raise StandDown. The OS drops a
        flock when its process dies, even by ``kill -9``, so a crash never leaves it stale.
        """
        _check_key(key)
        return self._flock(f"{key}.lock", f"edition {key} is being sent by another process")

    def start_lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold ``locks/start.lock`` while an edition starts: from choosing its posts to
        freezing its audience.

        Two sends of different editions would otherwise both choose posts before either
        records its own, and send the same posts twice. Non-blocking, like ``send_lock``.
        """
        return self._flock("start.lock", "another digest send is starting an edition right now")

    @contextmanager
    def _flock(self, name: str, busy: str) -> Iterator[None]:
        """An exclusive flock on ``locks/<name>``, or StandDown(``busy``) if another has it."""
        lock_path = self.path.parent / "locks" / name
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LedgerError(f"cannot create {lock_path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException as failed:
            os.close(fd)
            if isinstance(failed, BlockingIOError):
                raise StandDown(busy) from None
            raise
        _HELD_LOCKS.add(fd)
        try:
            yield
        finally:
            _HELD_LOCKS.discard(fd)
            try:
                # Released outright, not only by closing: a child forked meanwhile may
                # not have closed its copy yet, and a copy would keep the lock held.
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, taking the write lock up front (no upgrade deadlocks)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def _sqlite(self) -> Iterator[None]:
        """Turn SQLite's errors (a locked or damaged database) into a LedgerError."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise LedgerError(
                    f"{self.path} stayed locked by another process for {BUSY_TIMEOUT_SECONDS:g}s",
                    hint="wait for the other digest command to finish, then run this again",
                ) from exc
            raise LedgerError(f"{self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc


def _connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with the ledger's pragmas."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    # FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss, and
    # a lost "in_flight" mark would make a resumed send repeat a batch the provider took.
    # The cost is one fsync per mark, small next to a request per batch.
    connection.executescript(
        f"""
        PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)};
        PRAGMA foreign_keys = ON;
        PRAGMA synchronous = FULL;
        PRAGMA temp_store = FILE;
        """
    )
    return connection


def ledger_exists(path: Path) -> bool:
    """Whether a ledger is at ``path``, or should be: the file, or its write-ahead log
    alone (which ``Ledger.open`` refuses rather than start afresh)."""
    return os.path.lexists(path) or os.path.lexists(_wal(path))


def _wal(path: Path) -> Path:
    return path.with_name(f"{path.name}-wal")


def _check_backup_target(live: Path, target: Path) -> None:
    """Refuse a backup that would overwrite the live ledger or could not be a file."""
    where = f"cannot back up the ledger to {target}"
    if not target.parent.is_dir():
        raise LedgerError(
            f"{where}: the folder {target.parent} does not exist",
            hint="create it first, or name a file in a folder that exists",
        )
    if target.is_dir():
        raise LedgerError(
            f"{where}: it is a folder", hint="name the file to write, e.g. backups/state.db"
        )
    own = (live, _wal(live), live.with_name(f"{live.name}-shm"))
    if any(_same_file(target, path) for path in own):
        raise LedgerError(
            f"{where}: it is the live ledger itself", hint="name a file outside .digest/"
        )
    if os.path.lexists(_wal(target)):
        raise LedgerError(
            f"{where}: {_wal(target).name} is beside it, so a program has that database open"
            " (or crashed with it open), and would read the copy wrong",
            hint="close that program, or back up to another name",
        )


def _same_file(path: Path, other: Path) -> bool:
    if path.resolve() == other.resolve():
        return True
    return path.exists() and other.exists() and path.samefile(other)


def _check_file(path: Path) -> None:
    """Refuse, before SQLite opens it, a file that cannot be a ledger: SQLite would take
    an empty file for a new database (and delete a write-ahead log beside it)."""
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if not header:
        kept = f"; keep {_wal(path).name} beside it" if _wal(path).exists() else ""
        raise LedgerError(
            f"{path} is empty (0 bytes): the record of what was sent from this folder is"
            f" gone{kept}",
            hint=_DAMAGED_HINT,
        )
    if header != SQLITE_HEADER:
        raise LedgerError(
            f"{path} is not a SQLite database, so not digest's ledger", hint=_DAMAGED_HINT
        )


def _create(path: Path) -> None:
    """Make a new ledger at ``path`` in one step: built in memory, written under a
    temporary name beside it and renamed into place, so that a crash never leaves an
    empty or half-made file that a later run must call damaged."""
    wal = _wal(path)
    if os.path.lexists(wal):
        raise LedgerError(
            f"{path} is missing, but its write-ahead log {wal.name} is still there: part of"
            " the record of what was sent may be in it",
            hint=f"put {path.name} back beside {wal.name} (from where it went, or a backup);"
            f" only if no edition was ever sent from this folder, move {wal.name} away to"
            " start a new ledger",
        )
    memory = sqlite3.connect(":memory:", isolation_level=None)
    try:
        _migrate(memory, 0)
        image = memory.serialize()
    finally:
        memory.close()
    replace_together({path: image})


def _set_up(connection: sqlite3.Connection, path: Path) -> None:
    """Refuse a newer schema or a database that is not a ledger, switch to WAL and apply
    pending migrations (under the flock)."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise LedgerError(
            f"{path} was written by a newer digest (schema {version}, this one knows"
            f" {SCHEMA_VERSION})",
            hint="upgrade digest to use this folder",
        )
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    if version == 0 or CORE_TABLES - tables:
        raise LedgerError(
            f"{path} is a SQLite database without digest's tables, so not digest's ledger",
            hint=_DAMAGED_HINT,
        )
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise LedgerError(
            f"{path} cannot use write-ahead logging (journal mode stays {mode})",
            hint="keep the newsletter folder on a local disk, not a network share",
        )
    _migrate(connection, version)


def _migrate(connection: sqlite3.Connection, version: int) -> None:
    """Apply the migrations after schema ``version``, each in its own transaction."""
    for number in range(version, SCHEMA_VERSION):
        migration = MIGRATIONS[number]
        try:
            if isinstance(migration, str):
                connection.executescript(
                    f"BEGIN IMMEDIATE; {migration}; PRAGMA user_version = {number + 1}; COMMIT;"
                )
            else:
                connection.execute("BEGIN IMMEDIATE")
                migration(connection)
                connection.execute(f"PRAGMA user_version = {number + 1}")
                connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise


@contextmanager
def _flocked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``lock_path`` (waiting for it) for the block's duration."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _check_key(key: str) -> None:
    """Edition keys name lock files, so they are restricted to safe file-name characters."""
    if not is_edition_key(key):
        raise LedgerError(
            f"edition key {key!r} is not valid",
            hint="use letters, digits, '.', '_' and '-' (at most 100), e.g. 2026-03-09",
        )


_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def pack_recipients(subscribers: Iterable[Subscriber]) -> str:
    """Subscribers as one batch's ``recipients``: a JSON array of ``[address, name]``, with
    the merge fields as a third item when there are any."""
    return _encode_json(
        [(s.email, s.name, s.fields) if s.fields else (s.email, s.name) for s in subscribers]
    )


def unpack_recipients(packed: str) -> list[Subscriber]:
    """The Subscribers ``pack_recipients`` packed (address, name and merge fields)."""
    return [
        Subscriber(row[0], row[1], fields=row[2]) if len(row) > 2 else Subscriber(row[0], row[1])
        for row in json.loads(packed)
    ]


def withhold(
    batches: Iterable[PackedBatch], addresses: Collection[str], withheld: list[str]
) -> Iterator[PackedBatch]:
    """The batches without the recipients whose lowercased address is in ``addresses``
    (a batch left empty is dropped); each address left out is appended to ``withheld``."""
    for batch in batches:
        # A first look at the addresses alone (a third of the cost of unpacking): nearly
        # every batch has none to withhold.
        if not addresses or not any(
            row[0].lower() in addresses for row in json.loads(batch.recipients)
        ):
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


def _numbers(listed: str | None) -> tuple[int, ...]:
    """The numbers SQLite's group_concat listed (None for none), in order."""
    return tuple(sorted(int(number) for number in listed.split(","))) if listed else ()


def _to_iso(at: datetime) -> str:
    """An aware datetime as fixed-width ISO 8601 UTC text (sorts as it compares)."""
    if at.utcoffset() is None:
        raise ValueError(f"the ledger stores aware datetimes only, not {at!r}")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)
