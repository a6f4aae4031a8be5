"""`digest send --to ADDR`: a [TEST] of the edition to the given addresses, recorded as a test."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from ..app import App
from ..errors import DeliveryError, with_hint
from ..sending.backends import make_backend
from ..sending.ready import check_ready
from ..sending.samples import send_test


def run(app: App, to: Sequence[str], edition: str | None) -> None:
    """Send the test through the configured backend; an unsubscribe method is not needed."""
    backend_name = app.settings.delivery.backend
    check_ready(app, backend_name, to_list=False)
    backend = make_backend(app, backend_name)
    try:
        sample = send_test(app, to, backend, edition)
    except DeliveryError as error:
        again = f"run `{repeat_command(to, edition)}` to try the test again (the list got nothing)"
        raise with_hint(error, f"{error.hint}, then {again}" if error.hint else again) from None
    finally:
        backend.close()
    app.say(f"Sent a test of edition {sample.key} to {sample.recipients} address(es).")


def repeat_command(to: Sequence[str], edition: str | None) -> str:
    """The command line that sends this test again, and only to its addresses."""
    where = " ".join(f"--to {shlex.quote(address)}" for address in to)
    return f"digest send {where}" + (f" --edition {edition}" if edition else "")
