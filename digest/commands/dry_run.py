"""`digest send --dry-run [--to ADDR]`: the edition's messages (or a test's) written to the
outbox as .eml files; nothing sent or recorded.

A dry run predicts the real send: it warns of each reason the send would refuse (the
sender, the API key, the unsubscribe secret), says when the edition went out already
(and writes nothing, as the send would send nothing), writes what a resume would send
for a half-sent edition, and says when the send would be a sandbox rehearsal.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..app import App
from ..deliver.outbox import OutboxBackend
from ..ledger import SENT, Edition, Ledger, ledger_exists
from ..sending.backends import make_outbox
from ..sending.edition import setup_warnings
from ..sending.pipeline import describe_skipped
from ..sending.ready import ONE_CLICK_NOT_ASSURED, one_click_not_assured, send_problems
from ..sending.samples import dry_run_edition, dry_run_resume, dry_run_test
from ..text import plural


def run(app: App, to: Sequence[str], edition: str | None) -> None:
    """Write every active subscriber's message, or the test's for ``to``, to the outbox;
    say what a real send would carry that is not set up yet, then warn of what would
    keep the real send from doing the same."""
    outbox = make_outbox(app)
    if to:
        _test(app, outbox, to, edition)
    else:
        _edition(app, outbox, edition)


def _test(app: App, outbox: OutboxBackend, to: Sequence[str], edition: str | None) -> None:
    test = dry_run_test(app, to, outbox, edition)
    _warn_setup(app)
    app.say(
        f"Dry run of a test of edition {test.key}: wrote {plural(test.recipients, 'message')}"
        f" to {test.where}/; nothing sent or recorded."
    )
    _warn_refusals(app, to_list=False)


def _edition(app: App, outbox: OutboxBackend, edition: str | None) -> None:
    """The edition's messages; for one whose send started, what `digest send` would do."""
    key = app.edition_key(edition)
    path = app.paths.ledger
    unfinished: list[str] = []
    if ledger_exists(path):
        with Ledger.open(path) as ledger:
            started = ledger.edition(key)
            if started is not None:
                _started(app, outbox, ledger, started)
                return
            unfinished = [] if edition else ledger.unfinished_editions()
    done = dry_run_edition(app, outbox, key)
    _warn_setup(app)
    app.say(
        f"Dry run of edition {done.key}: wrote {plural(done.recipients, 'message')} to "
        f"{done.where}/; skipped {describe_skipped(done.skipped) or 'none'}."
    )
    _warn_refusals(app, to_list=True)
    for other in unfinished:
        app.warn(
            f"`digest send` would refuse: edition {other} is not finished; finish it with"
            f" `digest send --edition {other}` before a new edition starts"
        )


def _started(app: App, outbox: OutboxBackend, ledger: Ledger, edition: Edition) -> None:
    """An edition whose send started: sent (nothing to write), or what a resume sends."""
    key = edition.key
    if edition.status == SENT:
        finished = f" (finished {app.when(edition.finished_at)})" if edition.finished_at else ""
        app.say(
            f"Edition {key} was sent already{finished}: `digest send` would send nothing, so"
            " the dry run wrote nothing."
        )
        return
    done = dry_run_resume(app, outbox, ledger, edition)
    uncertain = done.skipped["uncertain"]
    app.say(
        f"Dry run of edition {key}, half-sent: `digest send --edition {key}` resumes it; wrote"
        f" the {plural(done.recipients, 'message')} it would send to {done.where}/"
        + (f" (not the {_uncertain(uncertain)}: it reports them)" if uncertain else "")
        + "; nothing sent or recorded."
    )
    _warn_refusals(app, to_list=True)


def _uncertain(count: int) -> str:
    return plural(count, "uncertain recipient")


def _warn_setup(app: App) -> None:
    """What the messages written carry that is not set up yet (placeholders, the example's
    values), so that no one takes it for the real thing."""
    for warning in setup_warnings(app.settings):
        app.warn(warning)


def _warn_refusals(app: App, *, to_list: bool) -> None:
    """Each reason the real send would refuse to start, and what it would do otherwise."""
    settings = app.settings
    backend = settings.delivery.backend
    for problem in send_problems(settings, backend, to_list=to_list):
        app.warn(f"`digest send` would refuse: {problem}")
    if to_list and one_click_not_assured(settings):
        app.warn(ONE_CLICK_NOT_ASSURED)
    if to_list and settings.sendgrid.sandbox and backend == "sendgrid":
        app.warn(
            "sendgrid.sandbox is true: `digest send` would rehearse the edition in SendGrid's"
            " sandbox, delivering nothing, and leave the edition unsent"
        )
