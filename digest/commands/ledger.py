"""`digest ledger`: the ledger file itself, e.g. a consistent copy for a recipe to carry."""

from __future__ import annotations

from pathlib import Path

from ..app import App
from ..errors import LedgerError
from ..ledger import Ledger, ledger_exists
from ..text import plural


def backup(app: App, target: Path) -> None:
    """Copy this folder's ledger to ``target`` (safe while a send runs), never making one."""
    source = app.paths.ledger
    if not ledger_exists(source):
        raise LedgerError(
            f"there is no ledger to back up: {source} does not exist",
            hint="the first `digest send` makes it; run this in the newsletter folder",
        )
    with Ledger.open(source) as ledger:
        editions = ledger.backup(target)
    size = target.stat().st_size
    app.say(f"Copied {source} to {target}: {plural(editions, 'edition')}, {size:,} bytes.")
