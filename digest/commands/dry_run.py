"""`digest send --dry-run [--to ADDR]`: the edition's messages (or a test's) written to the
outbox as .eml files; nothing sent or recorded."""

from __future__ import annotations

from collections.abc import Sequence

from ..app import App
from ..sending.backends import make_outbox
from ..sending.edition import setup_warnings
from ..sending.pipeline import describe_skipped
from ..sending.samples import dry_run_edition, dry_run_test
from ..text import plural


def run(app: App, to: Sequence[str], edition: str | None) -> None:
    """Write every active subscriber's message, or the test's for ``to``, to the outbox;
    then say what a real send would carry that is not set up yet."""
    outbox = make_outbox(app)
    if to:
        test = dry_run_test(app, to, outbox, edition)
        said = (
            f"Dry run of a test of edition {test.key}: wrote "
            f"{plural(test.recipients, 'message')} to {test.where}/; nothing sent or recorded."
        )
    else:
        done = dry_run_edition(app, outbox, edition)
        said = (
            f"Dry run of edition {done.key}: wrote {plural(done.recipients, 'message')} to "
            f"{done.where}/; skipped {describe_skipped(done.skipped) or 'none'}."
        )
    for warning in setup_warnings(app.settings):
        app.warn(warning)
    app.say(said)
