"""Delivery backends: one edition, already rendered, handed over a batch at a time.

A backend never decides what to send or records what was sent: the send command
walks the ledger's batches and calls ``Backend.send`` for each. A backend either
returns (the batch was accepted, with the provider's message id if any) or raises
one of ``BatchRefused``, ``BatchFailed`` or ``BatchUncertain`` from ``digest.errors``.
Transient faults (rate limits, 5xx, connections refused) are retried inside the
backend, with the clock and the sleep function passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..models import Recipient


@dataclass(frozen=True)
class Message:
    """What every recipient of an edition shares; bodies and subject still carry tokens."""

    subject: str
    html: str
    text: str
    from_email: str
    from_name: str = ""
    reply_to: str = ""
    edition: str = ""
    categories: tuple[str, ...] = ()
    asm_group_id: int = 0
    sandbox: bool = False
    token_key: str = ""  # the key of the tokens in subject and bodies (models.token)


class Backend(Protocol):
    """Sends one batch of recipients; ``batch_size`` is the most a single call may carry."""

    name: str
    batch_size: int

    def send(self, message: Message, recipients: Sequence[Recipient]) -> str:
        """Deliver ``message`` to ``recipients``; return the provider's id for the batch."""
        ...

    def prepare(self) -> None:
        """Load what sending needs (a library, say) now, before send workers fork from this
        process: they inherit it instead of each loading it again."""
        ...

    def close(self) -> None:
        """Release connections; the backend is not used after this."""
        ...
