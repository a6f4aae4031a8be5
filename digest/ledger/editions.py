"""Editions: one send of one digest, its content, posts and frozen audience; and test sends.

An edition row is written only by ``start_edition``, in one transaction with its posts,
the posts its source showed (``seen``) and its audience's batches, so a resumed send
sends identical content to the same people. ``send_lock`` is a per-edition ``flock``
held for a whole send, and ``start_lock`` another, held while any edition starts.

A rehearsal (a send in SendGrid's sandbox mode, which delivers nothing) is recorded as
an edition of kind ``rehearsal`` under a key of its own, ``KEY.rehearsal-N``: it
rehearses edition KEY with the same machinery, but never completes that edition, never
counts its posts as sent or seen, and is never resumed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..errors import LedgerError
from ..models import PackedBatch
from ..text import readable_time
from .batches import DONE_STATES, PENDING
from .locks import held_flock
from .seen import record_seen
from .store import Store, check_key, from_iso, to_iso

SENDING = "sending"
SENT = "sent"
EDITION = "edition"
REHEARSAL = "rehearsal"
_REHEARSAL_INFIX = ".rehearsal-"


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
    kind: str = EDITION
    rehearses: str | None = None  # for a rehearsal: the key of the edition it rehearses
    # The last unsubscribe (``Unsubscribes`` seq) its frozen audience left out: those
    # recorded after it are checked against its batches before they go.
    unsubscribes_seen: int = 0


@dataclass(frozen=True)
class AudienceCounts:
    """What ``start_edition`` froze: recipients and batches."""

    recipients: int
    batches: int


class Editions(Store):
    """The editions started from this folder, and its test sends."""

    def sent_post_ids(self) -> set[str]:
        """Ids of the posts of every edition whose send has started (sending or sent).

        Every edition in the ledger has started its send: an edition row is only
        written by ``start_edition``, which also marks it sending. A rehearsal's posts
        are not sent.
        """
        with self._sqlite():
            rows = self._db.execute(
                "SELECT p.post_id FROM edition_posts p JOIN editions e ON e.key = p.edition"
                " WHERE e.kind = ?",
                (EDITION,),
            )
            return {row[0] for row in rows}

    def unfinished_editions(self) -> list[str]:
        """Keys of editions whose send started and has not finished, oldest first (a
        rehearsal that stopped is not one: it is never resumed)."""
        with self._sqlite():
            rows = self._db.execute(
                "SELECT key FROM editions WHERE status = ? AND kind = ? ORDER BY started_at",
                (SENDING, EDITION),
            )
            return [row[0] for row in rows]

    def edition_keys(self) -> list[str]:
        """The keys of every edition started (not its rehearsals), oldest first."""
        with self._sqlite():
            rows = self._db.execute(
                "SELECT key FROM editions WHERE kind = ? ORDER BY started_at, rowid", (EDITION,)
            )
            return [row[0] for row in rows]

    def latest_edition(self) -> str | None:
        """The key of the edition started last (not a rehearsal), or None before the first
        send."""
        with self._sqlite():
            row = self._db.execute(
                "SELECT key FROM editions WHERE kind = ? ORDER BY started_at DESC, rowid DESC"
                " LIMIT 1",
                (EDITION,),
            ).fetchone()
            return row[0] if row else None

    def any_edition(self) -> bool:
        """Whether any edition (not a rehearsal) was ever started from this folder."""
        with self._sqlite():
            row = self._db.execute("SELECT 1 FROM editions WHERE kind = ?", (EDITION,)).fetchone()
        return row is not None

    def next_rehearsal_key(self, key: str) -> str:
        """The key the next rehearsal of edition ``key`` is recorded under (hold the
        start lock from here until it starts)."""
        with self._sqlite():
            count = self._db.execute(
                "SELECT count(*) FROM editions WHERE kind = ? AND rehearses = ?", (REHEARSAL, key)
            ).fetchone()[0]
        return f"{key}{_REHEARSAL_INFIX}{count + 1}"

    def rehearsed(self, key: str) -> bool:
        """Whether a rehearsal of edition ``key`` went through to its end."""
        with self._sqlite():
            row = self._db.execute(
                "SELECT 1 FROM editions WHERE kind = ? AND rehearses = ? AND status = ?",
                (REHEARSAL, key, SENT),
            ).fetchone()
        return row is not None

    def edition(self, key: str) -> Edition | None:
        """The edition recorded under ``key``, or None if its send never started."""
        with self._sqlite():
            row = self._db.execute(
                "SELECT key, status, subject, preheader, html, text, started_at, finished_at,"
                " backend, token_key, kind, rehearses, unsubscribes_seen FROM editions"
                " WHERE key = ?",
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
                started_at=from_iso(row[6]),
                finished_at=from_iso(row[7]) if row[7] else None,
                backend=row[8],
                post_ids=tuple(post[0] for post in posts),
                token_key=row[9],
                kind=row[10],
                rehearses=row[11],
                unsubscribes_seen=row[12],
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
        seen_ids: Collection[str] = (),
        rehearses: str | None = None,
        unsubscribes_seen: int = 0,
    ) -> AudienceCounts:
        """Record an edition as sending, with its content, posts and frozen audience, and
        every post its source showed (``seen_ids``) as seen.

        All in one transaction: either the whole edition is recorded or nothing is.
        The audience comes as ``audience.packing.AudiencePacker`` makes it, deduplicated
        and packed into batches, in order; each becomes a pending batch. It is streamed,
        so memory stays flat whatever its size. With ``rehearses``, it is a rehearsal of
        that edition, recorded under ``key`` (``next_rehearsal_key``), and sees nothing.
        ``unsubscribes_seen`` is the last unsubscribe the audience was filtered against
        (see ``Unsubscribes``).
        """
        check_key(key)
        started = to_iso(started_at)
        with self._sqlite(), self._transaction():
            existing = self._db.execute(
                "SELECT started_at FROM editions WHERE key = ?", (key,)
            ).fetchone()
            if existing is not None:
                raise LedgerError(
                    f"edition {key} was already started at "
                    f"{readable_time(from_iso(existing[0]))} in {self.path}",
                    hint="an edition is started once; `digest send --edition KEY` resumes it",
                )
            kind = EDITION if rehearses is None else REHEARSAL
            self._db.execute(
                "INSERT INTO editions (key, status, subject, preheader, html, text, backend,"
                " started_at, token_key, kind, rehearses, unsubscribes_seen)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key, SENDING, subject, preheader, html, text, backend, started, token_key,
                    kind, rehearses, unsubscribes_seen,
                ),
            )  # fmt: skip
            if rehearses is None:
                record_seen(self._db, key, [*post_ids, *seen_ids], started)
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

    def finish_if_complete(self, key: str, at: datetime) -> bool:
        """Mark the edition sent once every batch is done (accepted, or rejected for good)."""
        finished = to_iso(at)
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
                (key, subject, json.dumps(list(recipients)), to_iso(at), message_id, accepted),
            )

    def send_lock(self, key: str) -> contextlib.AbstractContextManager[None]:
        """Hold ``locks/<key>.lock`` beside the database for a whole send of edition ``key``.

        Non-blocking: if another process holds it, raise StandDown. The OS drops a
        flock when its process dies, even by ``kill -9``, so a crash never leaves it stale.
        """
        check_key(key)
        return self._flock(f"{key}.lock", f"edition {key} is being sent by another process")

    def _flock(self, name: str, busy: str) -> contextlib.AbstractContextManager[None]:
        """An exclusive flock on ``locks/<name>`` beside the database, or StandDown(``busy``)."""
        return held_flock(self.path.parent / "locks" / name, busy)

    def start_lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold ``locks/start.lock`` while an edition starts: from choosing its posts to
        freezing its audience.

        Two sends of different editions would otherwise both choose posts before either
        records its own, and send the same posts twice. Non-blocking, like ``send_lock``.
        """
        return self._flock("start.lock", "another digest send is starting an edition right now")
