"""`digest send --to ADDR`: a [TEST] of the edition to the given addresses, recorded as a test."""

from __future__ import annotations

from collections.abc import Sequence

from ..app import App
from ..sending.backends import make_backend
from ..sending.plan import check_ready
from ..sending.samples import send_test
from ..text import plural


def run(app: App, to: Sequence[str], edition: str | None) -> None:
    """Send the test through the configured backend; an unsubscribe method is not needed."""
    backend_name = app.settings.delivery.backend
    check_ready(app, backend_name, to_list=False)
    backend = make_backend(app, backend_name)
    try:
        sample = send_test(app, to, backend, edition)
    finally:
        backend.close()
    sent = plural(sample.recipients, "address", "addresses")
    app.say(f"Sent a test of edition {sample.key} to {sent}.")
