"""The recipients of uncertain batches (in flight when a run stopped): named in a warning
and listed in ``.digest/uncertain-KEY.txt``, one address a line under a ``# batch N``
line for each batch, to check against the provider's activity log."""

from __future__ import annotations

from pathlib import Path

from ..app import App
from ..files import write_atomic
from ..ledger import IN_FLIGHT, Batch, Ledger
from ..text import plural
from .outcome import SendOutcome
from .settle import how_to_settle, named


def report_uncertain(
    app: App, ledger: Ledger, key: str, uncertain: list[Batch], outcome: SendOutcome
) -> None:
    """Batches left in flight by a crash: name them and their recipients, and the
    commands that settle them; they are not sent again."""
    if not uncertain:
        return
    listing, addresses = _list_uncertain(app, ledger, key, uncertain)
    outcome.uncertain += len(addresses)
    numbers = [batch.number for batch in uncertain]
    were = "was" if len(numbers) == 1 else "were"
    how = how_to_settle(key, numbers)
    app.warn(
        f"{named(numbers)} of edition {key}, {plural(len(addresses), 'recipient')}, {were} in"
        " flight when"
        " an earlier run stopped: the provider may have delivered them. Not sent again."
        f" Recipients: {', '.join(addresses[:10])}{' ...' if len(addresses) > 10 else ''}"
        f" (all in {listing}, by batch). {how[0].upper()}{how[1:]}."
    )


def _list_uncertain(
    app: App, ledger: Ledger, key: str, uncertain: list[Batch]
) -> tuple[Path, list[str]]:
    """Write the recipients of the uncertain batches, one address a line under a
    ``# batch N`` line for each batch, to .digest/uncertain-KEY.txt, to check against the
    provider's activity log (and to give, trimmed, to --accept-uncertain FILE)."""
    lines = [f"# Edition {key}: recipients of batches left uncertain, by batch\n"]
    addresses = []
    for batch in uncertain:
        batch_addresses = [s.email for s in ledger.batch_recipients(batch.id)]
        lines.append(f"# batch {batch.number}: {plural(len(batch_addresses), 'recipient')}\n")
        lines += (f"{address}\n" for address in batch_addresses)
        addresses += batch_addresses
    listing = app.paths.uncertain_listing(key)
    write_atomic(listing, "".join(lines).encode("utf-8"))
    return listing, addresses


def keep_uncertain_listing(app: App, ledger: Ledger, key: str, outcome: SendOutcome) -> None:
    """List the recipients of the batches still uncertain, or remove a settled list. A
    list that cannot be written is a warning: it must not hide how the send went."""
    uncertain = ledger.batches(key, (IN_FLIGHT,))
    outcome.uncertain_batches = tuple(batch.number for batch in uncertain)
    try:
        if uncertain:
            outcome.uncertain_listing, _ = _list_uncertain(app, ledger, key, uncertain)
        else:  # settled: an earlier run's list would mislead
            app.paths.uncertain_listing(key).unlink(missing_ok=True)
    except OSError as problem:
        app.warn(f"cannot write the list of uncertain recipients: {problem}")
