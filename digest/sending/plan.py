"""`digest send`'s plan: refuse what cannot be sent, then start the edition (freeze its
posts, content and audience) or resume it (settling uncertain batches as asked), and
deliver every batch not yet accepted. In SendGrid's sandbox mode, rehearse it instead.

The ledger is the source of truth. A batch is marked in flight (committed)
before its request and accepted or failed (committed) after the answer, so a
crash leaves every batch in a state a rerun can act on: accepted batches are
skipped, pending and failed ones sent, in-flight ones reported as uncertain.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass

from ..app import App
from ..audience.active import AudienceReport, active_audience, suppressed_addresses
from ..audience.packing import withhold
from ..audience.personalize import check_other_tokens, check_unsubscribe_url, used_tokens
from ..deliver import Backend
from ..errors import SendRefused, SettleError, StandDown
from ..ledger import ACCEPTED, FAILED, IN_FLIGHT, PENDING, SENT, Edition, Ledger
from ..text import plural
from .delivery import deliver
from .edition import message_for, next_digest, render, seen_in, stored_email
from .offload import Later
from .outcome import SendOutcome
from .pipeline import describe_skipped, read_in_child, warn_problems
from .settle import RESEND, Plan, Settle, named, plan_settlement
from .uncertain import keep_uncertain_listing, report_uncertain

Confirm = Callable[[str], bool]


@dataclass(frozen=True)
class SendOptions:
    """What the command line asks of a send: the edition (None: today's), whether to ask
    first, and which uncertain readers to settle."""

    edition: str | None = None
    yes: bool = False
    settle: Settle | None = None  # --resend-uncertain or --accept-uncertain, as asked
    interactive: bool = False


def send_edition(app: App, options: SendOptions, backend: Backend, confirm: Confirm) -> SendOutcome:
    """Start or resume the edition and deliver every batch not yet accepted; in sandbox
    mode, rehearse it."""
    settings = app.settings
    key = app.edition_key(options.edition)
    if settings.sendgrid.sandbox:
        return _rehearse(app, key, options, backend, confirm)
    with Ledger.open(app.paths.ledger) as ledger, ledger.send_lock(key):
        edition = ledger.edition(key)
        if edition is not None and edition.status == "sent":
            finished = f" (finished {app.when(edition.finished_at)})" if edition.finished_at else ""
            raise StandDown(f"edition {key} was sent already{finished}")
        outcome = SendOutcome(key)
        if edition is None:
            _refuse_to_settle_unstarted(key, options.settle)
            with ledger.start_lock():
                if options.edition is None:
                    _refuse_if_another_is_unfinished(ledger, key)
                edition = _start(app, ledger, key, backend, options, confirm, outcome)
        else:
            if options.edition is None:
                _refuse_if_another_is_unfinished(ledger, key)
            _refuse_another_backend(edition, backend)
            _resume(app, ledger, edition, options, confirm, outcome)
        ledger.mark_pending([batch.id for batch in ledger.batches(key, (FAILED,))])
        todo = ledger.batches(key, (PENDING,))
        message = message_for(settings, stored_email(edition), key, test=False)
        try:
            deliver(app, ledger, todo, backend, message, outcome, edition.unsubscribes_seen)
        finally:
            outcome.complete = ledger.finish_if_complete(key, app.clock())
            outcome.pending = sum(b.size for b in ledger.batches(key, (PENDING, FAILED)))
            keep_uncertain_listing(app, ledger, key, outcome)
    return outcome


def _rehearse(
    app: App, key: str, options: SendOptions, backend: Backend, confirm: Confirm
) -> SendOutcome:
    """Send edition ``key`` as the real send would, in SendGrid's sandbox mode (which
    delivers nothing), recorded as a rehearsal: it never completes the edition, counts
    its posts as sent or marks any post seen.

    A rehearsal is never resumed: it delivers nothing, so one that stopped is simply
    rehearsed again from the start by the next run. It refuses an edition already
    started for real: resuming that in sandbox mode would record as sent readers who
    got nothing.
    """
    with Ledger.open(app.paths.ledger) as ledger:
        real = ledger.edition(key)
        if real is not None and real.status == SENT:
            finished = f" (finished {app.when(real.finished_at)})" if real.finished_at else ""
            raise StandDown(f"edition {key} was sent already{finished}: nothing to rehearse")
        if real is not None:
            raise SendRefused(
                f"edition {key} is half-sent for real, and sendgrid.sandbox is true: finishing"
                " it in sandbox mode would record readers as sent who got nothing",
                f"set sendgrid.sandbox = false, then finish it with `digest send --edition {key}`",
            )
        if options.settle is not None:
            raise SettleError(
                f"sendgrid.sandbox is true: this run would rehearse edition {key}, and a"
                f" rehearsal has no uncertain readers to settle",
                f"set sendgrid.sandbox = false, then run `digest send --edition {key}"
                f" {options.settle.option}`",
            )
        for other in ledger.unfinished_editions():
            app.warn(
                f"edition {other} is not finished: the real send of {key} will refuse to start"
                f" until `digest send --edition {other}` (sendgrid.sandbox = false) finishes it"
            )
        outcome = SendOutcome(key, rehearsal=True)
        with ledger.start_lock():
            record = ledger.next_rehearsal_key(key)
            edition = _start(app, ledger, key, backend, options, confirm, outcome, record)
        todo = ledger.batches(record, (PENDING,))
        message = message_for(app.settings, stored_email(edition), key, test=False)
        try:
            deliver(app, ledger, todo, backend, message, outcome)
        finally:
            outcome.complete = ledger.finish_if_complete(record, app.clock())
            outcome.pending = sum(b.size for b in ledger.batches(record, (PENDING, FAILED)))
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
    app: App,
    ledger: Ledger,
    key: str,
    backend: Backend,
    options: SendOptions,
    confirm: Confirm,
    outcome: SendOutcome,
    rehearsal: str | None = None,
) -> Edition:
    """Choose edition ``key``'s posts, render it and freeze its audience in the ledger,
    with every post its source showed as seen; or, given ``rehearsal`` (the key to record
    it under), record it as a rehearsal of edition ``key``, seeing nothing."""
    settings = app.settings
    check_unsubscribe_url(settings.unsubscribe.url)
    audience_path = app.paths.subscribers
    tokens: Later[tuple[frozenset[str], str]] = Later()
    # A child reads the list while this process prepares the backend and renders the
    # email; leaving the block on any error stops it, so it never outlives an abandoned
    # start (closing tokens first frees at once a child that waits for them).
    with read_in_child(app, audience_path, backend.batch_size, tokens) as read, closing(tokens):
        backend.prepare()
        digest, choice = next_digest(app, key, seen_in(ledger))
        email = render(app, digest)
        for warning in email.warnings:
            app.warn(warning)
        used = used_tokens(email.subject, email.html, email.text, key=email.token_key)
        check_other_tokens(used, email.token_key)
        if not options.yes:
            count = sum(1 for _ in active_audience(audience_path, AudienceReport()))
            how = "Rehearse (in SendGrid's sandbox, delivering nothing)" if rehearsal else "Send"
            question = f"{how} edition {key}, {email.subject!r}, to {plural(count, 'subscriber')}?"
            _ask(options, confirm, question)
        tokens.give((used, email.token_key))
        # While the child still reads: the rows that keep their address off the list, and
        # the readers who unsubscribed through the link (to the last one recorded now).
        suppressed = suppressed_addresses(audience_path)
        unsubscribed = ledger.unsubscribes_after(0)
        seen = unsubscribed[-1][0] if unsubscribed else 0
        left_out = suppressed.keys() | {address for _, address in unsubscribed}
        withheld: list[str] = []
        batches = withhold(read, left_out, withheld)
        first = next(batches, None)
        if first is None:
            report = read.result or AudienceReport()
            report.count_withheld(withheld, suppressed)
            warn_problems(app, report)
            skipped = describe_skipped(report.skipped)
            raise SendRefused(
                f"no active subscribers to send to in {settings.subscribers.path}"
                f" ({skipped or 'the list is empty'})",
                "add readers or fix the rows named above; nothing was sent or recorded",
            )
        ledger.start_edition(
            rehearsal or key,
            subject=email.subject,
            preheader=email.preheader,
            html=email.html,
            text=email.text,
            post_ids=[post.id for post in digest.posts],
            audience=itertools.chain([first], batches),
            backend=backend.name,
            started_at=app.clock(),
            token_key=email.token_key,
            seen_ids=choice.shown,
            rehearses=key if rehearsal else None,
            unsubscribes_seen=seen,
        )
    report = read.result or AudienceReport()
    report.count_withheld(withheld, suppressed)
    outcome.skipped.update(report.skipped)
    warn_problems(app, report)
    started = ledger.edition(rehearsal or key)
    assert started is not None
    return started


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
    app: App,
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
        report_uncertain(app, ledger, key, uncertain, outcome)
    else:
        _warn_unlisted(app, key, plan)
    _confirm_resume(app, ledger, edition, options, confirm, plan)
    if plan is not None:
        _settle(app, ledger, plan, outcome)
        report_uncertain(app, ledger, key, ledger.batches(key, (IN_FLIGHT,)), outcome)


def _warn_unlisted(app: App, key: str, plan: Plan) -> None:
    """Addresses of the file that are no uncertain reader: named, and never sent to."""
    if not plan.unknown:
        return
    scope = f" in {named(plan.settle.batches)}" if plan.settle.batches else ""
    more = " ..." if plan.unknown > len(plan.unknown_shown) else ""
    listed = f"{plural(plan.unknown, 'address', 'addresses')} in {plan.settle.listed}"
    if plan.unknown == 1:
        said, left = f"{listed} is not an uncertain recipient", "it is left as it is"
    else:
        said, left = f"{listed} are not uncertain recipients", "they are left as they are"
    shown = f"{', '.join(plan.unknown_shown)}{more}"
    app.warn(f"{said} of edition {key}{scope}: {shown}; {left} and sent nothing")


def _settle(app: App, ledger: Ledger, plan: Plan, outcome: SendOutcome) -> None:
    """Send again, or record as delivered, the uncertain readers the plan names: one
    transaction a batch, splitting a batch whose readers are settled in part."""
    option = plan.settle.option
    if not plan.readers:
        if plan.settle.listed is not None:
            app.say(f"No uncertain recipient is listed in {plan.settle.listed}: none settled.")
        return
    resend = plan.settle.action == RESEND
    at = app.clock()
    for batch_id, only in plan.moves.items():
        settled = ledger.settle(batch_id, PENDING if resend else ACCEPTED, at, only)
        if resend and settled is not None:
            outcome.resending.add(settled)
    if resend:
        app.say(f"Sending {_uncertain(plan.readers)} ({plan.where}) again, as {option} asks.")
    else:
        outcome.recorded += plan.readers
        app.say(
            f"Recorded {_uncertain(plan.readers)} ({plan.where}) as delivered, as {option} says."
        )


def _confirm_resume(
    app: App,
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
    said = f"Resuming edition {key} ({edition.subject!r}): {plural(left, 'recipient')} to go"
    if resend:
        said += f", {resend} of them uncertain ones sent again ({where})"
    if accept:
        said += f"; {_uncertain(accept)} ({where}) to record as delivered"
    app.say(f"{said}.")
    asks = []
    if left:
        again = f", {resend} of them again" if resend else ""
        asks.append(f"send to {plural(left, 'recipient')}{again}")
    if accept:
        asks.append(f"record {_uncertain(accept)} as delivered")
    if asks and not options.yes:
        _ask(options, confirm, f"Resume edition {key}: {' and '.join(asks)}?")


def _uncertain(count: int) -> str:
    return plural(count, "uncertain recipient")


def _ask(options: SendOptions, confirm: Confirm, question: str) -> None:
    if not options.interactive:
        raise SendRefused(
            "refusing to send without --yes: there is no terminal to confirm on",
            "add --yes to send unattended",
        )
    if not confirm(question):
        raise StandDown("not sent: cancelled at the prompt")
