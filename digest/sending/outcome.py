"""What one run of `digest send` did, for the summary it ends with."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DigestError


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
    rehearsal: bool = False  # sent in SendGrid's sandbox mode: nothing was delivered
