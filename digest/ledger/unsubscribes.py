"""Readers who unsubscribed through the endpoint, recorded at once for sends to leave out
before `digest subscribers sync` writes them into subscribers.csv.

Each is numbered in the order it was recorded (``seq``), so that a send whose audience
is frozen asks only for those recorded since (``unsubscribes_after``): usually none.
"""

from __future__ import annotations

from datetime import datetime

from .store import Store, to_iso


class Unsubscribes(Store):
    """The unsubscribes table: one row an address, lowercased, the first record kept."""

    def record_unsubscribe(self, address: str, at: datetime, source: str) -> bool:
        """Record, committed at once, that ``address`` unsubscribed (``source``: how, such as
        "one-click" or "page"). The first record is kept: True if this one is it."""
        with self._sqlite():
            return bool(
                self._db.execute(
                    "INSERT OR IGNORE INTO unsubscribes (address, at, source) VALUES (?, ?, ?)",
                    (address.lower(), to_iso(at), source),
                ).rowcount
            )

    def unsubscribed_addresses(self) -> frozenset[str]:
        """Every address recorded as unsubscribed, lowercased: what a send leaves out."""
        with self._sqlite():
            return frozenset(row[0] for row in self._db.execute("SELECT address FROM unsubscribes"))

    def unsubscribes_after(self, seq: int) -> list[tuple[int, str]]:
        """(seq, lowercased address) of each unsubscribe recorded after number ``seq``, in
        the order they were recorded; ``unsubscribes_after(0)`` gives them all. One query
        of the table's own index: cheap enough to ask before every batch of a send."""
        with self._sqlite():
            return self._db.execute(
                "SELECT seq, address FROM unsubscribes WHERE seq > ? ORDER BY seq", (seq,)
            ).fetchall()

    def unsubscribe_count(self) -> int:
        """How many addresses are recorded as unsubscribed."""
        with self._sqlite():
            return self._db.execute("SELECT count(*) FROM unsubscribes").fetchone()[0]
