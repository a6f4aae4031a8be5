"""The fault script: what to do with the next requests instead of answering them normally.

Faults wait in one queue, in the order they were scripted. Each API request (mail send
or an account endpoint; never a ``/_test/`` one) takes the first queued fault meant for
it: one scripted with its ``path``, or one scripted for any path. Rate limiting answers
429 to every n-th request of each path, counted per path as SendGrid limits each
endpoint on its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from tests.sendgrid_standin.answers import Answer, refuse

KINDS = ("fail", "slow", "hang", "drop")


@dataclass(frozen=True)
class Fault:
    """What to do with one incoming request instead of (or on top of) answering it.

    ``kind``: ``fail`` (answer ``status`` with an error; a mail send is not recorded),
    ``slow`` or ``hang`` (judge and record as usual, answer after ``seconds``; a mail-send
    ``hang`` with ``take`` records only its first ``take`` personalizations: a batch that
    arrived in part, as an activity log showing some of its readers would say), ``drop``
    (read the request, close the connection without an answer). ``path``: only a
    request to that path (``/v3/suppression/bounces``, no query) takes it; None: the
    next request to any path.
    """

    kind: str
    status: int = 0
    seconds: float = 0.0
    message: str = ""
    field: str | None = None
    reset_at: float | None = None
    path: str | None = None
    take: int | None = None

    def answer(self) -> Answer:
        """The error answer of a ``fail``; a 429 carries SendGrid's rate-limit headers."""
        refused = refuse(self.status, self.message, self.field)
        if self.status != 429:
            return refused
        headers = {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0"}
        if self.reset_at is not None:
            headers["X-RateLimit-Reset"] = str(math.ceil(self.reset_at))
        return Answer(429, refused.payload, headers)


class FaultScript:
    """The queued faults and the rate-limit mode, shared by the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._every = 0
        self._reset_in = 1.0
        self._seen: Counter[str] = Counter()

    def queue(self, fault: Fault) -> None:
        """Add ``fault`` at the end of the queue."""
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        with self._lock:
            self._faults.append(fault)

    def rate_limit_every(self, n: int, reset_in: float = 1.0) -> None:
        """Answer 429 to every ``n``-th request of each path from now on (0 turns it off)."""
        with self._lock:
            self._every = n
            self._reset_in = reset_in
            self._seen.clear()

    def take(self, path: str) -> Fault | None:
        """The fault for a request to ``path`` that just arrived, if any."""
        with self._lock:
            self._seen[path] += 1
            for index, fault in enumerate(self._faults):
                if fault.path is None or fault.path == path:
                    del self._faults[index]
                    return fault
            if self._every and self._seen[path] % self._every == 0:
                return Fault("fail", status=429, reset_at=time.time() + self._reset_in)
            return None

    def clear(self) -> None:
        """Forget the queued faults and the rate-limit mode."""
        with self._lock:
            self._faults.clear()
            self._every = 0
            self._seen.clear()


def fault_from_spec(spec: dict[str, Any]) -> Fault:
    """One fault given as JSON: ``{"kind": "fail"|"slow"|"hang"|"drop", ...}``.

    ``fail`` takes ``status`` and optionally ``reset_in`` (seconds from now, for
    ``X-RateLimit-Reset``), ``message`` and ``field``; ``slow`` and ``hang`` take
    ``seconds`` (and ``hang`` optionally ``take``); any kind takes ``path``. Raises
    KeyError, TypeError or ValueError.
    """
    kind, path = spec["kind"], spec.get("path")
    if path is not None and not isinstance(path, str):
        raise TypeError("path must be a string")
    if kind == "fail":
        reset_in = spec.get("reset_in")
        return Fault(
            kind,
            status=int(spec["status"]),
            message=str(spec.get("message", "")),
            field=spec.get("field"),
            reset_at=None if reset_in is None else time.time() + float(reset_in),
            path=path,
        )
    if kind in ("slow", "hang"):
        take = None if spec.get("take") is None else int(spec["take"])
        return Fault(kind, seconds=float(spec["seconds"]), path=path, take=take)
    if kind == "drop":
        return Fault(kind, path=path)
    raise ValueError(f"unknown fault kind {kind!r}")
