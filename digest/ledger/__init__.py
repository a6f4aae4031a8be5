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
- the posts each edition's source showed (**seen**), which later editions never select;
- **rehearsals**, sandbox sends of an edition, kept apart from it (editions of their kind);
- **test** sends, for the history;
- **unsubscribes** the endpoint recorded, for sends to leave out before any sync;
- scheduled runs reported **missed**, so that each is reported once.

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

from .backup import Backups
from .batches import (
    ACCEPTED,
    ALL_STATES,
    DONE_STATES,
    FAILED,
    IN_FLIGHT,
    PENDING,
    REJECTED,
    Batch,
    Batches,
)
from .editions import EDITION, REHEARSAL, SENDING, SENT, AudienceCounts, Edition, Editions
from .history import TEST, History, HistoryRow
from .missed import MissedRuns
from .schema import MIGRATIONS, SCHEMA_VERSION, ledger_exists
from .seen import Seen
from .unsubscribes import Unsubscribes


class Ledger(Editions, Seen, Batches, History, Unsubscribes, MissedRuns, Backups):
    """The state database of one newsletter folder; open it with ``Ledger.open(path)``.

    Each part (``editions``, ``seen``, ``batches``, ``history``, ``unsubscribes``,
    ``missed``, ``backup``) is a module with its methods over the one connection
    ``store.Store`` keeps: a new table is a migration in ``schema.py`` and a new part
    listed here.
    """


__all__ = [
    "ACCEPTED",
    "ALL_STATES",
    "DONE_STATES",
    "EDITION",
    "FAILED",
    "IN_FLIGHT",
    "MIGRATIONS",
    "PENDING",
    "REHEARSAL",
    "REJECTED",
    "SCHEMA_VERSION",
    "SENDING",
    "SENT",
    "TEST",
    "AudienceCounts",
    "Batch",
    "Edition",
    "HistoryRow",
    "Ledger",
    "ledger_exists",
]
