"""`digest send --to ADDR`: a [TEST] of the edition to the given addresses, recorded as a test."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from ..app import App
from ..errors import DeliveryError, SendRefused, with_hint
from ..sending.samples import send_configured_test
from ..text import plural


def run(app: App, to: Sequence[str], edition: str | None) -> None:
    """Send the test through the configured backend; an unsubscribe method is not needed.
    A failed send names the command that repeats the test alone; a refusal (nothing was
    tried) names only its fix."""
    try:
        sample = send_configured_test(app, to, edition)
    except SendRefused:
        raise
    except DeliveryError as error:
        again = f"run `{repeat_command(to, edition)}` to try the test again (the list got nothing)"
        raise with_hint(error, f"{error.hint}, then {again}" if error.hint else again) from None
    sent = plural(sample.recipients, "address", "addresses")
    app.say(f"Sent a test of edition {sample.key} to {sent}.")


def repeat_command(to: Sequence[str], edition: str | None) -> str:
    """The command line that sends this test again, and only to its addresses."""
    where = " ".join(f"--to {shlex.quote(address)}" for address in to)
    return f"digest send {where}" + (f" --edition {edition}" if edition else "")
