"""Helpers for tests/ledger/test_ledger.py: audiences, and code that runs in other processes.

Functions a child process runs must live in an importable module (the ``spawn``
start method imports them by name), hence this file rather than the test module.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from digest.audience.packing import AudiencePacker
from digest.ledger import AudienceCounts, Ledger
from digest.models import Subscriber

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)

# Runs in a child: takes the send lock of an edition, says so, then waits to be killed.
HOLD_SEND_LOCK = """
import sys, time
from pathlib import Path
from digest.ledger import Ledger
ledger = Ledger.open(Path(sys.argv[1]))
with ledger.send_lock(sys.argv[2]):
    print("locked", flush=True)
    time.sleep(120)
"""

# Runs in a child: holds the database's write lock (as a send writing does) for argv[2]
# seconds, saying so once it has it and again just before it lets go.
HOLD_WRITE_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("INSERT INTO tests (edition, subject, recipients, at, message_id, accepted)"
           " VALUES ('2026-03-09', 'lock', '[]', '2026-03-09T16:00:00+00:00', 'm', 1)")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
print("releasing", flush=True)
db.execute("COMMIT")
"""

# Runs in a child: marks a batch in flight, then dies at once as a crash would.
MARK_IN_FLIGHT_THEN_DIE = """
import os, signal, sys
from datetime import datetime
from pathlib import Path
from digest.ledger import Ledger
ledger = Ledger.open(Path(sys.argv[1]))
ledger.mark_in_flight(int(sys.argv[2]), datetime.fromisoformat(sys.argv[3]))
os.kill(os.getpid(), signal.SIGKILL)
"""

# Runs in a child: opens (so creates) a ledger, and dies by SIGKILL at the first audit
# event named in argv[2] ("sqlite3.connect/handle": a database was just opened;
# "os.rename": a file is about to be renamed into place).
OPEN_AND_DIE_AT = """
import os, signal, sys
from pathlib import Path
from digest.ledger import Ledger

def die_at(event, args):
    if event == sys.argv[2]:
        os.kill(os.getpid(), signal.SIGKILL)

sys.addaudithook(die_at)
Ledger.open(Path(sys.argv[1]))
"""


def subscribers(count: int, *, start: int = 0) -> list[Subscriber]:
    """``count`` distinct subscribers, every third with a name and every fifth with fields."""
    return [
        Subscriber(
            email=f"reader{i}@example.com",
            name=f"Reader {i}" if i % 3 == 0 else "",
            fields={"plan": "pro", "city": "Zürich"} if i % 5 == 0 else {},
        )
        for i in range(start, start + count)
    ]


def start(
    ledger: Ledger, key: str, audience: Any, *, batch_size: int = 2, **overrides: Any
) -> AudienceCounts:
    """Start edition ``key`` with plain content and ``audience`` (Subscribers) packed into
    batches of ``batch_size``; keyword overrides replace any argument."""
    return freeze(ledger, key, audience, batch_size=batch_size, **overrides)[0]


def freeze(
    ledger: Ledger,
    key: str,
    audience: Any,
    *,
    batch_size: int = 2,
    in_memory: int = 200_000,
    **overrides: Any,
) -> tuple[AudienceCounts, int]:
    """``start``, also returning how many duplicates the packer dropped; ``in_memory`` is
    the packer's (how many addresses it keeps in a set before it moves them to disk)."""
    packer = AudiencePacker(batch_size, in_memory=in_memory)
    arguments: dict[str, Any] = {
        "subject": f"Digest {key}: %%name%%",
        "preheader": "This week",
        "html": "<p>Hello %%name%%</p>",
        "text": "Hello %%name%%",
        "post_ids": [f"{key}/a", f"{key}/b"],
        "audience": packer.batches(audience),
        "backend": "sendgrid",
        "started_at": T0,
    }
    arguments.update(overrides)
    return ledger.start_edition(key, **arguments), packer.duplicates


def run_python(code: str, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """Start ``python -c code args`` with the repository importable."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, cwd=REPO, text=True, **popen
    )


def open_fresh_ledgers(worker: int, db_paths: list[str], barrier: Any, results: Any) -> None:
    """Child process: for each path, wait for the other workers, then all open it at once.

    Each worker also writes (a test send record), so the database must be usable,
    not merely openable. Reports "ok" or the error for every round.
    """
    for path in db_paths:
        barrier.wait()
        try:
            with Ledger.open(Path(path)) as ledger:
                ledger.record_test(
                    "2026-03-09",
                    subject=f"worker {worker}",
                    recipients=[f"w{worker}@example.com"],
                    at=T0,
                    message_id=f"m{worker}",
                    accepted=True,
                )
            results.put("ok")
        except Exception as exc:
            results.put(f"{type(exc).__name__}: {exc}")
