"""The ledger against real SQLite files: schema, frozen audiences, batch states, locks."""

from __future__ import annotations

import multiprocessing
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from digest.audience.packing import AudiencePacker, withhold
from digest.errors import LedgerError, StandDown
from digest.ledger import (
    ACCEPTED,
    FAILED,
    IN_FLIGHT,
    MIGRATIONS,
    PENDING,
    SCHEMA_VERSION,
    AudienceCounts,
    Batch,
    Ledger,
)
from digest.models import PackedBatch, Subscriber, pack_recipients, unpack_recipients
from tests.ledger.ledger_helpers import (
    HOLD_SEND_LOCK,
    HOLD_WRITE_LOCK,
    MARK_IN_FLIGHT_THEN_DIE,
    OPEN_AND_DIE_AT,
    T0,
    freeze,
    open_fresh_ledgers,
    run_python,
    start,
    subscribers,
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / ".digest" / "state.db"


@pytest.fixture
def ledger(db_path: Path):
    with Ledger.open(db_path) as opened:
        yield opened


def states(ledger: Ledger, key: str) -> list[str]:
    return [batch.state for batch in ledger.batches(key)]


# --- setup and migrations ------------------------------------------------------------


def test_open_creates_the_folder_and_a_migrated_wal_database(db_path: Path) -> None:
    Ledger.open(db_path).close()

    assert db_path.is_file()
    assert (db_path.parent / "state.lock").is_file()
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"editions", "edition_posts", "batches", "batch_recipients", "tests"} <= tables
    raw.close()


def test_reopening_is_idempotent_and_keeps_what_was_recorded(db_path: Path) -> None:
    with Ledger.open(db_path) as first:
        start(first, "2026-03-09", subscribers(3))

    for _ in range(2):
        with Ledger.open(db_path) as again:
            assert again.edition("2026-03-09") is not None
            assert again.sent_post_ids() == {"2026-03-09/a", "2026-03-09/b"}
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()


def test_a_database_from_a_newer_digest_is_refused(db_path: Path) -> None:
    Ledger.open(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()

    with pytest.raises(LedgerError, match="newer digest") as refused:
        Ledger.open(db_path)

    assert "upgrade digest" in str(refused.value)
    assert str(db_path) in str(refused.value)
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    raw.close()


def test_a_half_sent_edition_from_schema_1_resumes_with_the_same_batches(db_path: Path) -> None:
    """Schema 1 kept one audience row per recipient; migration 2 packs each batch's rows."""
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path, isolation_level=None)
    raw.executescript(f"BEGIN; {MIGRATIONS[0]}; PRAGMA user_version = 1; COMMIT;")
    raw.execute(
        "INSERT INTO editions VALUES ('2026-03-09', 'sending', 'S', 'P', 'H', 'T', 'sendgrid',"
        " '2026-03-09T16:00:00.000000+00:00', NULL)"
    )
    # Ids 7..11 (an earlier edition's rows were 1..6), batches of 2, 2 and 1.
    audience = [
        (7, "ada@example.com", "Ada", '{"plan":"pro","city":"Zürich"}'),
        (8, "bob@example.com", "", None),
        (9, "cy@example.com", 'Cy "C", Jr.', None),
        (10, "di@example.com", "Di", '{"plan":""}'),
        (11, "Eve@Example.com", "Eve", None),
    ]
    raw.executemany("INSERT INTO audience VALUES (?, ?, ?, ?)", reversed(audience))
    raw.executemany(
        "INSERT INTO batches (edition, seq, state, first_recipient, size, message_id, updated_at)"
        " VALUES ('2026-03-09', ?, ?, ?, ?, ?, '2026-03-09T16:00:00.000000+00:00')",
        [(0, "accepted", 7, 2, "m-0"), (1, "in_flight", 9, 2, None), (2, "pending", 11, 1, None)],
    )
    raw.close()

    with Ledger.open(db_path) as ledger:
        batches = ledger.batches("2026-03-09")
        frozen = [
            [(s.email, s.name, dict(s.fields)) for s in ledger.batch_recipients(b.id)]
            for b in batches
        ]

    assert [(b.seq, b.state, b.size, b.message_id) for b in batches] == [
        (0, ACCEPTED, 2, "m-0"),
        (1, IN_FLIGHT, 2, None),
        (2, PENDING, 1, None),
    ]
    assert frozen == [
        [
            ("ada@example.com", "Ada", {"plan": "pro", "city": "Zürich"}),
            ("bob@example.com", "", {}),
        ],
        [("cy@example.com", 'Cy "C", Jr.', {}), ("di@example.com", "Di", {"plan": ""})],
        [("Eve@Example.com", "Eve", {})],
    ]
    raw = sqlite3.connect(db_path)
    tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "audience" not in tables
    columns = [row[1] for row in raw.execute("PRAGMA table_info(batches)")]
    assert columns == ["id", "edition", "seq", "state", "size", "message_id", "error", "updated_at"]
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()


def test_an_edition_from_schema_2_has_no_token_key_and_new_ones_keep_theirs(
    db_path: Path,
) -> None:
    """Editions started before tokens had keys keep their %%name%% tokens (key "")."""
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path, isolation_level=None)
    raw.executescript(f"BEGIN; {MIGRATIONS[0]}; PRAGMA user_version = 1; COMMIT;")
    migrate_to_2 = MIGRATIONS[1]
    assert callable(migrate_to_2)
    migrate_to_2(raw)
    raw.execute("PRAGMA user_version = 2")
    raw.execute(
        "INSERT INTO editions VALUES ('2026-03-09', 'sending', 'S %%name%%', 'P',"
        " '<p>%%name%%</p>', 'T', 'sendgrid', '2026-03-09T16:00:00.000000+00:00', NULL)"
    )
    raw.close()

    with Ledger.open(db_path) as ledger:
        old = ledger.edition("2026-03-09")
        start(ledger, "2026-03-16", subscribers(1), token_key="k3J9xq2TmQ7a")
        new = ledger.edition("2026-03-16")

    assert old is not None and (old.token_key, old.html) == ("", "<p>%%name%%</p>")
    assert new is not None and new.token_key == "k3J9xq2TmQ7a"


def test_a_file_that_is_not_a_database_is_refused_and_left_as_it_is(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    text = b"this is not SQLite, it is a text file someone put here" * 20
    db_path.write_bytes(text)

    with pytest.raises(LedgerError) as refused:
        Ledger.open(db_path)

    assert str(refused.value).startswith(f"{db_path} is not a SQLite database")
    assert "restore it from a backup" in str(refused.value)
    assert db_path.read_bytes() == text


def test_an_empty_ledger_file_is_refused_never_taken_for_a_new_one(db_path: Path) -> None:
    # A truncated state.db: SQLite would take it for a new database, and the next send
    # would mail an edition that went out already to every reader.
    db_path.parent.mkdir(parents=True)
    db_path.touch()
    wal = db_path.with_name("state.db-wal")
    wal.write_bytes(b"what is left of the log")

    with pytest.raises(LedgerError) as refused:
        Ledger.open(db_path)

    message = str(refused.value)
    assert message.startswith(f"{db_path} is empty (0 bytes)")
    assert "keep state.db-wal beside it" in message
    assert "move it away to start a new ledger" in message
    assert db_path.read_bytes() == b""
    assert wal.read_bytes() == b"what is left of the log", "SQLite would have deleted it"


@pytest.mark.parametrize(
    "schema",
    [
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
        # What state.db alone holds when a ledger's first commits never left its WAL.
        "PRAGMA journal_mode = WAL",
        # Digest's version mark without its tables.
        "PRAGMA user_version = 2",
    ],
    ids=["another program's", "header only", "tables gone"],
)
def test_a_sqlite_database_without_digests_tables_is_refused(db_path: Path, schema: str) -> None:
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path)
    raw.execute(schema)
    raw.close()
    before = db_path.read_bytes()

    with pytest.raises(LedgerError) as refused:
        Ledger.open(db_path)

    assert str(refused.value).startswith(
        f"{db_path} is a SQLite database without digest's tables, so not digest's ledger; "
        "restore it from a backup"
    )
    assert db_path.read_bytes() == before


def test_a_missing_ledger_beside_its_write_ahead_log_is_refused(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    wal = db_path.with_name("state.db-wal")
    wal.write_bytes(b"frames of editions sent")

    with pytest.raises(LedgerError) as refused:
        Ledger.open(db_path)

    assert str(refused.value).startswith(
        f"{db_path} is missing, but its write-ahead log state.db-wal is still there"
    )
    assert "put state.db back beside state.db-wal" in str(refused.value)
    assert not db_path.exists()
    assert wal.read_bytes() == b"frames of editions sent"


def test_a_new_ledger_leaves_no_temporary_file_behind(db_path: Path) -> None:
    Ledger.open(db_path).close()

    assert sorted(p.name for p in db_path.parent.iterdir()) == ["state.db", "state.lock"]


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["sqlite3.connect/handle", "os.rename"])
def test_a_crash_while_creating_the_ledger_leaves_none_or_a_whole_one(
    db_path: Path, moment: str
) -> None:
    # Killed as the new database is opened, or just before it is renamed into place:
    # no empty or half-made state.db that the next run would have to call damaged.
    child = run_python(OPEN_AND_DIE_AT, str(db_path), moment)

    assert child.wait(timeout=60) == -signal.SIGKILL
    assert not db_path.exists()
    with Ledger.open(db_path) as ledger:
        start(ledger, "2026-03-09", subscribers(3))
    assert [p.name for p in db_path.parent.iterdir() if p.name.startswith("state.db")] == [
        "state.db"
    ]


def test_closing_copies_the_log_into_state_db_without_waiting_for_a_writer(
    db_path: Path, tmp_path: Path
) -> None:
    ledger = Ledger.open(db_path)
    start(ledger, "2026-03-09", subscribers(3))
    writer = sqlite3.connect(db_path, isolation_level=None)  # another process, mid-write
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM tests")
    try:
        began = time.monotonic()
        ledger.close()
        assert time.monotonic() - began < 5, "closing waited for the writer"
        copy = tmp_path / "copy" / "state.db"
        copy.parent.mkdir()
        copy.write_bytes(db_path.read_bytes())  # state.db alone, without its -wal
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    with Ledger.open(copy) as copied:
        assert copied.edition("2026-03-09") is not None
        assert len(copied.batches("2026-03-09")) == 2


def test_a_backup_never_overwrites_the_live_ledger_under_another_name(
    ledger: Ledger, db_path: Path, tmp_path: Path
) -> None:
    start(ledger, "2026-03-09", subscribers(3))
    (tmp_path / "linked.db").hardlink_to(db_path)
    (tmp_path / "symlinked.db").symlink_to(db_path)

    for name in ("linked.db", "symlinked.db"):
        with pytest.raises(LedgerError, match="it is the live ledger itself"):
            ledger.backup(tmp_path / name)

    assert ledger.edition("2026-03-09") is not None
    assert ledger.backup(tmp_path / "copy.db") == 1


# --- starting an edition -------------------------------------------------------------


def test_start_edition_stores_the_rendered_content_and_posts(ledger: Ledger) -> None:
    start(ledger, "2026-03-09", subscribers(3), post_ids=["p3", "p1", "p2"], backend="smtp")

    edition = ledger.edition("2026-03-09")

    assert edition is not None
    assert edition.status == "sending"
    assert edition.subject == "Digest 2026-03-09: %%name%%"
    assert edition.preheader == "This week"
    assert edition.html == "<p>Hello %%name%%</p>"
    assert edition.text == "Hello %%name%%"
    assert edition.backend == "smtp"
    assert edition.post_ids == ("p3", "p1", "p2")
    assert edition.started_at == T0
    assert edition.finished_at is None
    assert ledger.edition("2026-03-16") is None


# How many addresses the packer keeps in memory: all of them, none (on disk from the
# first chunk on) and some (moving to disk midway).
IN_MEMORY = pytest.mark.parametrize("in_memory", [200_000, 0, 2], ids=["set", "disk", "both"])


@IN_MEMORY
def test_the_audience_is_deduplicated_case_insensitively_first_one_kept(
    ledger: Ledger, in_memory: int
) -> None:
    audience = [
        Subscriber("Alice@Example.com", name="Alice"),
        Subscriber("bob@example.com", name="Bob"),
        Subscriber("alice@example.com", name="Second Alice"),
        Subscriber("ÉLISE@example.com", name="Élise"),
        Subscriber("ALICE@EXAMPLE.COM"),
        Subscriber("élise@example.com", name="Second Élise"),
        Subscriber("carol@example.com"),
    ]

    counts, duplicates = freeze(ledger, "2026-03-09", audience, batch_size=3, in_memory=in_memory)

    assert (counts, duplicates) == (AudienceCounts(recipients=4, batches=2), 3)
    batches = ledger.batches("2026-03-09")
    assert [(s.email, s.name) for b in batches for s in ledger.batch_recipients(b.id)] == [
        ("Alice@Example.com", "Alice"),
        ("bob@example.com", "Bob"),
        ("ÉLISE@example.com", "Élise"),
        ("carol@example.com", ""),
    ]


def test_the_audience_is_split_in_order_into_pending_batches(ledger: Ledger) -> None:
    audience = subscribers(2500)

    counts = start(ledger, "2026-03-09", audience, batch_size=1000)

    assert counts == AudienceCounts(recipients=2500, batches=3)
    batches = ledger.batches("2026-03-09")
    assert [(b.seq, b.size, b.state) for b in batches] == [
        (0, 1000, PENDING),
        (1, 1000, PENDING),
        (2, 500, PENDING),
    ]
    assert all(b.message_id is None and b.error is None for b in batches)
    frozen = [s for b in batches for s in ledger.batch_recipients(b.id)]
    assert [(s.email, s.name, dict(s.fields)) for s in frozen] == [
        (s.email, s.name, dict(s.fields)) for s in audience
    ]
    assert frozen[0].fields == {"plan": "pro", "city": "Zürich"}
    assert frozen[1].fields == {}


@IN_MEMORY
def test_a_batch_never_holds_an_address_twice_even_across_duplicates(
    ledger: Ledger, in_memory: int
) -> None:
    audience = [
        Subscriber(f"r{i % 7}@Example.com".upper() if i % 2 else f"r{i % 7}@example.com")
        for i in range(30)
    ]

    counts, duplicates = freeze(ledger, "2026-03-09", audience, batch_size=3, in_memory=in_memory)

    assert (counts, duplicates) == (AudienceCounts(recipients=7, batches=3), 23)
    sizes = [b.size for b in ledger.batches("2026-03-09")]
    assert sizes == [3, 3, 1]
    emails = [
        s.email.lower() for b in ledger.batches("2026-03-09") for s in ledger.batch_recipients(b.id)
    ]
    assert sorted(emails) == sorted({f"r{i}@example.com" for i in range(7)})


def test_each_edition_keeps_its_own_audience(ledger: Ledger) -> None:
    start(ledger, "2026-03-02", subscribers(5), batch_size=2)
    start(ledger, "2026-03-09", subscribers(4, start=100), batch_size=3)

    def emails(key: str) -> list[str]:
        return [s.email for b in ledger.batches(key) for s in ledger.batch_recipients(b.id)]

    assert emails("2026-03-02") == [f"reader{i}@example.com" for i in range(5)]
    assert emails("2026-03-09") == [f"reader{i}@example.com" for i in range(100, 104)]


def test_starting_an_edition_twice_is_refused_and_changes_nothing(ledger: Ledger) -> None:
    start(ledger, "2026-03-09", subscribers(3), batch_size=2)

    with pytest.raises(
        LedgerError, match="edition 2026-03-09 was already started at 2026-03-09 16:00 UTC in "
    ):
        start(ledger, "2026-03-09", subscribers(10, start=50), batch_size=5, subject="Other")

    edition = ledger.edition("2026-03-09")
    assert edition is not None
    assert edition.subject == "Digest 2026-03-09: %%name%%"
    assert [b.size for b in ledger.batches("2026-03-09")] == [2, 1]


def test_a_start_that_fails_midway_records_nothing(ledger: Ledger) -> None:
    def broken_audience():
        yield from subscribers(5)
        raise RuntimeError("subscribers.csv vanished")

    with pytest.raises(RuntimeError, match="vanished"):
        start(ledger, "2026-03-09", broken_audience())

    assert ledger.edition("2026-03-09") is None
    assert ledger.sent_post_ids() == set()
    assert ledger.batches("2026-03-09") == []
    assert start(ledger, "2026-03-09", subscribers(5)).recipients == 5


def test_an_empty_audience_makes_an_edition_that_is_complete_at_once(ledger: Ledger) -> None:
    assert start(ledger, "2026-03-09", []) == AudienceCounts(0, 0)
    assert ledger.finish_if_complete("2026-03-09", T0) is True


def test_posts_count_as_sent_as_soon_as_the_send_starts(ledger: Ledger) -> None:
    assert ledger.sent_post_ids() == set()

    start(ledger, "2026-03-02", subscribers(2), post_ids=["old"])
    start(ledger, "2026-03-09", subscribers(2), post_ids=["new-1", "new-2"])

    assert ledger.edition("2026-03-09").status == "sending"
    assert ledger.sent_post_ids() == {"old", "new-1", "new-2"}


def test_edition_keys_must_be_safe_file_names(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match=re.escape("edition key '../escape' is not valid")):
        start(ledger, "../escape", subscribers(1))
    with pytest.raises(LedgerError, match="is not valid"), ledger.send_lock("a/b"):
        pass


def test_naive_datetimes_are_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="aware"):
        start(ledger, "2026-03-09", subscribers(1), started_at=T0.replace(tzinfo=None))


# --- batch states --------------------------------------------------------------------


def test_every_mark_is_committed_at_once(ledger: Ledger, db_path: Path) -> None:
    start(ledger, "2026-03-09", subscribers(6), batch_size=2)
    first, second, third = ledger.batches("2026-03-09")
    with Ledger.open(db_path) as observer:
        ledger.mark_in_flight(first.id, T0 + timedelta(seconds=1))
        [seen] = observer.batches("2026-03-09", {IN_FLIGHT})
        assert (seen.id, seen.updated_at) == (first.id, T0 + timedelta(seconds=1))

        ledger.mark_accepted(first.id, "msg-1", T0 + timedelta(seconds=2))
        [seen] = observer.batches("2026-03-09", {ACCEPTED})
        assert (seen.id, seen.message_id) == (first.id, "msg-1")

        ledger.mark_in_flight(second.id, T0 + timedelta(seconds=3))
        ledger.mark_failed(second.id, "HTTP 400: bad from address", T0 + timedelta(seconds=4))
        [seen] = observer.batches("2026-03-09", {FAILED})
        assert (seen.id, seen.error) == (second.id, "HTTP 400: bad from address")

        ledger.mark_pending([second.id])
        assert [b.id for b in observer.batches("2026-03-09", PENDING)] == [second.id, third.id]
        assert observer.batches("2026-03-09")[1].error is None


@pytest.mark.slow
def test_an_in_flight_mark_survives_the_process_being_killed(ledger: Ledger, db_path) -> None:
    start(ledger, "2026-03-09", subscribers(4), batch_size=2)
    first, _ = ledger.batches("2026-03-09")

    child = run_python(MARK_IN_FLIGHT_THEN_DIE, str(db_path), str(first.id), T0.isoformat())

    assert child.wait(timeout=60) == -signal.SIGKILL
    assert states(ledger, "2026-03-09") == [IN_FLIGHT, PENDING]
    [row] = ledger.history()
    assert (row.uncertain, row.pending) == (2, 2)


def test_an_accepted_batch_can_never_be_sent_again(ledger: Ledger) -> None:
    start(ledger, "2026-03-09", subscribers(4), batch_size=2)
    accepted, other = ledger.batches("2026-03-09")
    ledger.mark_in_flight(accepted.id, T0)
    ledger.mark_accepted(accepted.id, "msg-1", T0)
    ledger.mark_in_flight(other.id, T0)

    with pytest.raises(LedgerError, match=f"batch {accepted.id} .* is accepted"):
        ledger.mark_in_flight(accepted.id, T0)
    with pytest.raises(LedgerError, match="is accepted and cannot become pending"):
        ledger.mark_pending([other.id, accepted.id])

    assert states(ledger, "2026-03-09") == [ACCEPTED, IN_FLIGHT]


def test_only_a_pending_batch_goes_in_flight(ledger: Ledger) -> None:
    start(ledger, "2026-03-09", subscribers(4), batch_size=2)
    uncertain, failed = ledger.batches("2026-03-09")
    ledger.mark_in_flight(uncertain.id, T0)
    ledger.mark_failed(failed.id, "refused", T0)

    for batch in (uncertain, failed):
        with pytest.raises(LedgerError, match="cannot become in_flight"):
            ledger.mark_in_flight(batch.id, T0)
    with pytest.raises(LedgerError, match="cannot become accepted"):
        ledger.mark_accepted(failed.id, "msg", T0)
    with pytest.raises(LedgerError, match="no batch 999"):
        ledger.mark_in_flight(999, T0)

    ledger.mark_pending([uncertain.id, failed.id])
    assert states(ledger, "2026-03-09") == [PENDING, PENDING]
    ledger.mark_in_flight(uncertain.id, T0)


def test_the_edition_is_sent_only_when_every_batch_is_accepted(ledger: Ledger) -> None:
    start(ledger, "2026-03-09", subscribers(6), batch_size=2)
    batches = ledger.batches("2026-03-09")
    done = T0 + timedelta(minutes=5)

    for batch in batches:
        assert ledger.finish_if_complete("2026-03-09", done) is False
        ledger.mark_in_flight(batch.id, T0)
        assert ledger.finish_if_complete("2026-03-09", done) is False
        ledger.mark_accepted(batch.id, f"msg-{batch.seq}", T0)

    assert ledger.finish_if_complete("2026-03-09", done) is True
    edition = ledger.edition("2026-03-09")
    assert (edition.status, edition.finished_at) == ("sent", done)
    assert ledger.finish_if_complete("2026-03-09", done + timedelta(days=1)) is True
    assert ledger.edition("2026-03-09").finished_at == done


def test_a_failed_batch_keeps_the_edition_sending(ledger: Ledger) -> None:
    start(ledger, "2026-03-09", subscribers(2), batch_size=1)
    first, second = ledger.batches("2026-03-09")
    ledger.mark_in_flight(first.id, T0)
    ledger.mark_accepted(first.id, "msg", T0)
    ledger.mark_failed(second.id, "HTTP 503", T0)

    assert ledger.finish_if_complete("2026-03-09", T0) is False
    assert ledger.edition("2026-03-09").status == "sending"
    with pytest.raises(LedgerError, match="no edition 2026-01-01"):
        ledger.finish_if_complete("2026-01-01", T0)


# --- settling uncertain batches -------------------------------------------------------


def in_flight_batches(ledger: Ledger, count: int, size: int) -> list[Batch]:
    """Edition 2026-03-09 with ``count`` batches of ``size``, all left in flight."""
    start(ledger, "2026-03-09", subscribers(count * size), batch_size=size)
    for batch in ledger.batches("2026-03-09"):
        ledger.mark_in_flight(batch.id, T0)
    return ledger.batches("2026-03-09")


def emails_of(ledger: Ledger, batch: Batch) -> list[str]:
    return [s.email for s in ledger.batch_recipients(batch.id)]


def test_an_uncertain_batch_is_settled_whole_as_accepted_or_pending(ledger: Ledger) -> None:
    arrived, lost, other = in_flight_batches(ledger, 3, 2)

    assert ledger.settle(arrived.id, ACCEPTED, T0) == arrived.id
    assert ledger.settle(lost.id, PENDING, T0) == lost.id

    assert states(ledger, "2026-03-09") == [ACCEPTED, PENDING, IN_FLIGHT]
    [row] = ledger.history()
    assert (row.accepted, row.uncertain, row.pending, row.uncertain_batches) == (2, 2, 2, (3,))
    for settled in (arrived, lost):
        with pytest.raises(LedgerError, match="cannot become"):
            ledger.settle(settled.id, ACCEPTED, T0)
    assert [b.number for b in ledger.batches("2026-03-09")] == [1, 2, 3]
    assert other.number == 3


@pytest.mark.parametrize("state", [ACCEPTED, PENDING])
def test_settling_some_readers_splits_the_batch_and_keeps_each_address_once(
    ledger: Ledger, state: str
) -> None:
    first, second = in_flight_batches(ledger, 2, 4)
    before = emails_of(ledger, first)
    listed = {before[0], before[2]}

    moved = ledger.settle(first.id, state, T0 + timedelta(minutes=1), only=listed)

    batches = ledger.batches("2026-03-09")
    assert [(b.number, b.state, b.size) for b in batches] == [
        (1, IN_FLIGHT, 2),
        (2, IN_FLIGHT, 4),
        (3, state, 2),
    ]
    assert moved == batches[2].id
    assert emails_of(ledger, batches[0]) == [before[1], before[3]]
    assert emails_of(ledger, batches[2]) == [before[0], before[2]]
    assert batches[2].updated_at == T0 + timedelta(minutes=1)
    assert batches[0].updated_at == first.updated_at, "still in flight since then"
    [field] = [s.fields for s in ledger.batch_recipients(batches[2].id) if s.fields]
    assert field == {"plan": "pro", "city": "Zürich"}, "names and merge fields move along"
    everyone = [e for b in batches for e in emails_of(ledger, b)]
    assert sorted(everyone) == sorted(f"reader{i}@example.com" for i in range(8))
    [row] = ledger.history()
    assert (row.recipients, row.uncertain, row.uncertain_batches) == (8, 6, (1, 2))
    assert (row.accepted, row.pending) == ((2, 0) if state == ACCEPTED else (0, 2))
    assert second.id == batches[1].id


def test_settling_all_or_none_of_a_batchs_readers_does_not_split_it(ledger: Ledger) -> None:
    first, second = in_flight_batches(ledger, 2, 2)

    assert ledger.settle(first.id, ACCEPTED, T0, only=set(emails_of(ledger, first))) == first.id
    assert ledger.settle(second.id, PENDING, T0, only={"nobody@example.com"}) is None

    assert [(b.state, b.size) for b in ledger.batches("2026-03-09")] == [
        (ACCEPTED, 2),
        (IN_FLIGHT, 2),
    ]


def test_a_split_that_fails_midway_changes_nothing(ledger: Ledger, db_path: Path) -> None:
    first, _ = in_flight_batches(ledger, 2, 4)
    before = emails_of(ledger, first)
    raw = sqlite3.connect(db_path, isolation_level=None)
    raw.execute(
        "CREATE TRIGGER full_disk BEFORE INSERT ON batch_recipients"
        " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    raw.close()

    with pytest.raises(LedgerError, match="disk is full"):
        ledger.settle(first.id, ACCEPTED, T0, only={before[0]})

    assert [(b.state, b.size) for b in ledger.batches("2026-03-09")] == [(IN_FLIGHT, 4)] * 2
    assert emails_of(ledger, ledger.batches("2026-03-09")[0]) == before


# --- history -------------------------------------------------------------------------


def test_history_lists_editions_and_tests_newest_first_with_counts(ledger: Ledger) -> None:
    start(ledger, "2026-03-02", subscribers(3), batch_size=3, started_at=T0 - timedelta(days=7))
    [only] = ledger.batches("2026-03-02")
    ledger.mark_in_flight(only.id, T0 - timedelta(days=7))
    ledger.mark_accepted(only.id, "m0", T0 - timedelta(days=7))
    ledger.finish_if_complete("2026-03-02", T0 - timedelta(days=7) + timedelta(minutes=1))
    ledger.record_test(
        "2026-03-09",
        subject="[TEST] Digest",
        recipients=["editor@example.com", "boss@example.com"],
        at=T0 - timedelta(hours=1),
        message_id="t1",
        accepted=True,
    )
    start(ledger, "2026-03-09", subscribers(13), batch_size=3, post_ids=["a", "b", "c"])
    accepted, failed, uncertain, refused, _pending = ledger.batches("2026-03-09")
    ledger.mark_in_flight(accepted.id, T0)
    ledger.mark_accepted(accepted.id, "m1", T0)
    ledger.mark_failed(failed.id, "HTTP 400", T0)
    ledger.mark_in_flight(uncertain.id, T0)
    ledger.mark_in_flight(refused.id, T0)
    ledger.mark_rejected(refused.id, "550 5.1.1 user unknown", T0)

    history = ledger.history()

    assert [(row.kind, row.key) for row in history] == [
        ("edition", "2026-03-09"),
        ("test", "2026-03-09"),
        ("edition", "2026-03-02"),
    ]
    current, test, previous = history
    assert (current.status, current.posts, current.recipients) == ("sending", 3, 13)
    counts = (current.accepted, current.refused, current.failed, current.uncertain)
    assert (*counts, current.pending) == (3, 3, 3, 3, 1)
    assert (current.started_at, current.finished_at) == (T0, None)
    assert test.addresses == ("editor@example.com", "boss@example.com")
    assert (test.started_at, test.subject, test.recipients, test.status) == (
        T0 - timedelta(hours=1),
        "[TEST] Digest",
        2,
        "accepted",
    )
    assert (previous.status, previous.recipients, previous.accepted, previous.posts) == (
        "sent",
        3,
        3,
        2,
    )
    assert previous.finished_at == T0 - timedelta(days=7) + timedelta(minutes=1)


def test_a_refused_test_send_is_recorded_as_failed(ledger: Ledger) -> None:
    ledger.record_test(
        "2026-03-09",
        subject="[TEST] x",
        recipients=["a@example.com"],
        at=T0,
        message_id="",
        accepted=False,
    )

    [row] = ledger.history()

    assert (row.kind, row.status, row.accepted, row.failed) == ("test", "failed", 0, 1)
    assert ledger.edition("2026-03-09") is None


# --- locks ---------------------------------------------------------------------------


# --- unsubscribes -----------------------------------------------------------------------


def test_an_unsubscribe_is_recorded_lowercased_and_the_first_one_is_kept(
    ledger: Ledger, db_path: Path
) -> None:
    assert ledger.record_unsubscribe("Ada@Example.com", T0, "one-click") is True
    assert ledger.record_unsubscribe("ada@example.com", T0 + timedelta(hours=1), "page") is False
    assert ledger.record_unsubscribe("bob@example.com", T0 + timedelta(hours=2), "page") is True

    with Ledger.open(db_path) as reopened:
        assert reopened.unsubscribed_addresses() == {"ada@example.com", "bob@example.com"}
        assert reopened.unsubscribe_count() == 2
    raw = sqlite3.connect(db_path)
    rows = raw.execute("SELECT address, at, source FROM unsubscribes ORDER BY address").fetchall()
    raw.close()
    assert rows == [
        ("ada@example.com", "2026-03-09T16:00:00.000000+00:00", "one-click"),
        ("bob@example.com", "2026-03-09T18:00:00.000000+00:00", "page"),
    ]


def test_a_fresh_ledger_has_no_unsubscribes_and_withhold_takes_them(ledger: Ledger) -> None:
    assert ledger.unsubscribed_addresses() == frozenset()
    assert ledger.unsubscribe_count() == 0
    ledger.record_unsubscribe("reader1@example.com", T0, "one-click")
    packed = list(AudiencePacker(2).batches(subscribers(3)))
    withheld: list[str] = []

    kept = list(withhold(packed, ledger.unsubscribed_addresses(), withheld))

    assert withheld == ["reader1@example.com"]
    assert [s.email for b in kept for s in unpack_recipients(b.recipients)] == [
        "reader0@example.com",
        "reader2@example.com",
    ]


def test_unsubscribes_are_numbered_in_the_order_they_were_recorded(ledger: Ledger) -> None:
    for hour, address in enumerate(["c@example.com", "a@example.com", "b@example.com"]):
        ledger.record_unsubscribe(address, T0 + timedelta(hours=hour), "one-click")
    ledger.record_unsubscribe("A@example.com", T0 + timedelta(hours=9), "page")  # kept first

    everything = ledger.unsubscribes_after(0)
    assert [address for _, address in everything] == [
        "c@example.com",
        "a@example.com",
        "b@example.com",
    ]
    first_seq = everything[0][0]
    assert ledger.unsubscribes_after(first_seq) == everything[1:]
    assert ledger.unsubscribes_after(everything[-1][0]) == []


def test_unsubscribes_from_schema_4_get_numbers_in_time_order(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path, isolation_level=None)
    raw.executescript(f"BEGIN; {MIGRATIONS[0]}; PRAGMA user_version = 1; COMMIT;")
    migrate_to_2 = MIGRATIONS[1]
    assert callable(migrate_to_2)
    migrate_to_2(raw)
    raw.executescript(f"{MIGRATIONS[2]}; {MIGRATIONS[3]}; PRAGMA user_version = 4;")
    raw.executemany(
        "INSERT INTO unsubscribes VALUES (?, ?, 'one-click')",
        [
            ("late@example.com", "2026-03-09T18:00:00.000000+00:00"),
            ("early@example.com", "2026-03-09T16:00:00.000000+00:00"),
        ],
    )
    raw.execute(
        "INSERT INTO editions VALUES ('2026-03-09', 'sending', 'S', 'P', 'H', 'T', 'sendgrid',"
        " '2026-03-09T16:00:00.000000+00:00', NULL, 'k3J9xq2TmQ7a')"
    )
    raw.close()

    with Ledger.open(db_path) as ledger:
        numbered = ledger.unsubscribes_after(0)
        edition = ledger.edition("2026-03-09")
        assert ledger.record_unsubscribe("new@example.com", T0, "page") is True
        newest = ledger.unsubscribes_after(numbered[-1][0])

    assert [address for _, address in numbered] == ["early@example.com", "late@example.com"]
    assert [address for _, address in newest] == ["new@example.com"]
    assert edition is not None and edition.unsubscribes_seen == 0, "every one is checked"


def test_an_edition_keeps_the_last_unsubscribe_its_audience_left_out(ledger: Ledger) -> None:
    start(ledger, "2026-03-09", subscribers(2), unsubscribes_seen=7)
    edition = ledger.edition("2026-03-09")
    assert edition is not None and edition.unsubscribes_seen == 7


def test_withholding_takes_readers_out_of_a_pending_batch_on_record(ledger: Ledger) -> None:
    start(ledger, "2026-03-09", subscribers(5), batch_size=3)
    first, second = ledger.batches("2026-03-09")
    gone = {"reader1@example.com", "reader3@example.com", "reader4@example.com"}

    assert ledger.withhold_readers(first.id, gone, T0) == ["reader1@example.com"]
    assert ledger.withhold_readers(second.id, gone, T0) == [
        "reader3@example.com",
        "reader4@example.com",
    ]
    assert ledger.withhold_readers(first.id, gone, T0) == []

    [left] = ledger.batches("2026-03-09")
    assert (left.id, left.size) == (first.id, 2), "the emptied batch is gone"
    assert [s.email for s in ledger.batch_recipients(left.id)] == [
        "reader0@example.com",
        "reader2@example.com",
    ]
    ledger.mark_in_flight(left.id, T0)
    ledger.mark_accepted(left.id, "m1", T0)
    assert ledger.finish_if_complete("2026-03-09", T0)
    [row] = ledger.history()
    assert (row.recipients, row.accepted, row.unsubscribed, row.pending) == (5, 2, 3, 0)


def test_only_a_pending_batch_has_readers_withheld(ledger: Ledger) -> None:
    start(ledger, "2026-03-09", subscribers(2))
    [batch] = ledger.batches("2026-03-09")
    ledger.mark_in_flight(batch.id, T0)
    with pytest.raises(LedgerError, match="is in_flight and cannot become withheld"):
        ledger.withhold_readers(batch.id, {"reader0@example.com"}, T0)
    assert [s.email for s in ledger.batch_recipients(batch.id)] == [
        "reader0@example.com",
        "reader1@example.com",
    ]


@pytest.mark.slow
def test_an_unsubscribe_waits_for_a_write_lock_another_process_holds(
    ledger: Ledger, db_path: Path
) -> None:
    holder = run_python(HOLD_WRITE_LOCK, str(db_path), "1.5", stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        assert ledger.record_unsubscribe("ada@example.com", T0, "one-click") is True
        waited = time.monotonic() - started
        assert holder.stdout.readline().strip() == "releasing"
    finally:
        holder.wait(timeout=60)
        holder.stdout.close()

    assert 1.0 < waited < 30
    assert ledger.unsubscribed_addresses() == {"ada@example.com"}


def test_the_send_lock_is_exclusive_and_per_edition(ledger: Ledger, db_path: Path) -> None:
    with Ledger.open(db_path) as other, ledger.send_lock("2026-03-09"):
        with pytest.raises(StandDown) as stood_down, other.send_lock("2026-03-09"):
            pass
        assert str(stood_down.value) == "edition 2026-03-09 is being sent by another process"
        with other.send_lock("2026-03-16"):
            pass
    assert (db_path.parent / "locks" / "2026-03-09.lock").is_file()
    with ledger.send_lock("2026-03-09"):
        pass


def test_the_start_lock_is_exclusive_and_apart_from_the_send_locks(
    ledger: Ledger, db_path: Path
) -> None:
    with Ledger.open(db_path) as other, ledger.start_lock():
        with pytest.raises(StandDown, match="starting an edition"), other.start_lock():
            pass
        with other.send_lock("2026-03-09"):
            pass
    with ledger.start_lock():
        pass


def test_a_forked_child_does_not_keep_the_send_lock(ledger: Ledger, db_path: Path) -> None:
    # Send workers are forked while the parent holds the lock; one that outlives the
    # parent (kill -9) must not keep the edition locked against the rerun.
    fork = multiprocessing.get_context("fork")
    running = fork.Event()

    def run() -> None:  # the fork hooks have run by the time this does
        running.set()
        time.sleep(30)

    with ledger.send_lock("2026-03-09"):
        child = fork.Process(target=run, daemon=True)
        child.start()
        assert running.wait(timeout=30)
    try:
        with Ledger.open(db_path) as other, other.send_lock("2026-03-09"):
            assert child.is_alive()
    finally:
        child.kill()
        child.join()


@pytest.mark.slow
def test_a_send_lock_held_by_another_process_is_freed_by_kill_9(
    ledger: Ledger, db_path: Path
) -> None:
    holder = run_python(HOLD_SEND_LOCK, str(db_path), "2026-03-09", stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with (
            pytest.raises(StandDown, match="being sent by another process"),
            ledger.send_lock("2026-03-09"),
        ):
            pass
    finally:
        holder.kill()
        holder.wait(timeout=60)
        holder.stdout.close()

    assert holder.returncode == -signal.SIGKILL
    with ledger.send_lock("2026-03-09"):
        pass


@pytest.mark.slow
def test_processes_opening_a_fresh_folder_at_once_all_succeed(tmp_path: Path) -> None:
    workers, rounds = 4, 8
    paths = [str(tmp_path / f"round{n}" / ".digest" / "state.db") for n in range(rounds)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=open_fresh_ledgers, args=(w, paths, barrier, results))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in range(workers * rounds)]
    for process in processes:
        process.join(timeout=60)

    assert outcomes == ["ok"] * (workers * rounds)
    for path in paths:
        with Ledger.open(Path(path)) as opened:
            assert sorted(row.subject for row in opened.history()) == [
                f"worker {w}" for w in range(workers)
            ]


def test_withhold_leaves_out_the_given_addresses_and_drops_an_emptied_batch() -> None:
    ann, bob, cy = (Subscriber(f"{n}@example.com", n.title()) for n in ("ann", "bob", "cy"))
    batches = [
        PackedBatch(2, pack_recipients([ann, bob])),
        PackedBatch(1, pack_recipients([cy])),
    ]
    withheld: list[str] = []
    kept = list(withhold(batches, {"bob@example.com", "cy@example.com"}, withheld))
    assert [batch.size for batch in kept] == [1]
    assert unpack_recipients(kept[0].recipients) == [ann]
    assert withheld == ["bob@example.com", "cy@example.com"]
    assert list(withhold(batches, set(), withheld)) == batches


def test_a_file_where_the_state_folder_goes_is_named_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / ".digest").write_text("not a folder")
    with pytest.raises(LedgerError) as caught:
        Ledger.open(tmp_path / ".digest" / "state.db")
    assert str(caught.value) == (
        f"cannot open {tmp_path}/.digest/state.db: {tmp_path}/.digest is a file, "
        "where digest keeps its state; move that file away (digest makes the .digest/ folder)"
    )


# Packs N generated readers with the address set on disk at once, under a file size
# limit of LIMIT bytes: `python -c PACK_LIMITED LIMIT N`. Prints the error, if any.
PACK_LIMITED = """
import resource, sys
limit, readers = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from digest.errors import DigestError
from digest.audience.packing import AudiencePacker
from digest.models import Subscriber
audience = (Subscriber(f"reader{n}@example.com") for n in range(readers))
try:
    batches = sum(1 for _ in AudiencePacker(1000, in_memory=0).batches(audience))
except DigestError as error:
    print(type(error).__name__, error)
else:
    print("packed", batches)
"""


def test_no_room_for_the_addresses_kept_on_disk_is_one_clear_error() -> None:
    """A real write that fails: the packer's temporary table passes the file size limit."""
    run = subprocess.run(
        [sys.executable, "-c", PACK_LIMITED, str(200_000), "100000"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert run.stderr == ""
    assert run.stdout.startswith("DiskFull cannot keep the list's addresses in a temporary file")
    assert "free space in the temporary folder (TMPDIR)" in run.stdout


# --- seen posts, rehearsals, missed runs (schema 5) -------------------------------------


def schema_4_ledger(db_path: Path) -> sqlite3.Connection:
    """A ledger as digest left it before seen posts were recorded (schema 4)."""
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path, isolation_level=None)
    for number, migration in enumerate(MIGRATIONS[:4]):
        if isinstance(migration, str):
            raw.executescript(f"BEGIN; {migration}; PRAGMA user_version = {number + 1}; COMMIT;")
        else:
            migration(raw)
            raw.execute(f"PRAGMA user_version = {number + 1}")
    return raw


def test_an_older_ledger_counts_its_sent_posts_as_seen_and_keeps_a_cut_off_once(
    db_path: Path,
) -> None:
    raw = schema_4_ledger(db_path)
    for key, at, posts in (
        ("2026-03-02", T0 - timedelta(days=7), ["p1", "p2"]),
        ("2026-03-09", T0, ["p3"]),
    ):
        raw.execute(
            "INSERT INTO editions (key, status, subject, preheader, html, text, backend,"
            " started_at) VALUES (?, 'sent', 's', 'p', 'h', 't', 'sendgrid', ?)",
            (key, at.isoformat(timespec="microseconds")),
        )
        raw.executemany(
            "INSERT INTO edition_posts VALUES (?, ?, ?)",
            [(key, n, post) for n, post in enumerate(posts)],
        )
    raw.close()

    with Ledger.open(db_path) as ledger:
        assert ledger.seen_post_ids() == {"p1", "p2", "p3"}
        assert ledger.seen_before() == T0
        start(ledger, "2026-03-16", subscribers(1), post_ids=["p4"], seen_ids=["p4", "p5"])
        assert ledger.seen_post_ids() == {"p1", "p2", "p3", "p4", "p5"}
        assert ledger.seen_before() is None, "the next edition recorded what its source showed"


def test_a_fresh_ledger_has_no_cut_off_and_an_edition_marks_what_its_source_showed(
    ledger: Ledger,
) -> None:
    assert ledger.seen_before() is None
    start(ledger, "2026-03-09", subscribers(1), post_ids=["a", "b"], seen_ids=["c", "a"])
    assert ledger.seen_post_ids() == {"a", "b", "c"}
    assert ledger.sent_post_ids() == {"a", "b"}


def test_a_start_that_fails_midway_marks_nothing_seen(ledger: Ledger) -> None:
    def broken_audience():
        yield from subscribers(3)
        raise RuntimeError("subscribers.csv vanished")

    with pytest.raises(RuntimeError):
        start(ledger, "2026-03-09", broken_audience(), seen_ids=["a"])
    assert ledger.seen_post_ids() == set()


def test_a_rehearsal_is_kept_apart_and_spends_nothing(ledger: Ledger) -> None:
    key = ledger.next_rehearsal_key("2026-03-09")
    assert key == "2026-03-09.rehearsal-1"
    start(ledger, key, subscribers(3), post_ids=["a"], seen_ids=["a", "b"], rehearses="2026-03-09")

    assert ledger.seen_post_ids() == set()
    assert ledger.sent_post_ids() == set()
    assert ledger.unfinished_editions() == [], "a rehearsal is never resumed"
    assert ledger.edition("2026-03-09") is None
    assert ledger.any_edition() is False
    assert ledger.rehearsed("2026-03-09") is False
    assert ledger.next_rehearsal_key("2026-03-09") == "2026-03-09.rehearsal-2"
    for batch in ledger.batches(key):
        ledger.mark_in_flight(batch.id, T0)
        ledger.mark_accepted(batch.id, "", T0)
    assert ledger.finish_if_complete(key, T0) is True
    assert ledger.rehearsed("2026-03-09") is True
    (row,) = ledger.history()
    assert (row.kind, row.key, row.status, row.posts, row.accepted) == (
        "rehearsal",
        "2026-03-09",
        "sent",
        1,
        3,
    )
    start(ledger, "2026-03-09", subscribers(3), post_ids=["a"])
    assert ledger.any_edition() is True
    assert sorted((row.kind, row.key) for row in ledger.history()) == [
        ("edition", "2026-03-09"),
        ("rehearsal", "2026-03-09"),
    ]


def test_a_missed_run_is_noted_once(ledger: Ledger) -> None:
    run = T0 - timedelta(hours=3)
    assert ledger.note_missed(run, "2026-03-09", T0) is None
    assert ledger.note_missed(run, "2026-03-09", T0 + timedelta(minutes=15)) == T0
    assert ledger.note_missed(run + timedelta(days=7), "2026-03-16", T0) is None
