"""A check's verdict, as `digest doctor` prints it and a scheduled run reads it."""

from __future__ import annotations

from dataclasses import dataclass

PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass(frozen=True)
class Finding:
    """One check's verdict: ``status`` pass, warn or fail, and what it found (and the fix)."""

    status: str
    check: str
    said: str

    @property
    def line(self) -> str:
        return f"{self.status}  {self.check}: {self.said}"
