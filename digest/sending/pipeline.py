"""The audience pipeline of a send or a dry run: the list read in a child process,
filtered, deduplicated and packed into batches, and the rows left out reported; and
`subscribers check`'s reading of the list, in children too (``ListChecking``).

The child starts before the email is rendered, so the tokens the email uses come
later; the child waits for them only if a reader's merge fields are so long that they
might not fit SendGrid's limit (``SurelyFits``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Self

from ..app import App
from ..audience.active import AudienceReport, ListCheck, active_audience, check_list
from ..audience.csvfile import Problem, Share
from ..audience.packing import AudiencePacker
from ..audience.personalize import Personalizer, SurelyFits
from ..ledger import Ledger, ledger_exists
from ..models import PackedBatch, Subscriber
from .edition import personalizer
from .offload import CHUNK, Later, Offloaded


def read_in_child(
    app: App, path: Path, batch_size: int, tokens: Later[tuple[frozenset[str], str]]
) -> Offloaded[PackedBatch, AudienceReport]:
    """The sendable subscribers, deduplicated and packed into the ledger's batches by a
    child process; ``result``: the child's AudienceReport.

    The child starts before the email is rendered: the tokens the email uses come
    later, through ``tokens``, and the child waits for them only if a reader's merge
    fields are so long that they might not fit (``SurelyFits``).
    """
    report = AudienceReport()

    def exact() -> Personalizer:
        return personalizer(app.settings, *tokens.get())

    def produce() -> Iterator[PackedBatch]:
        return audience_batches(app, path, batch_size, exact, report)

    # About CHUNK recipients a message to this process, whatever the batch size.
    chunk = max(1, CHUNK // batch_size)
    # The spool holds the packed audience (50 MB a million readers) until the freeze
    # ends: beside the ledger rather than in a temporary folder that may be in memory.
    return Offloaded(
        produce,
        lambda: report,
        doing=f"reading {path.name}",
        chunk=chunk,
        spool_dir=app.paths.state,
    )


# Seals the sample unsubscribe links a check sizes rows with when DIGEST_UNSUBSCRIBE_SECRET
# is not set: only their length matters, and a token is as long under any secret.
SIZING_SECRET = "subscribers-check-sizing-only"


# From this size on, a check reads the list in two processes, a share each, where the
# machine has two cores to give: about 100,000 rows.
SHARED_BYTES = 4 * 1024 * 1024


class ListChecking:
    """``check_list`` of the list in child processes, started (``with``) before the email
    is rendered, which with its imports takes as long as reading 200,000 rows.

    A long list is read in two children, a share of its readers each (``csvfile.Share``),
    where two cores are free to run them; ``give`` the email's tokens once rendered, then
    ``result`` is what they found, as one. A row is sized for those tokens only if
    ``SurelyFits`` is unsure of it: a child waits for them then, and only then.
    """

    def __init__(self, app: App, path: Path, unsubscribed: Collection[str]) -> None:
        count = 2 if _two_cores() and _size(path) >= SHARED_BYTES else 1
        self._tokens: list[Later[tuple[frozenset[str], str]]] = [Later() for _ in range(count)]
        self._children = [
            _checking(app, path, unsubscribed, (index, count), tokens)
            for index, tokens in enumerate(self._tokens)
        ]
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Self:
        with self._stack as started:
            for child, tokens in zip(self._children, self._tokens, strict=True):
                started.enter_context(child)
                started.callback(tokens.close)  # first, on the way out: frees a waiting child
            self._stack = started.pop_all()
        return self

    def __exit__(self, *_: object) -> None:
        self._stack.close()

    def give(self, tokens: tuple[frozenset[str], str]) -> None:
        for later in self._tokens:
            later.give(tokens)

    def result(self) -> ListCheck:
        """What the children found, as the check of the whole list (after ``give``)."""
        found = []
        for child in self._children:
            for _ in child:
                pass
            assert child.result is not None
            found.append(child.result)
        return ListCheck.of_shares(found)


def _checking(
    app: App,
    path: Path,
    unsubscribed: Collection[str],
    share: Share,
    tokens: Later[tuple[frozenset[str], str]],
) -> Offloaded[None, ListCheck]:
    """One child's check of ``share`` of the list."""
    found: list[ListCheck] = []
    surely_fits = SurelyFits(app.settings.unsubscribe.url)
    short_name, short_address = surely_fits.short_name, surely_fits.short_address
    exact: list[Personalizer] = []

    def misfit(row: Subscriber) -> str:
        # SurelyFits' first test, inlined: it settles nearly every row of a long list.
        if not row.fields and len(row.name) <= short_name and len(row.email) <= short_address:
            return ""
        if surely_fits(row):
            return ""
        if not exact:
            exact.append(personalizer(app.settings, *tokens.get(), secret=SIZING_SECRET))
        return exact[0].misfit(row)

    def produce() -> Iterator[None]:
        found.append(check_list(path, misfit, unsubscribed, share))
        return iter(())

    return Offloaded(produce, lambda: found[0], doing=f"checking {path.name}")


def _two_cores() -> bool:
    """Whether this process may run on two cores or more."""
    return (
        len(os.sched_getaffinity(0)) > 1
        if hasattr(os, "sched_getaffinity")
        else ((os.cpu_count() or 1) > 1)
    )


def _size(path: Path) -> int:
    """The list's size, 0 if it cannot be told (the check then says why, once it reads)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def audience_batches(
    app: App,
    path: Path,
    batch_size: int,
    exact: Callable[[], Personalizer],
    report: AudienceReport,
) -> Iterator[PackedBatch]:
    """The list's sendable readers, deduplicated and packed into batches as the ledger
    freezes them; ``report`` counts the rows left out, duplicates once all are read.
    (Not yet withheld: see ``withhold`` and ``suppressed_addresses``.)"""
    packer = AudiencePacker(batch_size)
    yield from packer.batches(sendable(app, active_audience(path, report), exact, report))
    report.skipped["duplicate"] += packer.duplicates


def sendable(
    app: App,
    audience: Iterable[Subscriber],
    exact: Callable[[], Personalizer],
    report: AudienceReport,
) -> Iterator[Subscriber]:
    """Subscribers whose personalization fits SendGrid's limits; the others counted invalid.

    ``exact()`` gives the email's Personalizer; it is asked for only when SurelyFits
    is unsure of a reader.
    """
    surely_fits = SurelyFits(app.settings.unsubscribe.url)
    personalize: Personalizer | None = None
    for subscriber in audience:
        if not surely_fits(subscriber):
            personalize = personalize or exact()
            problem = personalize.misfit(subscriber)
            if problem:
                report.skipped["invalid"] += 1
                report.active -= 1
                report.problems.append(Problem(subscriber.line, subscriber.email, problem))
                continue
        yield subscriber


def unsubscribed_through_the_link(app: App) -> frozenset[str]:
    """The unsubscribes the endpoint recorded in the ledger (lowercased), which every send
    leaves out; none when there is no ledger yet (reading it never makes one)."""
    if not ledger_exists(app.paths.ledger):
        return frozenset()
    with Ledger.open(app.paths.ledger) as ledger:
        return ledger.unsubscribed_addresses()


def warn_problems(app: App, report: AudienceReport) -> None:
    """Each row the audience left out, with its line number: never silently."""
    for problem in report.problems:
        where = f"{app.settings.subscribers.path}:{problem.line}"
        app.warn(f"{where}: {problem.email}: {problem.reason}")


def describe_skipped(counts: Mapping[str, int]) -> str:
    """Readers left out, by reason: "3 duplicate, 1 invalid" ("" when none were)."""
    return ", ".join(f"{n} {why}" for why, n in sorted(counts.items()) if n)
