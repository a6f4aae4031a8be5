"""`digest send`: the edition to every active subscriber, or, with --to or --dry-run, a test
or an outbox (``test_send``, ``dry_run``); then the summary of what went out."""

from __future__ import annotations

from collections.abc import Sequence

from ..app import App
from ..errors import BatchUncertain, DigestError, with_hint
from ..sending.backends import make_backend
from ..sending.outcome import SendOutcome
from ..sending.pipeline import describe_skipped
from ..sending.plan import Confirm, SendOptions, send_edition
from ..sending.ready import check_ready
from ..sending.settle import how_to_settle, named
from ..text import plural


def run(
    app: App,
    *,
    to: Sequence[str],
    dry_run: bool,
    options: SendOptions,
    confirm: Confirm,
) -> None:
    """Send (or resume) the edition, or a test to ``to``, or write either to the outbox."""
    # Each imported only when asked for: the email package alone takes 0.1 s.
    if dry_run:
        from . import dry_run as outbox

        outbox.run(app, to, options.edition)
        return
    if to:
        from . import test_send

        test_send.run(app, to, options.edition)
        return
    backend_name = app.settings.delivery.backend
    check_ready(app, backend_name, to_list=True)
    backend = make_backend(app, backend_name)
    try:
        outcome = send_edition(app, options, backend, confirm)
    finally:
        backend.close()
    _summarize(app, outcome)


def _summarize(app: App, outcome: SendOutcome) -> None:
    if outcome.rehearsal:
        _summarize_rehearsal(app, outcome)
        return
    again = f" ({outcome.resent} of them again)" if outcome.resent else ""
    recorded = f"recorded as delivered {outcome.recorded}; " if outcome.recorded else ""
    app.say(
        f"Edition {outcome.key}: sent to {outcome.accepted}{again}; {recorded}"
        f"skipped {describe_skipped(outcome.skipped) or 'none'}; "
        f"failed {outcome.failed}; refused {outcome.rejected}; uncertain {outcome.uncertain}."
    )
    if outcome.complete:
        app.say(f"Edition {outcome.key} is complete.")
        return
    if outcome.stopped_by:
        raise DigestError(
            f"stopped by {outcome.stopped_by}: {plural(outcome.pending, 'recipient')} not sent yet",
            f"run `digest send --edition {outcome.key}` to resume",
        )
    stopped = outcome.stopped_on
    if stopped is not None and not (isinstance(stopped, BatchUncertain) and outcome.uncertain):
        resume = f"run `digest send --edition {outcome.key}` to resume"
        raise with_hint(stopped, f"{stopped.hint}, then {resume}" if stopped.hint else resume)
    raise _incomplete(outcome, stopped)


def _summarize_rehearsal(app: App, outcome: SendOutcome) -> None:
    """What a rehearsal did; it never completes the edition, and is never resumed."""
    key = outcome.key
    app.say(
        f"Rehearsal of edition {key} in SendGrid's sandbox (nothing was delivered): accepted"
        f" {outcome.accepted}; skipped {describe_skipped(outcome.skipped) or 'none'}; failed"
        f" {outcome.failed}; uncertain {outcome.uncertain}."
    )
    if outcome.complete:
        app.say(
            f"Edition {key} itself is not sent: set sendgrid.sandbox = false and run"
            f" `digest send --edition {key}` to send it."
        )
        return
    cause = outcome.stopped_on
    said = f"stopped by {outcome.stopped_by}" if outcome.stopped_by else "did not finish"
    raise DigestError(
        f"the rehearsal of edition {key} {said}"
        + (f": {cause.message}" if cause is not None and not outcome.stopped_by else ""),
        "a rehearsal is never resumed: fix the cause, then `digest send` (sandbox still on)"
        " rehearses again from the start",
    )


def _incomplete(outcome: SendOutcome, cause: DigestError | None) -> DigestError:
    """The edition is not complete: what is left, and the commands that finish it."""
    key, numbers = outcome.key, outcome.uncertain_batches
    said = f"{cause.message}; " if cause is not None else ""
    said += f"edition {key} is not complete: {outcome.pending} pending"
    if not numbers:
        return DigestError(
            said, f"see the warnings above, then run `digest send --edition {key}` again"
        )
    listed = f", listed in {outcome.uncertain_listing}" if outcome.uncertain_listing else ""
    said += f", {outcome.uncertain} uncertain ({named(numbers)}{listed})"
    return DigestError(said, how_to_settle(key, numbers))
