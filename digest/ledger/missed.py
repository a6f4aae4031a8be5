"""Scheduled runs reported missed: each is reported once, however often a timer ticks."""

from __future__ import annotations

from datetime import datetime

from .store import Store, to_iso


class MissedRuns(Store):
    """The missed_runs table: one row a scheduled run, the first report kept."""

    def note_missed(self, run: datetime, edition: str, at: datetime) -> datetime | None:
        """Record that the run at ``run`` (edition ``edition``) was missed, committed at
        once; None if this is the first report, else when it was first reported."""
        with self._sqlite(), self._transaction():
            row = self._db.execute(
                "SELECT noted_at FROM missed_runs WHERE run = ?", (to_iso(run),)
            ).fetchone()
            if row is not None:
                return datetime.fromisoformat(row[0])
            self._db.execute(
                "INSERT INTO missed_runs (run, edition, noted_at) VALUES (?, ?, ?)",
                (to_iso(run), edition, to_iso(at)),
            )
            return None
