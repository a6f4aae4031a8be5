"""`digest ledger`: the ledger file itself, e.g. a consistent copy for a recipe to carry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import LedgerError
from ..ledger import Ledger, ledger_exists
from ..sending.edition import Context


@dataclass(frozen=True)
class Backup:
    """What `digest ledger backup` wrote: the copy of ``source`` and how much it holds."""

    source: Path
    target: Path
    editions: int
    size: int


def backup_ledger(ctx: Context, target: Path) -> Backup:
    """Copy this folder's ledger to ``target`` (safe while a send runs), never making one."""
    source = ctx.settings.state_dir / "state.db"
    if not ledger_exists(source):
        raise LedgerError(
            f"there is no ledger to back up: {source} does not exist",
            hint="the first `digest send` makes it; run this in the newsletter folder",
        )
    with Ledger.open(source) as ledger:
        editions = ledger.backup(target)
    return Backup(source, target, editions, target.stat().st_size)
