"""subscribers.csv is replaced whole or not at all: `digest subscribers sync` killed with
SIGKILL at any moment leaves the old list or the new one, and a list edited while sync
reads it is never overwritten."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.ledger import Ledger

REPO = Path(__file__).resolve().parents[2]
READERS = 200_000
AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

# Runs `digest subscribers sync` in the folder argv[1]; at the first audit event named
# argv[2] whose first argument ends with argv[3], runs argv[4]: "kill" (SIGKILL itself)
# or "append" (a line added to the list, as an editor saving it would).
SYNC_WITH_HOOK = """
import os, signal, sys
from pathlib import Path
folder, event, suffix, action = sys.argv[1:5]
os.chdir(folder)

def hook(name, args):
    if name == event and args and str(args[0]).endswith(suffix):
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        with open("subscribers.csv", "a", encoding="utf-8") as handle:
            handle.write("late@example.com,Late,active\\n")

sys.addaudithook(hook)
sys.argv = ["digest", "subscribers", "sync"]
from digest.cli import main
main()
"""


def make_folder(path: Path) -> Path:
    """An outbox newsletter folder with a long list and a few unsubscribes in its ledger."""
    assert CliRunner().invoke(cli, ["init", str(path)]).exit_code == 0
    lines = ["email,name,status"] + [f"reader{i}@example.com,Reader {i}," for i in range(READERS)]
    (path / "subscribers.csv").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    config = path / "digest.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('backend = "sendgrid"', 'backend = "outbox"'), encoding="utf-8")
    with Ledger.open(path / ".digest" / "state.db") as ledger:
        for i in (0, READERS // 2, READERS - 1):
            ledger.record_unsubscribe(f"reader{i}@example.com", AT, "one-click")
    return path


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return {**clean, "PYTHONPATH": str(REPO)}


def sync(folder: Path, *hook: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", SYNC_WITH_HOOK, str(folder), *hook] if hook else [
        sys.executable, "-m", "digest", "subscribers", "sync"
    ]  # fmt: skip
    return subprocess.Popen(
        command, cwd=folder, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, bytes]:
    """A folder to copy, and its list before and after a sync that ran to its end."""
    root = tmp_path_factory.mktemp("kill")
    original = make_folder(root / "original")
    done = root / "done"
    shutil.copytree(original, done)
    finished = sync(done)
    assert finished.wait(timeout=120) == 0, finished.communicate()
    old, new = (f / "subscribers.csv" for f in (original, done))
    assert old.read_bytes() != new.read_bytes()
    return original, old.read_bytes(), new.read_bytes()


def copy_of(original: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "newsletter"
    shutil.copytree(original, folder)
    return folder


def leftovers(folder: Path) -> list[Path]:
    return list(folder.glob(".subscribers.csv.*.tmp"))


@pytest.mark.slow
def test_killed_just_before_the_rename_the_old_list_stays(
    lists: tuple[Path, bytes, bytes], tmp_path: Path
) -> None:
    original, old, _ = lists
    folder = copy_of(original, tmp_path)
    killed = sync(folder, "os.rename", ".tmp", "kill")
    assert killed.wait(timeout=120) == -signal.SIGKILL
    assert (folder / "subscribers.csv").read_bytes() == old
    assert len(leftovers(folder)) == 1, "the whole new list, never renamed"


@pytest.mark.slow
def test_killed_just_after_the_rename_the_new_list_is_whole(
    lists: tuple[Path, bytes, bytes], tmp_path: Path
) -> None:
    original, _, new = lists
    folder = copy_of(original, tmp_path)
    # The next thing after the rename: the folder opened, to flush its entries.
    killed = sync(folder, "open", folder.name, "kill")
    assert killed.wait(timeout=120) == -signal.SIGKILL
    assert (folder / "subscribers.csv").read_bytes() == new
    assert leftovers(folder) == []


@pytest.mark.slow
def test_killed_at_any_moment_the_list_is_the_old_one_or_the_new_one(
    lists: tuple[Path, bytes, bytes], tmp_path: Path
) -> None:
    original, old, new = lists
    seen = set()
    for attempt in range(6):
        folder = copy_of(original, tmp_path / str(attempt))
        running = sync(folder)
        deadline = time.monotonic() + 60
        while not leftovers(folder) and running.poll() is None:  # writing the new list
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(random.uniform(0, 0.4))
        running.send_signal(signal.SIGKILL)
        running.wait()
        now = (folder / "subscribers.csv").read_bytes()
        assert now in (old, new)
        seen.add("old" if now == old else "new")
    assert "old" in seen, "some kill came mid-write"


@pytest.mark.slow
def test_a_list_edited_while_sync_reads_it_is_kept_and_sync_stops(
    lists: tuple[Path, bytes, bytes], tmp_path: Path
) -> None:
    original, old, _ = lists
    folder = copy_of(original, tmp_path)
    # The list is edited just as sync starts writing its new version.
    edited = sync(folder, "tempfile.mkstemp", "", "append")
    _, stderr = edited.communicate(timeout=120)
    assert edited.returncode == 1
    assert "subscribers.csv changed while digest was reading it" in stderr
    assert "run the command again" in stderr
    assert (folder / "subscribers.csv").read_bytes() == old + b"late@example.com,Late,active\n"
    assert leftovers(folder) == []
