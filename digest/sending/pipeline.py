"""The audience pipeline of a send or a dry run: the list read in a child process,
filtered, deduplicated and packed into batches, and the rows left out reported; and
`subscribers check`'s reading of the list, in a child too (``check_in_child``).

The child starts before the email is rendered, so the tokens the email uses come
later; the child waits for them only if a reader's merge fields are so long that they
might not fit SendGrid's limit (``SurelyFits``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path

from ..app import App
from ..audience.active import AudienceReport, ListCheck, active_audience, check_list
from ..audience.csvfile import Problem
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


def check_in_child(
    app: App,
    path: Path,
    tokens: Later[tuple[frozenset[str], str]],
    unsubscribed: Collection[str],
) -> Offloaded[None, ListCheck]:
    """``check_list`` of the list in a child process, started before the email is rendered
    (that and its imports take as long as reading 200,000 rows); ``result``: what it found.

    A row is sized for the email's tokens, which come through ``tokens``, only if
    ``SurelyFits`` is unsure of it: the child waits for them then, and only then.
    """
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
        found.append(check_list(path, misfit, unsubscribed))
        return iter(())

    return Offloaded(produce, lambda: found[0], doing=f"checking {path.name}")


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
