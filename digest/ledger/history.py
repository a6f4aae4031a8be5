"""What ``digest history`` lists: every edition and test send, with counts by batch state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from .batches import ACCEPTED, FAILED
from .editions import EDITION, REHEARSAL
from .store import Store, from_iso

TEST = "test"


@dataclass(frozen=True)
class HistoryRow:
    """A line of ``digest history``: an edition (``kind == "edition"``), a rehearsal of one
    (``"rehearsal"``, whose ``key`` is the edition's) or a test send.

    For an edition or a rehearsal, ``status`` is "sending" or "sent" and the counts are
    recipients;
    ``uncertain`` counts recipients of batches left in flight, ``uncertain_batches``
    numbers those batches (``Batch.number``), ``unsubscribed`` the readers of its frozen
    audience left out because they unsubscribed after the freeze. For a test,
    ``started_at`` is when it was sent, ``status`` is "accepted" or "failed" and
    ``addresses`` lists its recipients.
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
    unsubscribed: int = 0

    @property
    def pending(self) -> int:
        """Recipients of an edition not yet attempted (failed ones are tried again too)."""
        done = self.accepted + self.failed + self.uncertain + self.refused + self.unsubscribed
        return self.recipients - done


class History(Store):
    """The history queries."""

    def history(self) -> list[HistoryRow]:
        """Every edition and test send, newest first, with recipient counts by batch state."""
        with self._sqlite():
            rows = [*self._edition_history(), *self._test_history()]
        return sorted(rows, key=lambda row: row.started_at, reverse=True)

    def _edition_history(self) -> Iterator[HistoryRow]:
        rows = self._db.execute(
            """
            SELECT e.kind, coalesce(e.rehearses, e.key), e.started_at, e.finished_at,
                   e.subject, e.status,
                   (SELECT count(*) FROM edition_posts p WHERE p.edition = e.key),
                   coalesce(sum(b.size), 0),
                   coalesce(sum(CASE b.state WHEN 'accepted' THEN b.size END), 0),
                   coalesce(sum(CASE b.state WHEN 'failed' THEN b.size END), 0),
                   coalesce(sum(CASE b.state WHEN 'in_flight' THEN b.size END), 0),
                   coalesce(sum(CASE b.state WHEN 'rejected' THEN b.size END), 0),
                   group_concat(CASE b.state WHEN 'in_flight' THEN b.seq + 1 END),
                   (SELECT count(*) FROM withheld w WHERE w.edition = e.key)
            FROM editions e LEFT JOIN batches b ON b.edition = e.key
            GROUP BY e.key
            """
        )
        for (
            kind,
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
            withheld,
        ) in rows:
            yield HistoryRow(
                kind=REHEARSAL if kind == REHEARSAL else EDITION,
                key=key,
                started_at=from_iso(started),
                finished_at=from_iso(finished) if finished else None,
                subject=subject,
                status=status,
                posts=posts,
                recipients=total + withheld,
                accepted=ok,
                failed=failed,
                uncertain=unsure,
                refused=refused,
                uncertain_batches=numbers_listed(unsure_numbers),
                unsubscribed=withheld,
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
                started_at=from_iso(at),
                subject=subject,
                status=ACCEPTED if accepted else FAILED,
                recipients=len(addresses),
                accepted=len(addresses) if accepted else 0,
                failed=0 if accepted else len(addresses),
                addresses=addresses,
                message_id=message_id,
            )


def numbers_listed(listed: str | None) -> tuple[int, ...]:
    """The numbers SQLite's group_concat listed (None for none), in order."""
    return tuple(sorted(int(number) for number in listed.split(","))) if listed else ()
