"""Benchmark `digest send` against the floor: a bare batched sender, through a local SendGrid.

Run from the repository root: ``python benchmarks/send.py [--sizes 10000,100000,1000000]
[--repeat N] [--keep]``. For each size it generates (and caches under
``$TMPDIR/digest-bench``) a subscribers.csv of N distinct active readers plus about 0.1%
unsubscribed rows and a few duplicates differing in case, makes a fresh newsletter folder
with ``digest init --example``, and sends it twice, each time as a subprocess against a fresh
``python -m tests.sendgrid_server --fast`` process:

* ``digest -q send --yes`` (a fresh ``.digest`` each run): the real path, which validates,
  deduplicates, freezes the audience in the SQLite ledger, signs an unsubscribe link per
  recipient and records every batch;
* the floor, ``python benchmarks/send.py --bare CSV URL``: reads the CSV with the csv
  module and posts 1000-personalization requests, one after another, with the official SDK
  (one ``to`` and a ``%%name%%`` substitution each, the content ``digest build`` rendered in
  the same folder), and nothing else: no validation, no dedupe, no ledger.

Wall time, CPU time and peak memory (``ru_maxrss``) are the sending process's own, from
``os.wait4`` in a tiny launcher (see LAUNCHER). Afterwards the server's
``GET /_test/accepted`` must list exactly the expected addresses, each once, or the
benchmark stops with an error. Exit status 1 when a target fails.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(tempfile.gettempdir()) / "digest-bench"
CSV_VERSION = 1  # bump when the generated rows change, so cached files are not reused
API_KEY = "SG.benchmark-key"
SECRET = "benchmark-unsubscribe-secret"
NOW = "2026-03-09T09:00:00-07:00"
BATCH = 1000
UNSUBSCRIBED_EVERY = 1000  # one unsubscribed row per 1000 readers: 0.1%
DUPLICATES = 5  # readers listed a second time, in other case, at least 1500 rows later
DUPLICATE_GAP = 1500  # > BATCH: the bare sender never puts an address twice in one request
# How `digest build` greets the first active subscriber, "Reader 0" (by the first name).
GREETING = "Hi Reader,"
SERVER_ARGS = ("--api-key", API_KEY, "--fast")
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
TARGETS = (  # (size, max wall ratio ours/floor, max peak RSS MB or None)
    (100_000, 1.5, None),
    (1_000_000, 2.0, 200.0),
)


# -- the subscribers ---------------------------------------------------------------------


def duplicate_sources(n: int) -> dict[int, int]:
    """{reader index to repeat: index of the reader after which the repeat is written}."""
    if n <= DUPLICATE_GAP:
        return {}
    span = n - DUPLICATE_GAP
    sources = (k * span // DUPLICATES for k in range(DUPLICATES))
    return {source: source + DUPLICATE_GAP for source in sources}


def subscribers_csv(n: int) -> Path:
    """The cached CSV for ``n`` distinct active readers, generated on first use."""
    path = CACHE / f"subscribers-v{CSV_VERSION}-{n}.csv"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    repeats_after = {after: source for source, after in duplicate_sources(n).items()}
    temp = path.with_suffix(".tmp")
    with temp.open("w", encoding="utf-8", newline="") as handle:
        handle.write("email,name,status\n")
        gone = 0
        for i in range(n):
            handle.write(f"reader{i}@example.com,Reader {i},active\n")
            if i in repeats_after:
                source = repeats_after[i]
                handle.write(f"READER{source}@Example.COM,Reader {source} again,active\n")
            if i % UNSUBSCRIBED_EVERY == UNSUBSCRIBED_EVERY - 1:
                handle.write(f"gone{gone}@example.com,Gone {gone},unsubscribed\n")
                gone += 1
    temp.replace(path)
    return path


# -- the floor: a bare batched sender ----------------------------------------------------


def bare_send(csv_path: Path, url: str) -> None:
    """Post every active row of ``csv_path`` to ``url`` in 1000-recipient requests; print counts.

    The content is ``digest build``'s output in the CSV's folder, with the first reader's
    greeting turned back into a ``%%name%%`` token; the sender is the folder's from_email.
    """
    from sendgrid import SendGridAPIClient

    folder = csv_path.parent
    out = folder / "out"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    config = tomllib.loads((folder / "digest.toml").read_text(encoding="utf-8"))
    token = GREETING.replace("Reader", "%%name%%")
    html = (out / "digest.html").read_text(encoding="utf-8").replace(GREETING, token)
    text = (out / "digest.txt").read_text(encoding="utf-8").replace(GREETING, token)
    if "%%name%%" not in html:
        raise SystemExit(f"FAILED: {out / 'digest.html'} does not greet {GREETING!r}")
    shared = {
        "from": {"email": config["newsletter"]["from_email"]},
        "subject": manifest["subject"],
        "content": [{"type": "text/plain", "value": text}, {"type": "text/html", "value": html}],
    }
    client = SendGridAPIClient(api_key=os.environ["SENDGRID_API_KEY"], host=url)
    requests = recipients = first_bytes = 0
    batch: list[dict[str, Any]] = []

    def post() -> None:
        nonlocal requests, first_bytes
        body = {"personalizations": batch, **shared}
        if not requests:
            first_bytes = len(json.dumps(body).encode())
        client.client.mail.send.post(request_body=body)
        requests += 1

    with csv_path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["status"] != "active":
                continue
            name = row["name"]
            batch.append(
                {"to": [{"email": row["email"], "name": name}], "substitutions": {"%%name%%": name}}
            )
            recipients += 1
            if len(batch) == BATCH:
                post()
                batch = []
    if batch:
        post()
    print(json.dumps({"requests": requests, "recipients": recipients, "first_bytes": first_bytes}))


# -- running and measuring ---------------------------------------------------------------


@dataclass
class Run:
    """One measured send: the sending process's figures and the server's."""

    wall: float
    cpu: float
    rss_mb: float
    tree_mb: float
    requests: int
    recipients: int
    server_cpu: float
    server_rss_mb: float
    first_request_bytes: int = 0  # the floor's first request body; 0 when not known


@dataclass
class Finished:
    wall: float
    cpu: float
    rss_mb: float
    tree_mb: float
    stdout: str


def clean_env() -> dict[str, str]:
    """This environment without DIGEST_* settings, plus the benchmark's secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(SENDGRID_API_KEY=API_KEY, DIGEST_UNSUBSCRIBE_SECRET=SECRET)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def digest_command() -> list[str]:
    """The `digest` script of this interpreter's environment, as the floor runs on it too
    (not the first `digest` on PATH, which may be a version manager's shim that costs
    0.1 s a start)."""
    script = Path(sys.executable).parent / "digest"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "digest"]


# Linux counts in a child's ru_maxrss the peak RSS of the process that started it (exec
# keeps the old image's high-water mark), and this process grows to hundreds of MB while
# it verifies a million addresses. So each measured command is started by a tiny launcher
# (python -S, a few MB, reported as "launcher RSS") that waits for it with os.wait4.
#
# ru_maxrss is one process's peak. `digest send` forks worker processes, so the launcher
# also samples, every 0.1 s, the summed PSS (resident memory, pages shared between
# processes divided among them) of the command and all its descendants: "tree MB".
LAUNCHER = """
import json, os, sys, threading, time

def tree(root):
    pids = [root]
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    pids += [int(child) for child in children.read().split()]
            except OSError:
                pass
    return pids

def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def sample(root, done, peak):
    while not done.wait(0.1):
        peak[0] = max(peak[0], sum(pss_kb(pid) for pid in tree(root)))

started = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
done, peak = threading.Event(), [0]
sampler = threading.Thread(target=sample, args=(pid, done, peak), daemon=True)
sampler.start()
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
done.set()
sampler.join()
code = os.waitstatus_to_exitcode(status)
cpu = usage.ru_utime + usage.ru_stime
with open(sys.argv[1], "w") as report:
    figures = {"wall": wall, "cpu": cpu, "rss_kb": usage.ru_maxrss, "tree_kb": peak[0]}
    json.dump({**figures, "code": code}, report)
"""


def run_measured(command: list[str], cwd: Path, env: dict[str, str], label: str) -> Finished:
    """Run ``command`` to its end: wall time, CPU time, peak RSS. Fail loudly on exit != 0."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile(suffix=".json") as figures,
    ):
        launcher = [sys.executable, "-S", "-c", LAUNCHER, figures.name, *command]
        subprocess.run(launcher, cwd=cwd, env=env, stdout=out, stderr=err, check=False)
        measured = json.loads(Path(figures.name).read_text() or "{}")
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if measured.get("code") != 0:
        raise SystemExit(
            f"FAILED: {label} exited {measured.get('code')}\n$ {' '.join(command)}\n"
            f"{stdout}{stderr}"
        )
    return Finished(
        measured["wall"],
        measured["cpu"],
        measured["rss_kb"] / 1024,
        measured["tree_kb"] / 1024,
        stdout,
    )


def launcher_rss_mb(env: dict[str, str]) -> float:
    """What the launcher alone adds to a peak RSS figure: a measured command's lower bound."""
    return run_measured(["true"], ROOT, env, "true").rss_mb


class Server:
    """tests.sendgrid_server --fast in its own process: one per run, so each starts empty."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.sendgrid_server", "--port", "0", *SERVER_ARGS],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.process.kill()
            raise SystemExit(f"FAILED: the SendGrid stand-in did not start (said {self.url!r})")

    def accepted(self) -> list[str]:
        with urllib.request.urlopen(f"{self.url}/_test/accepted", timeout=600) as answer:
            return json.load(answer)

    def stop(self) -> tuple[float, float]:
        """Stop the server; its CPU seconds and peak RSS in MB."""
        self.process.terminate()
        _, status, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def make_folder(n: int, parent: Path, env: dict[str, str]) -> Path:
    """A fresh `digest init --example` folder with the generated subscribers and a built edition."""
    folder = parent / f"newsletter-{n}"
    run_measured([*digest_command(), "init", "--example", str(folder)], parent, env, "digest init")
    (folder / "subscribers.csv").unlink()
    shutil.copyfile(subscribers_csv(n), folder / "subscribers.csv")
    run_measured([*digest_command(), "build", "--now", NOW], folder, env, "digest build")
    return folder


def expected_lower(n: int) -> set[str]:
    return {f"reader{i}@example.com" for i in range(n)}


def verify(label: str, accepted: list[str], n: int, duplicates: int) -> None:
    """The server took every reader exactly once (the floor also takes the case duplicates)."""
    problems = []
    if len(accepted) != n + duplicates:
        problems.append(f"{len(accepted)} addresses accepted, expected {n + duplicates}")
    if len(set(accepted)) != len(accepted):
        twice = [a for a, count in Counter(accepted).items() if count > 1][:5]
        problems.append(f"some addresses were accepted more than once, e.g. {twice}")
    lowered = Counter(a.lower() for a in accepted)
    if set(lowered) != expected_lower(n):
        missing = sorted(expected_lower(n) - set(lowered))[:5]
        extra = sorted(set(lowered) - expected_lower(n))[:5]
        problems.append(f"wrong set of readers: missing e.g. {missing}, unexpected e.g. {extra}")
    if sum(count - 1 for count in lowered.values()) != duplicates:
        problems.append(f"expected {duplicates} case duplicates among the accepted addresses")
    if problems:
        raise SystemExit(f"FAILED verification of {label} (n={n}): " + "; ".join(problems))


def run_ours(folder: Path, env: dict[str, str], n: int) -> Run:
    shutil.rmtree(folder / ".digest", ignore_errors=True)
    server = Server(env)
    try:
        command = [*digest_command(), "-q", "send", "--yes", "--now", NOW]
        finished = run_measured(
            command, folder, {**env, "DIGEST_SENDGRID_HOST": server.url}, "digest send"
        )
        accepted = server.accepted()
    finally:
        server_cpu, server_rss = server.stop()
    verify("digest send", accepted, n, 0)
    with sqlite3.connect(f"file:{folder / '.digest' / 'state.db'}?mode=ro", uri=True) as db:
        requests, recipients = db.execute(
            "SELECT count(*), coalesce(sum(size), 0) FROM batches WHERE state = 'accepted'"
        ).fetchone()
    if recipients != n:
        raise SystemExit(f"FAILED: the ledger records {recipients} accepted recipients, not {n}")
    return Run(
        finished.wall,
        finished.cpu,
        finished.rss_mb,
        finished.tree_mb,
        requests,
        n,
        server_cpu,
        server_rss,
    )


def run_bare(folder: Path, env: dict[str, str], n: int) -> Run:
    duplicates = len(duplicate_sources(n))
    server = Server(env)
    try:
        command = [sys.executable, str(Path(__file__).resolve()), "--bare"]
        command += [str(folder / "subscribers.csv"), server.url]
        finished = run_measured(command, folder, env, "bare sender")
        accepted = server.accepted()
    finally:
        server_cpu, server_rss = server.stop()
    verify("bare sender", accepted, n, duplicates)
    counts = json.loads(finished.stdout.strip().splitlines()[-1])
    if counts["recipients"] != n + duplicates:
        raise SystemExit(f"FAILED: the bare sender sent {counts['recipients']} recipients")
    return Run(
        finished.wall,
        finished.cpu,
        finished.rss_mb,
        finished.tree_mb,
        counts["requests"],
        counts["recipients"],
        server_cpu,
        server_rss,
        counts["first_bytes"],
    )


def summarize(runs: list[Run]) -> Run:
    """Medians of times, maxima of memory over the repeats."""
    return Run(
        wall=statistics.median(r.wall for r in runs),
        cpu=statistics.median(r.cpu for r in runs),
        rss_mb=max(r.rss_mb for r in runs),
        tree_mb=max(r.tree_mb for r in runs),
        requests=runs[0].requests,
        recipients=runs[0].recipients,
        server_cpu=statistics.median(r.server_cpu for r in runs),
        server_rss_mb=max(r.server_rss_mb for r in runs),
        first_request_bytes=runs[0].first_request_bytes,
    )


# -- output --------------------------------------------------------------------------------

HEADER = (
    f"{'size':>9}  {'sender':<12} {'wall s':>8} {'recipients/s':>13} {'requests':>8} "
    f"{'peak RSS MB':>11} {'tree MB':>7} {'CPU s':>7} {'server CPU s':>12}"
)


def row(n: int, label: str, run: Run) -> str:
    return (
        f"{n:>9,}  {label:<12} {run.wall:>8.2f} {run.recipients / run.wall:>13,.0f} "
        f"{run.requests:>8,} {run.rss_mb:>11.1f} {run.tree_mb:>7.1f} {run.cpu:>7.2f} "
        f"{run.server_cpu:>12.2f}"
    )


def preamble(sizes: list[int], repeat: int, launcher_mb: float) -> None:
    print("digest send benchmark: `digest send` (ours) against a bare batched sender (floor)")
    print(
        f"python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs; sizes {', '.join(f'{n:,}' for n in sizes)}; "
        f"repeat {repeat} (median wall/CPU, max RSS)"
    )
    print(
        "figures are the sending command's (os.wait4: wall, user+sys CPU including its worker "
        "processes, ru_maxrss of the\n  largest process); tree MB: peak summed PSS of the "
        f"command and its workers, sampled every 0.1 s. launcher RSS {launcher_mb:.1f} MB\n"
        "  (a peak RSS at or below it means 'at most this')"
    )
    print(
        "server: python -m tests.sendgrid_server --fast, a fresh process per run, on this "
        "machine. --fast SKIPS the JSON Schema\n  validation of each request (the hand-written "
        "SendGrid limit checks still run), so the server costs less than in the tests."
    )
    print(
        "data: N distinct active readers + 0.1% unsubscribed rows + "
        f"{DUPLICATES} case duplicates (when N > {DUPLICATE_GAP:,}). ours validates, dedupes,\n"
        "  ledgers and signs an unsubscribe URL per recipient (2 substitutions + 2 headers each)"
        " and sends with its\n  configured concurrency; the floor sends every active row "
        "(duplicates included), 1 substitution each, sequentially."
    )
    print(f"CSV cache: {CACHE}\n", flush=True)


def report(
    results: dict[int, tuple[Run, Run]], spreads: dict[int, tuple[list[Run], list[Run]]]
) -> bool:
    print("\n" + HEADER)
    for n, (ours, floor) in results.items():
        print(row(n, "digest send", ours))
        print(row(n, "floor", floor))
    print("\nours / floor:")
    for n, (ours, floor) in results.items():
        print(
            f"  {n:>9,}: wall {ours.wall / floor.wall:.2f}x, CPU {ours.cpu / floor.cpu:.2f}x, "
            f"peak tree memory {ours.tree_mb / floor.tree_mb:.2f}x"
        )
    print("\nwall s, run by run (each floor run just before its `digest send` run):")
    for n, (ours_runs, floor_runs) in spreads.items():
        pairs = list(zip(ours_runs, floor_runs, strict=True))
        print(f"  {n:>9,}: ours  {' '.join(f'{o.wall:5.2f}' for o, _ in pairs)}")
        print(f"  {'':>9}  floor {' '.join(f'{f.wall:5.2f}' for _, f in pairs)}")
        print(f"  {'':>9}  ratio {' '.join(f'{o.wall / f.wall:5.2f}' for o, f in pairs)}")
    print("\ntargets:")
    passed = True
    for n, max_ratio, max_rss in TARGETS:
        if n not in results:
            print(f"  {n:>9,}: not measured (add it to --sizes)")
            continue
        ours, floor = results[n]
        ratio = ours.wall / floor.wall
        ok = ratio <= max_ratio
        passed &= ok
        print(
            f"  {'PASS' if ok else 'FAIL'}  {n:>9,}: wall within {max_ratio}x of the floor "
            f"(measured {ratio:.2f}x: {ours.wall:.2f} s vs {floor.wall:.2f} s)"
        )
        if max_rss is not None:
            ok = ours.tree_mb < max_rss
            passed &= ok
            print(
                f"  {'PASS' if ok else 'FAIL'}  {n:>9,}: peak memory under {max_rss:.0f} MB "
                f"(measured {ours.tree_mb:.1f} MB, all processes; the largest alone "
                f"{ours.rss_mb:.1f} MB)"
            )
    return passed


@contextmanager
def runs_folder(keep: bool) -> Iterator[Path]:
    """A temporary parent for the run's newsletter folders, removed unless ``keep``."""
    CACHE.mkdir(parents=True, exist_ok=True)
    parent = Path(tempfile.mkdtemp(prefix="runs-", dir=CACHE))
    try:
        yield parent
    finally:
        if keep:
            print(f"\nkept the newsletter folders in {parent}")
        else:
            shutil.rmtree(parent, ignore_errors=True)


def benchmark(sizes: list[int], repeat: int, keep: bool) -> bool:
    env = clean_env()
    # As pip leaves an install: bytecode compiled, whatever PYTHONDONTWRITEBYTECODE says.
    compileall.compile_dir(ROOT / "digest", quiet=1)
    preamble(sizes, repeat, launcher_rss_mb(env))
    results: dict[int, tuple[Run, Run]] = {}
    spreads: dict[int, tuple[list[Run], list[Run]]] = {}
    with runs_folder(keep) as parent:
        for n in sizes:
            started = time.perf_counter()
            subscribers_csv(n)
            folder = make_folder(n, parent, env)
            ours_runs, floor_runs = [], []
            for _ in range(repeat):
                floor_runs.append(run_bare(folder, env, n))
                ours_runs.append(run_ours(folder, env, n))
            floor = summarize(floor_runs)
            results[n] = (summarize(ours_runs), floor)
            spreads[n] = (ours_runs, floor_runs)
            print(
                f"{n:>9,}: verified (the server accepted each reader exactly once from both "
                f"senders; floor request {floor.first_request_bytes / 1e3:.0f} kB) "
                f"[{time.perf_counter() - started:.0f} s]",
                flush=True,
            )
    return report(results, spreads)


def parse_sizes(text: str) -> list[int]:
    sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes are positive integers, comma-separated")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help="comma-separated subscriber counts (default 10000,100000,1000000)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per sender and size")
    parser.add_argument("--keep", action="store_true", help="keep the newsletter folders")
    parser.add_argument(
        "--bare", nargs=2, metavar=("CSV", "URL"), help=argparse.SUPPRESS
    )  # the floor's own process
    args = parser.parse_args()
    if args.bare:
        bare_send(Path(args.bare[0]), args.bare[1])
        return
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    sys.exit(0 if benchmark(args.sizes, args.repeat, args.keep) else 1)


if __name__ == "__main__":
    main()
