"""`digest send`: deliver an edition to its frozen audience, batch by batch, never twice.

The ledger is the source of truth. A batch is marked in flight (committed)
before its request and accepted or failed (committed) after the answer, so a
crash leaves every batch in a state a rerun can act on: accepted batches are
skipped, pending and failed ones sent, in-flight ones reported as uncertain.
"""

from __future__ import annotations

import gc
import itertools
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from ..audience.active import AudienceReport, active_audience, suppressed_addresses
from ..audience.addresses import normalize
from ..audience.csvfile import Problem
from ..audience.packing import AudiencePacker, withhold
from ..audience.personalize import (
    Personalizer,
    SurelyFits,
    check_other_tokens,
    check_unsubscribe_url,
    used_tokens,
)
from ..commands.progress import SendProgress
from ..deliver import Backend, Message
from ..errors import (
    BatchUncertain,
    DigestError,
    InvalidAddress,
    RecipientRefused,
    SendRefused,
    SettleError,
    StandDown,
)
from ..files import write_atomic
from ..ledger import ACCEPTED, FAILED, IN_FLIGHT, PENDING, Batch, Edition, Ledger
from ..models import PackedBatch, Subscriber
from .backends import concurrency
from .edition import (
    Context,
    describe_skipped,
    edition_key,
    message_for,
    next_digest,
    render,
    require_sender,
    stored_email,
)
from .offload import CHUNK, Later, Offloaded
from .settle import RESEND, Plan, Settle, how_to_settle, named, plan_settlement
from .workers import Job, senders

Confirm = Callable[[str], bool]
# How often a send waiting on its workers passes a caught signal on to them.
STOP_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class SendOptions:
    edition: str | None = None
    yes: bool = False
    settle: Settle | None = None  # --resend-uncertain or --accept-uncertain, as asked
    interactive: bool = False


@dataclass
class SendOutcome:
    """What one run did, for the summary: counts of recipients (``resent``: those of them
    sent again after an uncertain send, ``recorded``: uncertain ones recorded as delivered)."""

    key: str
    accepted: int = 0
    resent: int = 0
    recorded: int = 0
    failed: int = 0
    uncertain: int = 0
    rejected: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    pending: int = 0
    stopped_by: str = ""
    stopped_on: DigestError | None = None
    complete: bool = False
    uncertain_listing: Path | None = None  # who the uncertain batches went to, if any
    uncertain_batches: tuple[int, ...] = ()  # their numbers, once the run is over
    resending: set[int] = field(default_factory=set)  # ids of batches sent again


def check_ready(ctx: Context, backend_name: str, *, to_list: bool) -> None:
    """Refuse, in one line, a send that lacks a sender, an API key or an unsubscribe method."""
    settings = ctx.settings
    require_sender(settings)
    for key, address in (
        ("from_email", settings.newsletter.from_email),
        ("reply_to", settings.newsletter.reply_to),
    ):
        if address:
            try:
                normalize(address)
            except InvalidAddress as problem:
                raise SendRefused(
                    f"newsletter.{key} {address!r} is not a valid address: {problem}",
                    f"fix newsletter.{key} in digest.toml",
                ) from None
    if backend_name == "sendgrid" and not settings.secrets.sendgrid_api_key:
        raise SendRefused(
            "SENDGRID_API_KEY is not set",
            "export SENDGRID_API_KEY with a key that has Mail Send permission",
        )
    if not to_list:
        return
    asm, url = settings.sendgrid.asm_group_id, settings.unsubscribe.url
    if asm and backend_name != "sendgrid":
        raise SendRefused(
            "sendgrid.asm_group_id works only with delivery.backend = sendgrid",
            "set [unsubscribe] url for the smtp and outbox backends",
        )
    if not asm and not url:
        raise SendRefused(
            "no unsubscribe method is configured",
            "set [unsubscribe] url (self-hosted, RFC 8058) or [sendgrid] asm_group_id",
        )
    if url and not settings.secrets.unsubscribe_secret:
        raise SendRefused(
            "DIGEST_UNSUBSCRIBE_SECRET is not set, so unsubscribe links cannot be signed",
            "export DIGEST_UNSUBSCRIBE_SECRET, a long random string your endpoint also knows",
        )
    if asm and not url:
        ctx.warn(
            "one-click unsubscribe is not assured with an ASM group alone; "
            "set [unsubscribe] url to add RFC 8058 headers"
        )


def send_edition(
    ctx: Context, options: SendOptions, backend: Backend, confirm: Confirm
) -> SendOutcome:
    """Start or resume the edition and deliver every batch not yet accepted."""
    settings = ctx.settings
    key = options.edition or edition_key(ctx.now, settings.schedule.timezone)
    with Ledger.open(settings.state_dir / "state.db") as ledger, ledger.send_lock(key):
        edition = ledger.edition(key)
        if edition is not None and edition.status == "sent":
            raise StandDown(f"edition {key} was sent already (finished {edition.finished_at})")
        outcome = SendOutcome(key)
        if edition is None:
            _refuse_to_settle_unstarted(key, options.settle)
            with ledger.start_lock():
                if options.edition is None:
                    _refuse_if_another_is_unfinished(ledger, key)
                edition = _start(ctx, ledger, key, backend, options, confirm, outcome)
        else:
            if options.edition is None:
                _refuse_if_another_is_unfinished(ledger, key)
            _refuse_another_backend(edition, backend)
            _resume(ctx, ledger, edition, options, confirm, outcome)
        ledger.mark_pending([batch.id for batch in ledger.batches(key, (FAILED,))])
        todo = ledger.batches(key, (PENDING,))
        message = message_for(settings, stored_email(edition), key, test=False)
        try:
            _deliver(ctx, ledger, todo, backend, message, outcome)
        finally:
            outcome.complete = ledger.finish_if_complete(key, ctx.clock())
            outcome.pending = sum(b.size for b in ledger.batches(key, (PENDING, FAILED)))
            _keep_uncertain_listing(ctx, ledger, key, outcome)
    return outcome


def _refuse_to_settle_unstarted(key: str, settle: Settle | None) -> None:
    """A batch number or a file of addresses names readers of a started edition: never
    start a new one for them (plain --resend/--accept-uncertain still start one, as ever)."""
    if settle is not None and (settle.batches or settle.listed):
        raise SettleError(
            f"edition {key} has not started, so it has no uncertain readers to settle",
            "name the edition with --edition KEY; `digest history` lists the uncertain ones",
        )


def _refuse_if_another_is_unfinished(ledger: Ledger, key: str) -> None:
    """A half-sent edition is finished before a new one starts: never skip its readers."""
    for other in ledger.unfinished_editions():
        if other != key:
            raise SendRefused(
                f"edition {other} is not finished: some of its readers have not got it yet",
                f"finish it with `digest send --edition {other}` before a new edition starts",
            )


def _start(
    ctx: Context,
    ledger: Ledger,
    key: str,
    backend: Backend,
    options: SendOptions,
    confirm: Confirm,
    outcome: SendOutcome,
) -> Edition:
    settings = ctx.settings
    check_unsubscribe_url(settings.unsubscribe.url)
    audience_path = settings.path(settings.subscribers.path)
    tokens: Later[tuple[frozenset[str], str]] = Later()
    # A child reads the list while this process prepares the backend and renders the
    # email; leaving the block on any error stops it, so it never outlives an abandoned
    # start (closing tokens first frees at once a child that waits for them).
    with _read_in_child(ctx, audience_path, backend.batch_size, tokens) as read, closing(tokens):
        backend.prepare()
        digest = next_digest(ctx, key, ledger.sent_post_ids())
        email = render(ctx, digest)
        for warning in email.warnings:
            ctx.warn(warning)
        used = used_tokens(email.subject, email.html, email.text, key=email.token_key)
        check_other_tokens(used, email.token_key)
        if not options.yes:
            count = sum(1 for _ in active_audience(audience_path, AudienceReport()))
            question = f"Send edition {key}, {email.subject!r}, to {count} subscribers?"
            _ask(options, confirm, question)
        tokens.give((used, email.token_key))
        # While the child still reads: the rows that keep their address off the list.
        suppressed = suppressed_addresses(audience_path)
        withheld: list[str] = []
        batches = withhold(read, suppressed, withheld)
        first = next(batches, None)
        if first is None:
            report = read.result or AudienceReport()
            report.count_withheld(withheld, suppressed)
            warn_problems(ctx, report)
            skipped = describe_skipped(report.skipped)
            raise SendRefused(
                f"no active subscribers to send to in {settings.subscribers.path}"
                f" ({skipped or 'the list is empty'})",
                "add readers or fix the rows named above; nothing was sent or recorded",
            )
        ledger.start_edition(
            key,
            subject=email.subject,
            preheader=email.preheader,
            html=email.html,
            text=email.text,
            post_ids=[post.id for post in digest.posts],
            audience=itertools.chain([first], batches),
            backend=backend.name,
            started_at=ctx.clock(),
            token_key=email.token_key,
        )
    report = read.result or AudienceReport()
    report.count_withheld(withheld, suppressed)
    outcome.skipped.update(report.skipped)
    warn_problems(ctx, report)
    started = ledger.edition(key)
    assert started is not None
    return started


def warn_problems(ctx: Context, report: AudienceReport) -> None:
    """Each row the audience left out, with its line number: never silently."""
    for problem in report.problems:
        where = f"{ctx.settings.subscribers.path}:{problem.line}"
        ctx.warn(f"{where}: {problem.email}: {problem.reason}")


def _refuse_another_backend(edition: Edition, backend: Backend) -> None:
    """An edition is finished by the backend that started it: its batches were cut to
    that backend's size, and its recipients may be waiting in that provider's queue."""
    if edition.backend != backend.name:
        raise SendRefused(
            f"edition {edition.key} was started with the {edition.backend} backend, "
            f"not {backend.name}",
            f"finish it with delivery.backend = {edition.backend!r}",
        )


def _resume(
    ctx: Context,
    ledger: Ledger,
    edition: Edition,
    options: SendOptions,
    confirm: Confirm,
    outcome: SendOutcome,
) -> None:
    """Report the batches an earlier run left in flight, or settle those the options
    name, once the resume is confirmed: a refused or cancelled run leaves them uncertain,
    as it found them. What stays uncertain after settling is reported too."""
    key = edition.key
    uncertain = ledger.batches(key, (IN_FLIGHT,))
    settle = options.settle
    plan = None if settle is None else plan_settlement(ledger, key, uncertain, settle)
    if plan is None:
        _report_uncertain(ctx, ledger, key, uncertain, outcome)
    else:
        _warn_unlisted(ctx, key, plan)
    _confirm_resume(ctx, ledger, edition, options, confirm, plan)
    if plan is not None:
        _settle(ctx, ledger, plan, outcome)
        _report_uncertain(ctx, ledger, key, ledger.batches(key, (IN_FLIGHT,)), outcome)


def _warn_unlisted(ctx: Context, key: str, plan: Plan) -> None:
    """Addresses of the file that are no uncertain reader: named, and never sent to."""
    if not plan.unknown:
        return
    scope = f" in {named(plan.settle.batches)}" if plan.settle.batches else ""
    more = " ..." if plan.unknown > len(plan.unknown_shown) else ""
    ctx.warn(
        f"{plan.unknown} address(es) in {plan.settle.listed} are not uncertain recipients of"
        f" edition {key}{scope}: {', '.join(plan.unknown_shown)}{more}; they are left as"
        " they are and sent nothing"
    )


def _settle(ctx: Context, ledger: Ledger, plan: Plan, outcome: SendOutcome) -> None:
    """Send again, or record as delivered, the uncertain readers the plan names: one
    transaction a batch, splitting a batch whose readers are settled in part."""
    option = plan.settle.option
    if not plan.readers:
        if plan.settle.listed is not None:
            ctx.say(f"No uncertain recipient is listed in {plan.settle.listed}: none settled.")
        return
    resend = plan.settle.action == RESEND
    at = ctx.clock()
    for batch_id, only in plan.moves.items():
        settled = ledger.settle(batch_id, PENDING if resend else ACCEPTED, at, only)
        if resend and settled is not None:
            outcome.resending.add(settled)
    if resend:
        ctx.say(
            f"Sending {plan.readers} uncertain recipients ({plan.where}) again, as {option} asks."
        )
    else:
        outcome.recorded += plan.readers
        ctx.say(
            f"Recorded {plan.readers} uncertain recipients ({plan.where}) as delivered, as"
            f" {option} says."
        )


def _confirm_resume(
    ctx: Context,
    ledger: Ledger,
    edition: Edition,
    options: SendOptions,
    confirm: Confirm,
    plan: Plan | None,
) -> None:
    """Say what the resume will do, and ask (unless --yes): exactly how many readers it
    sends to, how many of them again, and how many it records as delivered."""
    key = edition.key
    resend = plan.readers if plan is not None and plan.settle.action == RESEND else 0
    accept = plan.readers if plan is not None and not resend else 0
    where = plan.where if plan is not None else ""
    left = sum(b.size for b in ledger.batches(key, (PENDING, FAILED))) + resend
    said = f"Resuming edition {key} ({edition.subject!r}): {left} recipients to go"
    if resend:
        said += f", {resend} of them uncertain ones sent again ({where})"
    if accept:
        said += f"; {accept} uncertain recipients ({where}) to record as delivered"
    ctx.say(f"{said}.")
    asks = []
    if left:
        asks.append(f"send to {left} recipients" + (f", {resend} of them again" if resend else ""))
    if accept:
        asks.append(f"record {accept} uncertain recipients as delivered")
    if asks and not options.yes:
        _ask(options, confirm, f"Resume edition {key}: {' and '.join(asks)}?")


def _ask(options: SendOptions, confirm: Confirm, question: str) -> None:
    if not options.interactive:
        raise SendRefused(
            "refusing to send without --yes: there is no terminal to confirm on",
            "add --yes to send unattended",
        )
    if not confirm(question):
        raise StandDown("not sent: cancelled at the prompt")


def personalizer(
    ctx: Context, tokens: frozenset[str], token_key: str, *, secret: str = ""
) -> Personalizer:
    """Turns subscribers into recipients with the substitutions the email's tokens (of
    ``token_key``) need.

    ``secret`` stands in for an unset DIGEST_UNSUBSCRIBE_SECRET where only sizes matter:
    a token sealed under any secret is as long as the send's, a preview token is not.
    """
    settings = ctx.settings
    return Personalizer(
        unsubscribe_url_template=settings.unsubscribe.url,
        unsubscribe_mailto=settings.unsubscribe.mailto,
        secret=settings.secrets.unsubscribe_secret or secret,
        used_tokens=tokens,
        token_key=token_key,
    )


def message_personalizer(ctx: Context, message: Message) -> Personalizer:
    """The Personalizer for the tokens ``message`` carries."""
    key = message.token_key
    tokens = used_tokens(message.subject, message.html, message.text, key=key)
    return personalizer(ctx, tokens, key)


def _read_in_child(
    ctx: Context, path: Path, batch_size: int, tokens: Later[tuple[frozenset[str], str]]
) -> Offloaded[PackedBatch, AudienceReport]:
    """The sendable subscribers, deduplicated and packed into the ledger's batches by a
    child process; ``result``: the child's AudienceReport.

    The child starts before the email is rendered: the tokens the email uses come
    later, through ``tokens``, and the child waits for them only if a reader's merge
    fields are so long that they might not fit (``SurelyFits``).
    """
    report = AudienceReport()

    def exact() -> Personalizer:
        return personalizer(ctx, *tokens.get())

    def produce() -> Iterator[PackedBatch]:
        return audience_batches(ctx, path, batch_size, exact, report)

    # About CHUNK recipients a message to this process, whatever the batch size.
    chunk = max(1, CHUNK // batch_size)
    # The spool holds the packed audience (50 MB a million readers) until the freeze
    # ends: beside the ledger rather than in a temporary folder that may be in memory.
    return Offloaded(
        produce,
        lambda: report,
        doing=f"reading {path.name}",
        chunk=chunk,
        spool_dir=ctx.settings.state_dir,
    )


def audience_batches(
    ctx: Context,
    path: Path,
    batch_size: int,
    exact: Callable[[], Personalizer],
    report: AudienceReport,
) -> Iterator[PackedBatch]:
    """The list's sendable readers, deduplicated and packed into batches as the ledger
    freezes them; ``report`` counts the rows left out, duplicates once all are read.
    (Not yet withheld: see ``withhold`` and ``suppressed_addresses``.)"""
    packer = AudiencePacker(batch_size)
    yield from packer.batches(sendable(ctx, active_audience(path, report), exact, report))
    report.skipped["duplicate"] += packer.duplicates


def sendable(
    ctx: Context,
    audience: Iterable[Subscriber],
    exact: Callable[[], Personalizer],
    report: AudienceReport,
) -> Iterator[Subscriber]:
    """Subscribers whose personalization fits SendGrid's limits; the others counted invalid.

    ``exact()`` gives the email's Personalizer; it is asked for only when SurelyFits
    is unsure of a reader.
    """
    surely_fits = SurelyFits(ctx.settings.unsubscribe.url)
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


def _report_uncertain(
    ctx: Context, ledger: Ledger, key: str, uncertain: list[Batch], outcome: SendOutcome
) -> None:
    """Batches left in flight by a crash: name them and their recipients, and the
    commands that settle them; they are not sent again."""
    if not uncertain:
        return
    listing, addresses = _list_uncertain(ctx, ledger, key, uncertain)
    outcome.uncertain += len(addresses)
    numbers = [batch.number for batch in uncertain]
    were = "was" if len(numbers) == 1 else "were"
    how = how_to_settle(key, numbers)
    ctx.warn(
        f"{named(numbers)} of edition {key}, {len(addresses)} recipients, {were} in flight when"
        " an earlier run stopped: the provider may have delivered them. Not sent again."
        f" Recipients: {', '.join(addresses[:10])}{' ...' if len(addresses) > 10 else ''}"
        f" (all in {listing}, by batch). {how[0].upper()}{how[1:]}."
    )


def _list_uncertain(
    ctx: Context, ledger: Ledger, key: str, uncertain: list[Batch]
) -> tuple[Path, list[str]]:
    """Write the recipients of the uncertain batches, one address a line under a
    ``# batch N`` line for each batch, to .digest/uncertain-KEY.txt, to check against the
    provider's activity log (and to give, trimmed, to --accept-uncertain FILE)."""
    lines = [f"# Edition {key}: recipients of batches left uncertain, by batch\n"]
    addresses = []
    for batch in uncertain:
        batch_addresses = [s.email for s in ledger.batch_recipients(batch.id)]
        lines.append(f"# batch {batch.number}: {len(batch_addresses)} recipients\n")
        lines += (f"{address}\n" for address in batch_addresses)
        addresses += batch_addresses
    listing = _uncertain_listing(ctx, key)
    write_atomic(listing, "".join(lines).encode("utf-8"))
    return listing, addresses


def _keep_uncertain_listing(ctx: Context, ledger: Ledger, key: str, outcome: SendOutcome) -> None:
    """List the recipients of the batches still uncertain, or remove a settled list. A
    list that cannot be written is a warning: it must not hide how the send went."""
    uncertain = ledger.batches(key, (IN_FLIGHT,))
    outcome.uncertain_batches = tuple(batch.number for batch in uncertain)
    try:
        if uncertain:
            outcome.uncertain_listing, _ = _list_uncertain(ctx, ledger, key, uncertain)
        else:  # settled: an earlier run's list would mislead
            _uncertain_listing(ctx, key).unlink(missing_ok=True)
    except OSError as problem:
        ctx.warn(f"cannot write the list of uncertain recipients: {problem}")


def _uncertain_listing(ctx: Context, key: str) -> Path:
    return ctx.settings.state_dir / f"uncertain-{key}.txt"


def _deliver(
    ctx: Context,
    ledger: Ledger,
    batches: list[Batch],
    backend: Backend,
    message: Message,
    outcome: SendOutcome,
) -> None:
    """Send the batches with a bounded number in flight, recording each state in the ledger.

    Whatever happens, every request that was started is waited for and its outcome
    recorded before this returns or raises: the ledger never lags behind SendGrid.
    Only a ledger that cannot be written leaves the answers it failed to record
    in flight, which a rerun reports as uncertain, as after a crash.
    """
    personalize = message_personalizer(ctx, message)
    workers = concurrency(ctx, backend)
    job = Job(ctx, backend, message, personalize)
    queue = iter(batches)
    in_flight: dict[Future[str], Batch] = {}
    total = sum(batch.size for batch in batches)
    crash: BaseException | None = None
    # Workers fork below: they inherit what the backend loads (resuming, nothing has yet).
    backend.prepare()
    # What this process holds as the send starts (the modules imported since main()
    # froze the rest, the rendered edition) lives as long as the process: out of the
    # cyclic collector's way, here and in the workers forked from it. Left frozen, as
    # main() leaves its own: the process ends after the send, and its final collection
    # skips a frozen heap (0.2 s less at exit after 100k readers).
    gc.freeze()
    with (
        _graceful_stop(ctx, outcome),
        senders(job, workers, processes=workers > 1) as pool,
        SendProgress(ctx.console, len(batches), total) as progress,
    ):
        try:
            while True:
                while len(in_flight) < workers and _may_go_on(ctx, outcome, crash):
                    batch = next(queue, None)
                    if batch is None:
                        break
                    packed = ledger.packed_recipients(batch.id)
                    ledger.mark_in_flight(batch.id, ctx.clock())
                    try:
                        in_flight[pool.submit(packed)] = batch
                    except BrokenExecutor as broken:  # surely not sent: pending again
                        ledger.mark_pending([batch.id])
                        outcome.stopped_on = _worker_died(broken)
                if not in_flight:
                    break
                done, _ = wait(in_flight, timeout=STOP_POLL_SECONDS, return_when=FIRST_COMPLETED)
                pool.relay_stop()
                for future in done:
                    batch = in_flight.pop(future)
                    unexpected = _record(ctx, ledger, batch, future, outcome)
                    crash = crash or unexpected
                    progress.advance(batch.size)
        except Exception:
            # The ledger failed (locked for too long, disk full): take no new batch, but
            # record the answers of the requests still out, if the ledger lets us.
            for future, batch in in_flight.items():
                _record(ctx, ledger, batch, future, outcome)
            raise
    if crash is not None:
        raise crash


def _may_go_on(ctx: Context, outcome: SendOutcome, crash: BaseException | None) -> bool:
    return not ctx.stopping.is_set() and outcome.stopped_on is None and crash is None


def _record(
    ctx: Context, ledger: Ledger, batch: Batch, future: Future[str], outcome: SendOutcome
) -> BaseException | None:
    """Record one finished request; returns an unexpected error to raise once all are in."""
    try:
        message_id = future.result()
    except BatchUncertain as problem:
        outcome.uncertain += batch.size
        ctx.warn(f"batch {batch.number}: {problem.message}; it stays uncertain")
    except BrokenExecutor as broken:  # a worker died, maybe after posting: stays in flight
        outcome.uncertain += batch.size
        if outcome.stopped_on is None:
            outcome.stopped_on = _worker_died(broken)
    except RecipientRefused as problem:
        ledger.mark_rejected(batch.id, str(problem), ctx.clock())
        outcome.rejected += batch.size
        ctx.warn(str(problem))
    except DigestError as problem:
        ledger.mark_failed(batch.id, str(problem), ctx.clock())
        outcome.failed += batch.size
        if outcome.stopped_on is None:
            outcome.stopped_on = problem
    except Exception as unexpected:  # a bug: the batch stays in flight, uncertain
        outcome.uncertain += batch.size
        return unexpected
    else:
        ledger.mark_accepted(batch.id, message_id, ctx.clock())
        outcome.accepted += batch.size
        if batch.id in outcome.resending:
            outcome.resent += batch.size
    return None


def _worker_died(broken: BrokenExecutor) -> BatchUncertain:
    return BatchUncertain(
        f"a send worker process died ({broken}); the batches it held may or may not "
        "have reached SendGrid"
    )


@contextmanager
def _graceful_stop(ctx: Context, outcome: SendOutcome) -> Iterator[None]:
    """Ctrl-C or SIGTERM: stop taking new batches and retrying, let requests in flight finish.

    A second signal gets the default behaviour back, for a user who cannot wait.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def handle(signum: int, _frame: FrameType | None) -> None:
        outcome.stopped_by = signal.Signals(signum).name
        ctx.stopping.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    for sig in signals:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
