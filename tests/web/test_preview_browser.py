"""The editor's preview in real headless Chromium, against a real `digest preview` process.

One preview serves the module, in a folder made by `digest init`, sending tests to the
local SendGrid stand-in; each test leaves the folder's files as it found them. With
``--update-docs`` the first test writes README's screenshot, docs/preview.png.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Frame, Page, sync_playwright

from tests.sendgrid_server import SendGridServer, start_server
from tests.web.preview_helpers import CHROMIUM_ARGS, PreviewServer, preview_env, start_preview
from tests.web.web_helpers import make_folder, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "preview.png"
API_KEY = "SG.preview-test-key"
PICTURES_SHOWN = "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
FEATURED = "TAG and AMPTP to Discuss AI, Job Security, and Outsourcing in New Agreement"


@pytest.fixture(scope="module")
def sendgrid() -> Iterator[SendGridServer]:
    server, _ = start_server(api_key=API_KEY)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def preview(
    tmp_path_factory: pytest.TempPathFactory, sendgrid: SendGridServer
) -> Iterator[PreviewServer]:
    root = tmp_path_factory.mktemp("preview")
    folder = make_folder(root / "newsletter")
    env = preview_env(SENDGRID_API_KEY=API_KEY, DIGEST_SENDGRID_HOST=sendgrid.url)
    with (root / "preview.log").open("w", encoding="utf-8") as log:
        running = start_preview(folder, log, env)
        yield running
        running.stop()


@pytest.fixture(scope="module")
def page(preview: PreviewServer) -> Iterator[Page]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        tab = chromium.new_page(viewport={"width": 1440, "height": 1000})
        tab.goto(f"{preview.base}/")
        email_frame(tab, "desktop").wait_for_selector("h1")
        yield tab
        chromium.close()


def email_frame(page: Page, name: str) -> Frame:
    """The frame showing the email (``desktop`` or ``phone``), once it has a document."""
    wait_until(lambda: _frame(page, name) is not None)
    frame = _frame(page, name)
    assert frame is not None
    return frame


def in_frame(page: Page, name: str, script: str) -> Any:
    """``script``'s value in the frame, or None while the frame is between two documents
    (a new render or scheme loads a new one)."""
    try:
        return email_frame(page, name).evaluate(script)
    except PlaywrightError:
        return None


def _frame(page: Page, name: str) -> Frame | None:
    element = page.query_selector(f"#{name}")
    frame = element.content_frame() if element else None
    return frame if frame is not None and "/email?" in frame.url else None


def edit(path: Path, old: str, new: str) -> str:
    """Replace ``old`` by ``new`` in the file, as an editor saves it; the text before."""
    before = path.read_text(encoding="utf-8")
    assert old in before
    path.write_text(before.replace(old, new), encoding="utf-8")
    return before


def test_the_page_shows_both_frames_the_text_part_and_the_envelope(
    page: Page, preview: PreviewServer, request: pytest.FixtureRequest
) -> None:
    widths = page.evaluate(
        "['desktop', 'phone'].map((id) => document.getElementById(id).clientWidth)"
    )
    assert widths[0] >= 600 and widths[1] == 375
    for name in ("desktop", "phone"):
        assert FEATURED in email_frame(page, name).inner_text("h1")
    page.locator("#text", has_text="MORE POSTS").wait_for()
    assert page.inner_text("#subject") == FEATURED
    assert page.inner_text("#sender") == (
        "FTV Consulting Insights <insights@ftvconsulting.example.com>"
    )
    assert page.inner_text("#edition") == "2026-11-27"
    assert page.locator("#teasers li").count() == 9
    assert 30 < page.eval_on_selector("#gauge", "g => g.value") < 90
    if request.config.getoption("--update-docs"):
        for name in ("desktop", "phone"):
            wait_until(lambda: in_frame(page, name, PICTURES_SHOWN))  # noqa: B023
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))


def test_the_phone_frame_has_no_sideways_scroll(page: Page) -> None:
    widths = email_frame(page, "phone").evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert widths[1] == 375 and widths[0] <= widths[1]


def test_the_example_pictures_come_from_the_folder(page: Page) -> None:
    images = email_frame(page, "desktop").evaluate(
        "Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth])"
    )
    assert len(images) == 10
    for source, width in images:
        assert source.startswith("/images/") and width == 1200


def test_the_dark_switch_shows_the_email_in_dark_mode(page: Page) -> None:
    script = "getComputedStyle(document.querySelector('.card')).backgroundColor"
    light = in_frame(page, "desktop", script)
    assert light == "rgb(255, 255, 255)"
    page.click("#dark")
    wait_until(lambda: in_frame(page, "desktop", script) == "rgb(26, 29, 35)")
    page.click("#light")
    wait_until(lambda: in_frame(page, "desktop", script) == light)


def test_a_template_change_shows_within_a_second_without_a_reload(
    page: Page, preview: PreviewServer
) -> None:
    page.evaluate("window.notReloaded = true")
    header = preview.folder / "templates" / "partials" / "header.mjml.j2"
    name = "{{ newsletter.name }}</a>"
    delays = []
    try:
        for n in range(3):
            started = time.perf_counter()
            edit(header, name if n == 0 else f"Edited {n - 1}</a>", f"Edited {n}</a>")
            page.frame_locator("#desktop").get_by_text(f"Edited {n}", exact=True).wait_for()
            delays.append(time.perf_counter() - started)
    finally:
        edit(header, "Edited 2</a>", name)
    assert page.evaluate("window.notReloaded") is True
    print(f"save to new render: {[round(d, 3) for d in delays]} s")
    assert min(delays) < 1.0, delays


def test_a_broken_template_shows_its_error_then_recovers(
    page: Page, preview: PreviewServer
) -> None:
    page.evaluate("window.notReloaded = true")
    featured = preview.folder / "templates" / "partials" / "featured.mjml.j2"
    before = edit(featured, "{% if featured.image %}", "{% if featured.image %}{% if %}")
    try:
        page.wait_for_selector("#error:not([hidden])")
        error = page.inner_text("#error")
        assert "templates/partials/featured.mjml.j2:5" in error, error
        assert FEATURED in email_frame(page, "desktop").inner_text("h1"), "the last good one"
    finally:
        featured.write_text(before, encoding="utf-8")
    page.wait_for_selector("#error", state="hidden")
    assert FEATURED in email_frame(page, "desktop").inner_text("h1")
    assert page.evaluate("window.notReloaded") is True
    assert preview.process.poll() is None


def test_the_reader_picker_shows_the_email_as_any_reader_gets_it(page: Page) -> None:
    page.fill("#search", "grace")
    found = page.locator("#readers button")
    wait_until(lambda: found.count() == 1)  # the search's answer, not the first page's
    assert found.inner_text() == "Grace Hopper <grace@example.com> · company: Harvard Mark I"
    found.click()
    page.frame_locator("#desktop").get_by_text("Hi Grace,", exact=False).wait_for()
    assert page.inner_text("#reader") == "Grace Hopper <grace@example.com>"
    page.fill("#search", "")


def test_a_test_send_from_the_page_reaches_sendgrid(
    page: Page, preview: PreviewServer, sendgrid: SendGridServer
) -> None:
    page.fill("#to", "editor@example.com")
    page.click("#test button")
    page.locator("#sent", has_text="Sent").wait_for()
    assert page.inner_text("#sent") == "Sent a test of edition 2026-11-27 to 1 address."
    (request,) = [r for r in sendgrid.requests if "editor@example.com" in r.recipients]
    assert request.body["subject"] == f"[TEST] {FEATURED}"


class _Attacker(BaseHTTPRequestHandler):
    """A page of another origin that posts a form to the preview's test send."""

    target = ""

    def do_GET(self) -> None:
        body = (
            f'<form method="post" action="{self.target}/test-send" enctype="text/plain">'
            '<input name=\'{"to": ["victim@example.com"], "x": "\' value=\'"}\'></form>'
            "<script>document.forms[0].submit()</script>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return


def test_a_cross_origin_test_send_is_refused_and_logged(
    page: Page, preview: PreviewServer, sendgrid: SendGridServer
) -> None:
    _Attacker.target = preview.base
    attacker = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    Thread(target=attacker.serve_forever, daemon=True).start()
    browser = page.context.browser
    assert browser is not None
    other = browser.new_page()
    try:
        with other.expect_response(f"{preview.base}/test-send") as answer:
            other.goto(f"http://127.0.0.1:{attacker.server_port}/")
        assert answer.value.status == 403
    finally:
        other.close()
        attacker.shutdown()
    assert "victim@example.com" not in sendgrid.accepted_recipients()
    assert "refused a test send" in preview.log_text()
    # With the page's own token, another Origin is refused all the same.
    token = preview.token()
    body = json.dumps({"to": ["victim@example.com"]}).encode()
    headers = {"Content-Type": "application/json", "X-Digest-Token": token}
    assert preview.post_test(body, {**headers, "Origin": "http://evil.example"}).status == 403
    assert preview.post_test(body, {**headers, "Origin": preview.base}).status == 200
    assert "victim@example.com" in sendgrid.accepted_recipients(), "the same request, same origin"
