"""Sends that are not the edition: `--to` test sends and `--dry-run` outboxes; and the
sample edition that shows which tokens the templates use (``email_tokens``).

Neither starts the edition: the next real send still goes to everyone. A test
is recorded in the ledger as a test; a dry run (of the edition, or of a test
with `--to`) records nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..app import App
from ..audience.active import AudienceReport, suppressed_addresses
from ..audience.addresses import normalize
from ..audience.csvfile import read_subscribers
from ..audience.packing import withhold
from ..audience.personalize import Personalizer, check_other_tokens, used_tokens
from ..deliver import Backend, Message
from ..deliver.outbox import OutboxBackend
from ..errors import ConfigError, InvalidAddress
from ..ledger import FAILED, IN_FLIGHT, PENDING, Edition, Ledger
from ..models import Digest, Post, Recipient, Subscriber, unpack_recipients
from .backends import make_backend
from .edition import (
    edition_email,
    message_for,
    message_personalizer,
    refuse_unfilled_unsubscribe,
    render,
    stored_email,
    unsubscribe_mode,
    with_asm_placeholders,
)
from .pipeline import audience_batches, unsubscribed_through_the_link, warn_problems
from .ready import check_ready


@dataclass(frozen=True)
class SampleOutcome:
    key: str
    subject: str
    recipients: int
    where: str
    skipped: Counter[str] = field(default_factory=Counter)


def test_mail(
    app: App, addresses: Sequence[str], edition: str | None, *, preview: bool = False
) -> tuple[str, Message, list[Recipient]]:
    """The edition's key, its [TEST] message, and the given addresses as its recipients
    (with a ``preview``'s placeholders for links nothing would fill: see _previewer)."""
    key = app.edition_key(edition)
    email = edition_email(app, key)
    message = message_for(app.settings, email, key, test=True, preview=preview)
    personalize = message_personalizer(app.settings, message, preview=preview)
    if preview:
        personalize = _previewer(app, personalize)
    return key, message, [personalize(s) for s in _test_readers(app, addresses)]


def _previewer(app: App, personalize: Personalizer) -> Callable[[Subscriber], Recipient]:
    """``personalize`` with, in ASM mode, a placeholder where SendGrid's link would go:
    a dry run's outbox shows what readers get, and SendGrid's tag is not that."""
    if unsubscribe_mode(app.settings) != "asm":
        return personalize
    return lambda subscriber: with_asm_placeholders(personalize(subscriber))


def send_configured_test(app: App, addresses: Sequence[str], edition: str | None) -> SampleOutcome:
    """`digest send --to` (and the preview's button): the test through the configured
    backend, which an unsubscribe method is not needed for (a link nothing would fill is
    refused all the same: see send_test)."""
    backend_name = app.settings.delivery.backend
    check_ready(app, backend_name, to_list=False)
    backend = make_backend(app, backend_name)
    try:
        return send_test(app, addresses, backend, edition)
    finally:
        backend.close()


def send_test(
    app: App, addresses: Sequence[str], backend: Backend, edition: str | None
) -> SampleOutcome:
    """Send the edition to the given addresses only, subject prefixed [TEST], recorded as a test."""
    key, message, recipients = test_mail(app, addresses, edition)
    refuse_unfilled_unsubscribe(app.settings, message, backend.name)
    # Opened first: a ledger that cannot be written stops the test before anything goes out.
    with Ledger.open(app.paths.ledger) as ledger:
        sent: list[str] = []
        message_ids: list[str] = []
        try:
            for batch in _batches(recipients, backend.batch_size):
                message_ids.append(backend.send(message, batch))
                sent += [r.email for r in batch]
        finally:
            # Whatever happened, what went out is on record; the rest as failed.
            unsent = [r.email for r in recipients[len(sent) :]]
            at = app.clock()
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
    app: App, addresses: Sequence[str], backend: OutboxBackend, edition: str | None
) -> SampleOutcome:
    """Write the test of the edition for the given addresses to the outbox; record nothing."""
    key, message, recipients = test_mail(app, addresses, edition, preview=True)
    for batch in _batches(recipients, backend.batch_size):
        backend.send(message, batch)
    return SampleOutcome(
        key, message.subject, len(recipients), str(backend.folder_for(message.edition))
    )


def _batches(recipients: list[Recipient], size: int) -> Iterator[list[Recipient]]:
    for start in range(0, len(recipients), size):
        yield recipients[start : start + size]


def _test_readers(app: App, addresses: Sequence[str]) -> list[Subscriber]:
    """Each address once, with its subscriber row's name and fields when it has one."""
    wanted: dict[str, str] = {}
    for address in addresses:
        try:
            wanted.setdefault(normalize(address).lower(), normalize(address))
        except InvalidAddress as problem:
            raise ConfigError(f"--to {address}: {problem}", "give a valid email address") from None
    rows = {}
    path = app.paths.subscribers
    if path.exists():
        for row in read_subscribers(path):
            if isinstance(row, Subscriber) and row.email.lower() in wanted:
                rows.setdefault(row.email.lower(), row)
    return [rows.get(lowered, Subscriber(email=email)) for lowered, email in wanted.items()]


def dry_run_resume(
    app: App, backend: OutboxBackend, ledger: Ledger, edition: Edition
) -> SampleOutcome:
    """Write the messages a resume of the half-sent ``edition`` would send: its frozen
    readers still pending (or failed), with its stored content; send and record nothing.
    ``skipped`` counts the uncertain ones, which a resume does not send."""
    key = edition.key
    message = message_for(app.settings, stored_email(edition), key, test=False, preview=True)
    personalize = message_personalizer(app.settings, message)
    count = 0
    for batch in ledger.batches(key, (PENDING, FAILED)):
        backend.send(message, [personalize(s) for s in ledger.batch_recipients(batch.id)])
        count += batch.size
    uncertain = Counter({"uncertain": sum(b.size for b in ledger.batches(key, (IN_FLIGHT,)))})
    return SampleOutcome(key, message.subject, count, str(backend.folder_for(key)), uncertain)


def dry_run_edition(app: App, backend: OutboxBackend, edition: str | None) -> SampleOutcome:
    """Write every active subscriber's message to the outbox; send and record nothing."""
    key = app.edition_key(edition)
    email = edition_email(app, key)
    message = message_for(app.settings, email, key, test=False, preview=True)
    personalize = message_personalizer(app.settings, message, preview=True)
    fill = _previewer(app, personalize)
    report = AudienceReport()
    path = app.paths.subscribers
    suppressed = suppressed_addresses(path)
    left_out = suppressed.keys() | unsubscribed_through_the_link(app)
    count = 0
    # Filtered, deduplicated and batched as digest send freezes them.
    batches = audience_batches(app, path, backend.batch_size, lambda: personalize, report)
    withheld: list[str] = []
    for batch in withhold(batches, left_out, withheld):
        backend.send(message, [fill(s) for s in unpack_recipients(batch.recipients)])
        count += batch.size
    report.count_withheld(withheld, suppressed)
    warn_problems(app, report)
    where = str(backend.folder_for(key))
    return SampleOutcome(key, message.subject, count, where, report.skipped)


def email_tokens(app: App) -> tuple[frozenset[str], str]:
    """The substitution tokens the email uses, and their key, from the templates rendered
    for a sample edition: which subscriber fields the templates use, and where, does not
    depend on the posts.

    Refuses, as a send does, templates that use a field the list lacks or more tokens
    than the room a send keeps for them.
    """
    email = render(app, sample_digest(app.now))
    tokens = used_tokens(email.subject, email.html, email.text, key=email.token_key)
    check_other_tokens(tokens, email.token_key)
    return tokens, email.token_key


def sample_digest(now: datetime) -> Digest:
    """An edition of two made-up posts with every field filled, so that templates show
    whatever they show for a post."""
    posts = [
        Post(
            id=f"https://example.com/sample-{n}",
            title=f"Sample post {n}",
            url=f"https://example.com/sample-{n}",
            published=now,
            updated=now,
            author="A. Writer",
            summary="A sample summary.",
            content="<p>A sample paragraph.</p>",
            image=f"https://example.com/sample-{n}.png",
            image_alt="A sample image",
            tags=("sample",),
        )
        for n in (1, 2)
    ]
    return Digest(edition="sample", featured=posts[0], teasers=(posts[1],))
