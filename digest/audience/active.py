"""The readers a send reaches: the active rows of the list, less those another row keeps
off it; the report of every row left out, and why; and the check of the whole list.

Each streams the list (a list can have a million rows); only ``check_subscribers``
holds a table of the addresses seen, which it needs to name duplicates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidAddress
from ..models import Subscriber
from .addresses import normalize
from .csvfile import DUPLICATE, Problem, inactive_rows, read_subscribers

# Why a send leaves out a reader whom the ledger records as unsubscribed through the
# endpoint, before `digest subscribers sync` has written it into the list.
UNSUBSCRIBED_BY_LINK = "unsubscribed through the link"


@dataclass
class AudienceReport:
    """What ``active_audience`` let through and what it skipped, and why, filled as it streams.

    ``skipped`` counts by reason: unsubscribed, bounced, complained, invalid, duplicate
    (the last is counted by whoever deduplicates: packing.AudiencePacker), and
    UNSUBSCRIBED_BY_LINK.
    """

    active: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)

    def count_withheld(
        self, addresses: Iterable[str], suppressed: Mapping[str, Suppression]
    ) -> None:
        """Count the active rows left out: as duplicates, and reported, those another row of
        their address marks unsubscribed, bounced or complained (see suppressed_addresses);
        the others (the ledger's unsubscribes) as UNSUBSCRIBED_BY_LINK."""
        for email in addresses:
            why = suppressed.get(email.lower())
            self.active -= 1
            if why is None:
                self.skipped[UNSUBSCRIBED_BY_LINK] += 1
                continue
            self.skipped[DUPLICATE] += 1
            reason = f"marked {why.status} here, so its row marked active is not sent either"
            self.problems.append(Problem(why.line, email, reason, DUPLICATE))


@dataclass(frozen=True)
class Suppression:
    """A row that keeps its address off every send: its line and status."""

    line: int
    status: str


def suppressed_addresses(path: Path) -> dict[str, Suppression]:
    """Each address (lowercased) that a row marks unsubscribed, bounced or complained, with
    the first such row.

    Such a row keeps the address off the list even if another row of it says active: a
    reader who unsubscribed once is not mailed through a duplicate row. Only these rows
    are validated, so the scan costs about a microsecond a row.
    """
    suppressed: dict[str, Suppression] = {}
    for line, email, status in inactive_rows(path):
        try:
            key = normalize(email).lower()
        except InvalidAddress:
            continue  # reported as invalid when the list is read
        suppressed.setdefault(key, Suppression(line, status))
    return suppressed


def active_audience(path: Path, report: AudienceReport) -> Iterator[Subscriber]:
    """The valid, active subscribers in file order; counts the rest in ``report``.

    Duplicates are not removed here (packing.AudiencePacker dedupes and counts them).
    """
    for row in read_subscribers(path):
        if isinstance(row, Problem):
            report.problems.append(row)
            report.skipped[row.kind] += 1
        elif not row.active:
            report.skipped[row.status] += 1
        else:
            report.active += 1
            yield row


def _fits(_subscriber: Subscriber) -> str:
    """Every row fits (``check_subscribers`` without an email to size rows against)."""
    return ""


def check_subscribers(path: Path, misfit: Callable[[Subscriber], str] = _fits) -> list[Problem]:
    """Every row that a send leaves out for a reason other than its status, in line order.

    That is: invalid rows; active rows whose merge fields are too large, as ``misfit``
    (the send's own test, for the email's tokens) says; active rows whose address
    another row marks unsubscribed, bounced or complained (the send withholds them);
    and duplicates (addresses compare case-insensitively). A row marked inactive is a
    duplicate only of another inactive one: repeating an active row, it is the row that
    keeps the address off the list, and the active row is the one reported.
    """
    suppressed = suppressed_addresses(path)
    seen: dict[bool, dict[str, int]] = {True: {}, False: {}}  # by whether the row is active
    problems: list[Problem] = []
    for row in read_subscribers(path):
        problem = row if isinstance(row, Problem) else _left_out(row, misfit, suppressed, seen)
        if problem is not None:
            problems.append(problem)
    return problems


def _left_out(
    row: Subscriber,
    misfit: Callable[[Subscriber], str],
    suppressed: Mapping[str, Suppression],
    seen: dict[bool, dict[str, int]],
) -> Problem | None:
    """Why a send leaves a valid row out, beyond its status; None when it does not."""
    key = row.email.lower()
    if row.active:
        too_large = misfit(row)
        if too_large:
            return Problem(row.line, row.email, too_large)
        if key in suppressed:
            why = suppressed[key]
            reason = f"line {why.line} marks this address {why.status}, so this row is not sent"
            return Problem(row.line, row.email, reason, DUPLICATE)
    first = seen[row.active].setdefault(key, row.line)
    if first != row.line:
        return Problem(row.line, row.email, f"duplicate of line {first}", DUPLICATE)
    return None
