"""Benchmark `digest subscribers check` on a long list.

Run from the repository root: ``python benchmarks/subscribers.py [--sizes 1000000]
[--repeat N]``. For each size it takes the list benchmarks/send.py generates (N distinct
active readers, one unsubscribed row per 1000, 5 repeats in other case; cached under
``$TMPDIR/digest-bench``), makes a fresh folder with ``digest init``, and runs ``digest
subscribers check`` there N times, each as a subprocess started by send.py's launcher:
wall time, CPU time (the children that read the list included) and peak memory (the
largest process's RSS, and the summed PSS of the process tree). The check must find
exactly the repeats and end with the counts the list has, or the benchmark stops.
Target: a million rows in under 3 s. Exit status 1 when it is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from send import (  # send.py is a script beside this one
    DUPLICATES,
    LAUNCHER,
    UNSUBSCRIBED_EVERY,
    clean_env,
    digest_command,
    duplicate_sources,
    subscribers_csv,
)

TARGET = (1_000_000, 3.0)  # (size, most seconds of wall time)


def measure(command: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float | str]:
    """Run ``command`` through send.py's launcher: its figures, exit code and stdout."""
    with tempfile.NamedTemporaryFile(suffix=".json") as figures:
        launched = [sys.executable, "-S", "-c", LAUNCHER, figures.name, *command]
        done = subprocess.run(launched, cwd=cwd, env=env, capture_output=True, text=True)
        measured = json.loads(Path(figures.name).read_text() or "{}")
    return {**measured, "stdout": done.stdout, "stderr": done.stderr}


def expected_counts(n: int) -> str:
    duplicates = len(duplicate_sources(n))
    gone = n // UNSUBSCRIBED_EVERY
    return (
        f"{duplicates} problems; {n} active, {gone} unsubscribed, 0 bounced, 0 complained,"
        f" 0 invalid, {duplicates} duplicate."
    )


def run(n: int, repeat: int, parent: Path) -> list[dict[str, float | str]]:
    env = clean_env()
    folder = parent / f"newsletter-{n}"
    init = subprocess.run([*digest_command(), "init", str(folder)], env=env, capture_output=True)
    if init.returncode:
        raise SystemExit(f"FAILED: digest init: {init.stderr.decode()}")
    (folder / "subscribers.csv").unlink()
    (folder / "subscribers.csv").symlink_to(subscribers_csv(n))
    runs = []
    for _ in range(repeat):
        result = measure([*digest_command(), "subscribers", "check"], folder, env)
        wanted = f"subscribers.csv: {expected_counts(n)}"
        problems = str(result["stderr"]).splitlines()
        if result.get("code") != 1 or str(result["stdout"]).strip() != wanted:
            raise SystemExit(f"FAILED: expected exit 1 and {wanted!r}, got {result}")
        if len(problems) != min(DUPLICATES, len(duplicate_sources(n))):
            raise SystemExit(f"FAILED: expected the repeats named, got {problems[:10]}")
        runs.append(result)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000", help="comma-separated list sizes")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    failed = False
    print(f"{'rows':>9}  {'wall s':>7}  {'cpu s':>6}  {'RSS MB':>7}  {'tree MB':>7}  runs (wall)")
    with tempfile.TemporaryDirectory(prefix="digest-bench-subscribers-") as parent:
        for n in (int(size) for size in args.sizes.split(",")):
            runs = run(n, args.repeat, Path(parent))
            wall = statistics.median(float(r["wall"]) for r in runs)
            cpu = statistics.median(float(r["cpu"]) for r in runs)
            rss = max(float(r["rss_kb"]) for r in runs) / 1024
            tree = max(float(r["tree_kb"]) for r in runs) / 1024
            each = " ".join(f"{float(r['wall']):.2f}" for r in runs)
            print(f"{n:>9}  {wall:>7.2f}  {cpu:>6.2f}  {rss:>7.0f}  {tree:>7.0f}  {each}")
            if n == TARGET[0]:
                verdict = "PASS" if wall < TARGET[1] else "FAIL"
                failed = failed or verdict == "FAIL"
                print(f"{verdict}: {n:,} rows in {wall:.2f} s (target: under {TARGET[1]:g} s)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
