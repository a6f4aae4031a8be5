"""The ledger's file: its schema and migrations, and opening it safely.

A new ledger is made whole under a temporary name and renamed into place, so that an
existing ``state.db`` that is empty, not SQLite or without digest's tables is damage to
report, never a reason to start afresh (which would send every edition again). A new
table is a new migration appended to ``MIGRATIONS`` (never an edit of one that shipped)
and a module of methods mixed into ``Ledger`` (see ``__init__.py``).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from ..errors import LedgerError
from ..files import replace_together
from ..models import Subscriber, pack_recipients

BUSY_TIMEOUT_SECONDS = 30.0

# The first 16 bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"
# Tables every schema version has: a database without them is not a digest ledger.
CORE_TABLES = frozenset({"editions", "edition_posts", "batches", "tests"})
DAMAGED_HINT = (
    "restore it from a backup (`digest ledger backup` makes one); only if no edition was"
    " ever sent from this folder, move it away to start a new ledger, as digest then"
    " knows of nothing sent and would send an edition again"
)


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
    # Schema 5: the posts a source showed when each edition started (``seen``), which
    # later editions never select; a ledger from before records only the posts its
    # editions sent, so posts published before its latest edition started count as seen
    # until the next edition records what its source shows (``seen_before``, one row at
    # most). Rehearsals (sandbox sends) are editions of kind 'rehearsal': they rehearse
    # edition ``rehearses`` and never complete it or mark posts seen. ``missed_runs``:
    # scheduled runs reported missed, so that each is reported once.
    """
    CREATE TABLE seen (
        post_id TEXT PRIMARY KEY,
        edition TEXT NOT NULL,
        at      TEXT NOT NULL
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO seen (post_id, edition, at)
        SELECT p.post_id, p.edition, e.started_at
        FROM edition_posts p JOIN editions e ON e.key = p.edition
        ORDER BY e.started_at, p.position;
    CREATE TABLE seen_before (at TEXT NOT NULL);
    INSERT INTO seen_before (at) SELECT max(started_at) FROM editions HAVING count(*) > 0;
    ALTER TABLE editions ADD COLUMN kind TEXT NOT NULL DEFAULT 'edition'
        CHECK (kind IN ('edition', 'rehearsal'));
    ALTER TABLE editions ADD COLUMN rehearses TEXT;
    CREATE TABLE missed_runs (
        run       TEXT PRIMARY KEY,
        edition   TEXT NOT NULL,
        noted_at  TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # Schema 6: unsubscribes numbered in the order they were recorded (``seq``), so that a
    # send asks only for those recorded since its audience was frozen (``editions.
    # unsubscribes_seen``: the last seq the freeze left out; 0 for editions started
    # before, whose every unsubscribe is checked); and ``withheld``: the readers of a
    # frozen audience left out because they unsubscribed after the freeze.
    """
    CREATE TABLE unsubscribes_numbered (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        address TEXT NOT NULL UNIQUE,
        at      TEXT NOT NULL,
        source  TEXT NOT NULL
    );
    INSERT INTO unsubscribes_numbered (address, at, source)
        SELECT address, at, source FROM unsubscribes ORDER BY at, address;
    DROP TABLE unsubscribes;
    ALTER TABLE unsubscribes_numbered RENAME TO unsubscribes;
    ALTER TABLE editions ADD COLUMN unsubscribes_seen INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE withheld (
        edition TEXT NOT NULL REFERENCES editions (key),
        address TEXT NOT NULL,
        at      TEXT NOT NULL,
        PRIMARY KEY (edition, address)
    ) WITHOUT ROWID;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path) -> sqlite3.Connection:
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
    return os.path.lexists(path) or os.path.lexists(wal_path(path))


def wal_path(path: Path) -> Path:
    return path.with_name(f"{path.name}-wal")


def check_file(path: Path) -> None:
    """Refuse, before SQLite opens it, a file that cannot be a ledger: SQLite would take
    an empty file for a new database (and delete a write-ahead log beside it)."""
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if not header:
        kept = f"; keep {wal_path(path).name} beside it" if wal_path(path).exists() else ""
        raise LedgerError(
            f"{path} is empty (0 bytes): the record of what was sent from this folder is"
            f" gone{kept}",
            hint=DAMAGED_HINT,
        )
    if header != SQLITE_HEADER:
        raise LedgerError(
            f"{path} is not a SQLite database, so not digest's ledger", hint=DAMAGED_HINT
        )


def create(path: Path) -> None:
    """Make a new ledger at ``path`` in one step: built in memory, written under a
    temporary name beside it and renamed into place, so that a crash never leaves an
    empty or half-made file that a later run must call damaged."""
    wal = wal_path(path)
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
        migrate(memory, 0)
        image = memory.serialize()
    finally:
        memory.close()
    replace_together({path: image})


def set_up(connection: sqlite3.Connection, path: Path) -> None:
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
            hint=DAMAGED_HINT,
        )
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise LedgerError(
            f"{path} cannot use write-ahead logging (journal mode stays {mode})",
            hint="keep the newsletter folder on a local disk, not a network share",
        )
    migrate(connection, version)


def migrate(connection: sqlite3.Connection, version: int) -> None:
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
