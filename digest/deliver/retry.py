"""A small retry loop shared by the delivery backends.

An *attempt* is a function that either returns a result, raises ``Retry`` to ask
for another try, or raises anything else to stop at once. ``Retry.after`` says
how long the other side asked us to wait (a rate limit's reset time); without it
the loop backs off exponentially with full jitter (a random delay between 0 and
``base_delay * 2**n``, capped at ``max_delay``), which spreads the retries of
many concurrent senders instead of having them hammer the server in step.

The loop never sleeps or draws random numbers by itself: ``sleep`` and ``rng``
are passed in, so tests run instantly and deterministically.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..text import plural

T = TypeVar("T")


class Retry(Exception):
    """Raised by an attempt that may succeed if tried again (nothing was delivered).

    ``after`` is the wait the server asked for, in seconds, or None to back off.
    """

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after = after


class RetriesExhausted(Exception):
    """The attempts ran out; ``last`` is the final ``Retry`` signal, ``attempts`` how many ran."""

    def __init__(self, last: Retry, attempts: int) -> None:
        super().__init__(f"{last.reason} (gave up after {plural(attempts, 'attempt')})")
        self.last = last
        self.attempts = attempts


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    ``max_retries`` bounds the retries that back off (server errors, refused
    connections); ``max_waits`` separately bounds the retries the server timed
    itself (``Retry.after``). Such a wait is kept in full, never cut short (an
    early retry would only be refused again), but one longer than ``max_wait``
    seconds gives up at once rather than stall a run for longer.
    """

    max_retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_waits: int = 10
    max_wait: float = 600.0


def backoff_delay(retry_number: int, policy: RetryPolicy, rng: random.Random) -> float:
    """The wait before retry ``retry_number`` (0 for the first): capped exponential, full jitter."""
    ceiling = min(policy.max_delay, policy.base_delay * 2.0 ** min(retry_number, 60))
    return rng.uniform(0.0, ceiling)


def call_with_retries(
    attempt: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None],
    rng: random.Random,
    on_retry: Callable[[Retry, float], None] | None = None,
) -> T:
    """Call ``attempt`` until it returns, retrying on ``Retry`` within ``policy``.

    ``on_retry(signal, delay)`` is called before each sleep (for logging).
    Raises ``RetriesExhausted`` when the budget is spent; any other exception
    from ``attempt`` propagates unchanged on the spot.
    """
    backoffs = waits = 0
    while True:
        try:
            return attempt()
        except Retry as signal:
            if signal.after is None:
                if backoffs >= policy.max_retries:
                    raise RetriesExhausted(signal, backoffs + waits + 1) from signal
                delay = backoff_delay(backoffs, policy, rng)
                backoffs += 1
            else:
                delay = max(signal.after, 0.0)
                if delay > policy.max_wait:
                    too_long = Retry(
                        f"{signal.reason}; the wait it asks for, {delay:.0f} s, is longer "
                        f"than the {policy.max_wait:.0f} s a run waits",
                        signal.after,
                    )
                    raise RetriesExhausted(too_long, backoffs + waits + 1) from signal
                if waits >= policy.max_waits:
                    raise RetriesExhausted(signal, backoffs + waits + 1) from signal
                waits += 1
            if on_retry is not None:
                on_retry(signal, delay)
            sleep(delay)
