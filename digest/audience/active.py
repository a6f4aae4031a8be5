"""The readers a send reaches: the active rows of the list, less those another row keeps
off it; the report of every row left out, and why; and the check of the whole list.

Each streams the list (a list can have a million rows); only ``check_list`` holds a
table of the addresses seen, which it needs to name duplicates.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidAddress
from ..models import Subscriber
from .addresses import normalize
from .csvfile import (
    DUPLICATE,
    INVALID,
    WHOLE,
    Problem,
    Share,
    inactive_rows,
    read_subscribers,
)

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
    return check_list(path, misfit).problems


@dataclass
class ListCheck:
    """What ``check_list`` found: the problems ``check_subscribers`` lists; how many rows
    are what (``counts``: active, unsubscribed, bounced, complained, invalid, duplicate,
    each row once; blank rows none); and ``unsynced``, how many readers the ledger
    records as unsubscribed through the link have a row `subscribers sync` would mark."""

    problems: list[Problem] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    unsynced: int = 0

    @classmethod
    def of_shares(cls, shares: Iterable[ListCheck]) -> ListCheck:
        """The check of a whole list from the checks of its shares (``csvfile.Share``):
        each reader is in one share, so the problems only need putting in line order."""
        found = cls()
        for share in shares:
            found.problems += share.problems
            found.counts.update(share.counts)
            found.unsynced += share.unsynced
        found.problems.sort(key=lambda problem: problem.line)
        return found


def check_list(
    path: Path,
    misfit: Callable[[Subscriber], str] = _fits,
    unsubscribed: Collection[str] = frozenset(),
    share: Share = WHOLE,
) -> ListCheck:
    """The list (or ``share`` of it) checked in one pass: ``check_subscribers``'s problems,
    and the counts.

    ``unsubscribed``: the ledger's unsubscribes (lowercased). Whether an active row is
    withheld is known only once the row that suppresses its address is read, which may
    come later: such rows are found at the end (``_withheld_earlier``).
    """
    found = ListCheck()
    problems, counts = found.problems, found.counts
    suppressed: dict[str, Suppression] = {}
    first_active: dict[str, int] = {}  # the line of each address's first active row
    first_inactive: dict[str, int] = {}  # and of its first inactive one
    duplicates: list[tuple[int, str]] = []  # (index in problems, address) of active ones
    unsynced: set[str] = set()
    actives = 0  # counted apart: nearly every row is one
    for row in read_subscribers(path, share):
        if isinstance(row, Problem):
            problems.append(row)
            counts[row.kind] += 1
            if row.status:
                _suppress(suppressed, row.email, Suppression(row.line, row.status))
            continue
        key, line, status = row.email.lower(), row.line, row.status
        if unsubscribed and key in unsubscribed and status in _SYNC_RAISES:
            unsynced.add(key)
        if status == "active":
            problem = misfit(row)
            why = None if problem else suppressed.get(key)
            if problem or why is not None:
                kind = INVALID if problem else DUPLICATE
                problems.append(Problem(line, row.email, problem or _marks(why), kind))
                counts[kind] += 1
                continue
            at = first_active.setdefault(key, line)
            if at == line:
                actives += 1
                continue
            duplicates.append((len(problems), key))
        else:
            if key not in suppressed:
                suppressed[key] = Suppression(line, status)
            at = first_inactive.setdefault(key, line)
            if at == line:
                counts[status] += 1
                continue
        problems.append(Problem(line, row.email, f"duplicate of line {at}", DUPLICATE))
        counts[DUPLICATE] += 1
    counts["active"] += actives
    _withheld_earlier(path, found, suppressed, first_active, duplicates)
    found.unsynced = len(unsynced)
    return found


# The statuses `subscribers sync` raises to unsubscribed (see rewrite.RANK).
_SYNC_RAISES = frozenset({"active", "bounced"})


def _marks(why: Suppression | None) -> str:
    assert why is not None
    return f"line {why.line} marks this address {why.status}, so this row is not sent"


def _suppress(suppressed: dict[str, Suppression], email: str, why: Suppression) -> None:
    """Note a broken row that still keeps its address off the list (``Problem.status``)."""
    with contextlib.suppress(InvalidAddress):  # reported as invalid already
        suppressed.setdefault(normalize(email).lower(), why)


def _withheld_earlier(
    path: Path,
    found: ListCheck,
    suppressed: Mapping[str, Suppression],
    first_active: Mapping[str, int],
    duplicates: list[tuple[int, str]],
) -> None:
    """The active rows of addresses a later row suppresses: withheld, not sent once.

    Their duplicates are relabelled; the first of each, counted as active, becomes a
    problem too, named as the list writes it: the list is read again for those rows
    (only when there are any: an unsubscribe written below the reader's row).
    """
    late = {key: why for key, why in suppressed.items() if key in first_active}
    if not late:
        return
    for index, key in duplicates:
        if key in late:
            line, email = found.problems[index].line, found.problems[index].email
            found.problems[index] = Problem(line, email, _marks(late[key]), DUPLICATE)
    lines = {first_active[key]: key for key in late}
    for row in read_subscribers(path):
        if isinstance(row, Subscriber) and lines.get(row.line) is not None:
            reason = _marks(late[lines.pop(row.line)])
            found.problems.append(Problem(row.line, row.email, reason, DUPLICATE))
            found.counts["active"] -= 1
            found.counts[DUPLICATE] += 1
            if not lines:
                break
    found.problems.sort(key=lambda problem: problem.line)
