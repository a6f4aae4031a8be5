"""Readers who unsubscribed through the endpoint, recorded at once for sends to leave out
before `digest subscribers sync` writes them into subscribers.csv."""

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

    def unsubscribe_count(self) -> int:
        """How many addresses are recorded as unsubscribed."""
        with self._sqlite():
            return self._db.execute("SELECT count(*) FROM unsubscribes").fetchone()[0]
