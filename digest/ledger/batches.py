"""An edition's batches and their state machine: ``pending -> in_flight -> accepted |
failed | rejected``.

A batch is marked in flight, committed, *before* its request and marked again after
the answer, so a batch left in flight after a crash is known to be uncertain; settling
it (after checking the provider's log) records it as accepted or sends it again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..errors import LedgerError
from ..models import Subscriber, pack_recipients, unpack_recipients
from .store import Store, from_iso, to_iso

PENDING = "pending"
IN_FLIGHT = "in_flight"
ACCEPTED = "accepted"
FAILED = "failed"
REJECTED = "rejected"
ALL_STATES = frozenset({PENDING, IN_FLIGHT, ACCEPTED, FAILED, REJECTED})
DONE_STATES = (ACCEPTED, REJECTED)

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


class Batches(Store):
    """The batches of the editions in the ledger."""

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
                Batch(*row[:6], updated_at=from_iso(row[6])) for row in rows if row[2] in wanted
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
        self._mark(batch_id, IN_FLIGHT, at=to_iso(at))

    def mark_accepted(self, batch_id: int, message_id: str, at: datetime) -> None:
        """Record, committed at once, that the provider accepted the batch."""
        self._mark(batch_id, ACCEPTED, at=to_iso(at), message_id=message_id)

    def mark_failed(self, batch_id: int, error: str, at: datetime) -> None:
        """Record, committed at once, that the batch surely was not delivered, and why."""
        self._mark(batch_id, FAILED, at=to_iso(at), error=error)

    def mark_rejected(self, batch_id: int, error: str, at: datetime) -> None:
        """Record that the provider refused the batch's recipients for good: never resent."""
        self._mark(batch_id, REJECTED, at=to_iso(at), error=error)

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
        when = to_iso(at)
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

    def withhold_readers(
        self, batch_id: int, addresses: Collection[str], at: datetime
    ) -> list[str]:
        """Take out of a pending batch the readers whose lowercased address is in
        ``addresses``, who unsubscribed after the audience was frozen, in one transaction:
        the batch keeps the others (one left empty is removed) and each reader taken out is
        recorded as withheld from the edition, for its counts. Returns their addresses."""
        with self._sqlite(), self._transaction():
            row = self._db.execute(
                "SELECT edition, state FROM batches WHERE id = ?", (batch_id,)
            ).fetchone()
            if row is None or row[1] != PENDING:
                raise self._refused_mark(batch_id, "withheld")
            recipients = unpack_recipients(self.packed_recipients(batch_id))
            kept = [s for s in recipients if s.email.lower() not in addresses]
            gone = [s.email for s in recipients if s.email.lower() in addresses]
            if kept and gone:
                self._db.execute(
                    "UPDATE batches SET size = ?, updated_at = ? WHERE id = ?",
                    (len(kept), to_iso(at), batch_id),
                )
                self._db.execute(
                    "UPDATE batch_recipients SET recipients = ? WHERE batch = ?",
                    (pack_recipients(kept), batch_id),
                )
            elif gone:
                self._db.execute("DELETE FROM batch_recipients WHERE batch = ?", (batch_id,))
                self._db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
            self._db.executemany(
                "INSERT OR IGNORE INTO withheld (edition, address, at) VALUES (?, ?, ?)",
                ((row[0], email, to_iso(at)) for email in gone),
            )
            return gone

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
