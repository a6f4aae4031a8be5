"""Benchmark the preview's live reload: from a template save to the new render on the page.

Run from the repository root: ``python benchmarks/preview.py [--saves N]``. It makes a
fresh folder with `digest init --example`, starts `digest preview --port 0` on it, opens the page
in headless Chromium (Debian's /usr/bin/chromium) and then, N times, saves the header
template with a new word in it and waits until the desktop frame shows that word. Each
save is split where the time goes, from timestamps on one clock (the machine's):

- **watch**: the save until the render starts (the file watcher's event and its
  30 ms of quiet, then a worker thread);
- **render**: reading the source and rendering the email (the server's own figure);
- **push**: the render's end until the page hears of it (server-sent event);
- **state**: the event until the page has the new state (``/state``: the email as the
  reader picked sees it, and its warnings) and has pointed the frames at the new email;
- **paint**: until the frame shows the word (the frame loads the email, Chromium lays it
  out and paints it, and Playwright sees it).

Target: the median total under one second.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.web.preview_helpers import CHROMIUM_ARGS, preview_env, start_preview  # noqa: E402

HEADER = Path("templates") / "partials" / "header.mjml.j2"
NAME = "{{ newsletter.name }}</a>"
TARGET_SECONDS = 1.0


def one_save(page: Page, folder: Path, base: str, n: int, previous: str) -> dict[str, float]:
    """Save the header with word ``n`` in it; the phases of its way to the page, in seconds."""
    page.evaluate("window.pushed = 0; window.stated = 0")
    header = folder / HEADER
    word = f"Saved{n}</a>"
    saved = time.time()
    header.write_text(header.read_text(encoding="utf-8").replace(previous, word), encoding="utf-8")
    page.frame_locator("#desktop").get_by_text(f"Saved{n}", exact=True).wait_for()
    shown = time.time()
    pushed, stated = (stamp / 1000 for stamp in page.evaluate("[window.pushed, window.stated]"))
    with urllib.request.urlopen(f"{base}/state") as answer:
        rendered = json.load(answer)["rendered"]
    started, seconds = rendered["started"], rendered["seconds"]
    return {
        "watch": started - saved,
        "render": seconds,
        "push": pushed - (started + seconds),
        "state": stated - pushed,
        "paint": shown - stated,
        "total": shown - saved,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saves", type=int, default=10)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "newsletter"
        digest = Path(sys.executable).with_name("digest")
        subprocess.run(
            [str(digest), "init", "--example", str(folder)], check=True, stdout=subprocess.DEVNULL
        )
        with (Path(temporary) / "preview.log").open("w") as log:
            server = start_preview(folder, log, preview_env())
            try:
                runs = measure(server.base, folder, options.saves)
            finally:
                server.stop()
    report(runs)


def measure(base: str, folder: Path, saves: int) -> list[dict[str, float]]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(f"{base}/")
        page.frame_locator("#desktop").locator("h1").wait_for()
        # Time stamps at the page's own steps: the event arrives, load() has the state.
        page.evaluate(
            "events.addEventListener('render', () => { window.pushed = Date.now(); });"
            "const loading = load;"
            "load = async () => { await loading(); window.stated = Date.now(); };"
        )
        runs, previous = [], NAME
        for n in range(saves):
            runs.append(one_save(page, folder, base, n, previous))
            previous = f"Saved{n}</a>"
            time.sleep(0.3)  # a pause, as between an editor's saves
        browser.close()
    return runs


def report(runs: list[dict[str, float]]) -> None:
    phases = ("watch", "render", "push", "state", "paint", "total")
    print(f"{len(runs)} saves of {HEADER} on the example; milliseconds")
    print(f"{'':8}" + "".join(f"{phase:>9}" for phase in phases))
    for label, pick in (("median", statistics.median), ("min", min), ("max", max)):
        values = [pick([run[phase] for run in runs]) * 1000 for phase in phases]
        print(f"{label:8}" + "".join(f"{value:9.0f}" for value in values))
    total = statistics.median(run["total"] for run in runs)
    verdict = "PASS" if total < TARGET_SECONDS else "FAIL"
    print(f"{verdict}: median save-to-page {total * 1000:.0f} ms (target under 1000 ms)")
    sys.exit(0 if verdict == "PASS" else 1)


if __name__ == "__main__":
    main()
