"""`digest send --to ADDR`: a [TEST] of the edition to the given addresses, recorded as a test."""

from __future__ import annotations

from collections.abc import Sequence

from ..app import App
from ..sending.samples import send_configured_test


def run(app: App, to: Sequence[str], edition: str | None) -> None:
    """Send the test through the configured backend; an unsubscribe method is not needed."""
    sample = send_configured_test(app, to, edition)
    app.say(f"Sent a test of edition {sample.key} to {sample.recipients} address(es).")
