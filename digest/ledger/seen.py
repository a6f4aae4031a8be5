"""The posts each edition's source showed: seen, so that no later edition selects them.

Every post id a source showed when an edition's send started is recorded, in the same
transaction that freezes its audience (``Editions.start_edition``): the posts it sends,
and those it passed over (too many, too old) alike. A ledger from before this record
kept only the posts its editions sent; for it, ``seen_before`` is when its latest
edition started, and posts published before then count as seen, until the next edition
records what its source shows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from .store import Store, from_iso


class Seen(Store):
    """The posts seen when editions were made."""

    def seen_post_ids(self) -> set[str]:
        """Every post id a source showed when an edition (not a rehearsal) started."""
        with self._sqlite():
            return {row[0] for row in self._db.execute("SELECT post_id FROM seen")}

    def seen_before(self) -> datetime | None:
        """For a ledger made before seen posts were recorded: when its latest edition
        started (posts published earlier count as seen). None once an edition recorded them."""
        with self._sqlite():
            row = self._db.execute("SELECT at FROM seen_before").fetchone()
        return from_iso(row[0]) if row else None


def record_seen(db: sqlite3.Connection, key: str, post_ids: Iterable[str], at: str) -> None:
    """Inside the transaction that starts edition ``key``: the posts its source showed are
    seen (the first edition to see a post keeps it), and the cut-off of an older ledger
    has done its work."""
    db.executemany(
        "INSERT OR IGNORE INTO seen (post_id, edition, at) VALUES (?, ?, ?)",
        ((post_id, key, at) for post_id in post_ids),
    )
    db.execute("DELETE FROM seen_before")
