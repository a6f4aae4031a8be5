"""Sends that are not the edition: `--to` test sends and `--dry-run` outboxes.

Neither starts the edition: the next real send still goes to everyone. A test
is recorded in the ledger as a test; a dry run (of the edition, or of a test
with `--to`) records nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ..audience.active import AudienceReport, suppressed_addresses
from ..audience.addresses import normalize
from ..audience.csvfile import read_subscribers
from ..audience.packing import withhold
from ..deliver import Backend, Message
from ..deliver.outbox import OutboxBackend
from ..errors import ConfigError, InvalidAddress
from ..ledger import Ledger, ledger_exists
from ..models import Recipient, RenderedEmail, Subscriber, unpack_recipients
from .edition import (
    Context,
    edition_key,
    message_for,
    next_digest,
    render,
    sent_post_ids,
    stored_email,
)
from .plan import audience_batches, message_personalizer, warn_problems


@dataclass(frozen=True)
class SampleOutcome:
    key: str
    subject: str
    recipients: int
    where: str
    skipped: Counter[str] = field(default_factory=Counter)


def edition_email(ctx: Context, key: str) -> RenderedEmail:
    """The edition's email: as stored when its send has started, else freshly rendered."""
    path = ctx.settings.state_dir / "state.db"
    if ledger_exists(path):
        with Ledger.open(path) as ledger:
            edition = ledger.edition(key)
        if edition is not None:
            return stored_email(edition)
    return render(ctx, next_digest(ctx, key, sent_post_ids(ctx)))


def test_mail(
    ctx: Context, addresses: Sequence[str], edition: str | None
) -> tuple[str, Message, list[Recipient]]:
    """The edition's key, its [TEST] message, and the given addresses as its recipients."""
    key = edition or edition_key(ctx.now, ctx.settings.schedule.timezone)
    email = edition_email(ctx, key)
    message = message_for(ctx.settings, email, key, test=True)
    personalize = message_personalizer(ctx, message)
    return key, message, [personalize(s) for s in _test_readers(ctx, addresses)]


def send_test(
    ctx: Context, addresses: Sequence[str], backend: Backend, edition: str | None
) -> SampleOutcome:
    """Send the edition to the given addresses only, subject prefixed [TEST], recorded as a test."""
    key, message, recipients = test_mail(ctx, addresses, edition)
    # Opened first: a ledger that cannot be written stops the test before anything goes out.
    with Ledger.open(ctx.settings.state_dir / "state.db") as ledger:
        sent: list[str] = []
        message_ids: list[str] = []
        try:
            for batch in _batches(recipients, backend.batch_size):
                message_ids.append(backend.send(message, batch))
                sent += [r.email for r in batch]
        finally:
            # Whatever happened, what went out is on record; the rest as failed.
            unsent = [r.email for r in recipients[len(sent) :]]
            at = ctx.clock()
            for addresses, ids, accepted in ((sent, message_ids, True), (unsent, [], False)):
                if addresses:
                    ledger.record_test(
                        key,
                        subject=message.subject,
                        recipients=addresses,
                        at=at,
                        message_id=",".join(ids),
                        accepted=accepted,
                    )
    return SampleOutcome(key, message.subject, len(recipients), backend.name)


def dry_run_test(
    ctx: Context, addresses: Sequence[str], backend: OutboxBackend, edition: str | None
) -> SampleOutcome:
    """Write the test of the edition for the given addresses to the outbox; record nothing."""
    key, message, recipients = test_mail(ctx, addresses, edition)
    for batch in _batches(recipients, backend.batch_size):
        backend.send(message, batch)
    return SampleOutcome(
        key, message.subject, len(recipients), str(backend.folder_for(message.edition))
    )


def _batches(recipients: list[Recipient], size: int) -> Iterator[list[Recipient]]:
    for start in range(0, len(recipients), size):
        yield recipients[start : start + size]


def _test_readers(ctx: Context, addresses: Sequence[str]) -> list[Subscriber]:
    """Each address once, with its subscriber row's name and fields when it has one."""
    wanted: dict[str, str] = {}
    for address in addresses:
        try:
            wanted.setdefault(normalize(address).lower(), normalize(address))
        except InvalidAddress as problem:
            raise ConfigError(f"--to {address}: {problem}", "give a valid email address") from None
    rows = {}
    path = ctx.settings.path(ctx.settings.subscribers.path)
    if path.exists():
        for row in read_subscribers(path):
            if isinstance(row, Subscriber) and row.email.lower() in wanted:
                rows.setdefault(row.email.lower(), row)
    return [rows.get(lowered, Subscriber(email=email)) for lowered, email in wanted.items()]


def dry_run_edition(ctx: Context, backend: OutboxBackend, edition: str | None) -> SampleOutcome:
    """Write every active subscriber's message to the outbox; send and record nothing."""
    key = edition or edition_key(ctx.now, ctx.settings.schedule.timezone)
    email = edition_email(ctx, key)
    message = message_for(ctx.settings, email, key, test=False)
    personalize = message_personalizer(ctx, message)
    report = AudienceReport()
    path = ctx.settings.path(ctx.settings.subscribers.path)
    suppressed = suppressed_addresses(path)
    count = 0
    # Filtered, deduplicated and batched as digest send freezes them.
    batches = audience_batches(ctx, path, backend.batch_size, lambda: personalize, report)
    withheld: list[str] = []
    for batch in withhold(batches, suppressed, withheld):
        backend.send(message, [personalize(s) for s in unpack_recipients(batch.recipients)])
        count += batch.size
    report.count_withheld(withheld, suppressed)
    warn_problems(ctx, report)
    where = str(backend.folder_for(key))
    return SampleOutcome(key, message.subject, count, where, report.skipped)
