"""The unsubscribe endpoint over real HTTP: a `digest unsubscribe serve` process, a real ledger.

One server serves the whole module (each test uses its own readers); its stderr is
the request log the last tests read.
"""

from __future__ import annotations

import html
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from digest.audience.tokens import UnsubscribeTokens
from tests.ledger.ledger_helpers import HOLD_WRITE_LOCK, run_python
from tests.web.web_helpers import (
    DROPPED,
    NAME,
    RETIRED,
    Answer,
    Server,
    call,
    make_folder,
    one_click,
    one_click_multipart,
    serving_env,
    start_server,
    status_of_partial_post,
)

pytestmark = pytest.mark.slow

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("endpoint")
    folder = make_folder(root / "newsletter")
    with (root / "server.log").open("w", encoding="utf-8") as log:
        running = start_server(folder, log, serving_env())
        yield running
        running.stop()


def assert_safe_page(answer: Answer) -> None:
    """Self-contained HTML with the security headers: it loads nothing, is never framed."""
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value, name
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["content-type"].startswith("text/html")
    assert not re.search(r"(src|href)=|url\(|@import", answer.text)


def test_one_click_form_urlencoded_unsubscribes_at_once(server: Server) -> None:
    answer = one_click(server.link("ada@example.com"))

    assert answer.status == 200
    assert answer.headers["location"] is None
    assert f"You are unsubscribed from {NAME}" in answer.text
    assert server.recorded()["ada@example.com"][1] == "one-click"
    assert_safe_page(answer)


def test_one_click_multipart_unsubscribes_too(server: Server) -> None:
    answer = one_click_multipart(server.link("bea@example.com"))

    assert answer.status == 200
    assert server.recorded()["bea@example.com"][1] == "one-click"


def test_the_address_is_matched_lowercased(server: Server) -> None:
    assert one_click(server.link("Cleo.Smith@Example.COM")).status == 200
    assert "cleo.smith@example.com" in server.recorded()


def test_get_shows_the_reader_and_a_button_and_never_unsubscribes(server: Server) -> None:
    link = server.link("grace@example.com")
    for method in ("GET", "HEAD", "GET"):
        assert call(link, method).status == 200
    page = call(link)

    assert "grace@example.com" not in server.recorded()
    assert f"<title>Unsubscribe from {NAME}</title>" in page.text
    assert "g***@example.com" in page.text and "grace" not in page.text
    assert_safe_page(page)

    # The button, as a browser submits it: the form's fields, to the page's own URL.
    form = re.search(r"<form ([^>]*)>(.*?)</form>", page.text)
    assert form is not None and 'method="post"' in form.group(1)
    assert "action" not in form.group(1)
    fields = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2))
    )
    body = urlencode({k: html.unescape(v) for k, v in fields.items()}).encode()
    done = call(link, "POST", body, {"Content-Type": "application/x-www-form-urlencoded"})

    assert done.status == 200
    assert f"You are unsubscribed from {NAME}" in done.text
    assert "g***@example.com will get no more emails" in done.text
    assert server.recorded()["grace@example.com"][1] == "page"


def test_repeat_posts_all_succeed_and_the_first_is_kept(server: Server) -> None:
    link = server.link("hedy@example.com")
    first = one_click(link)
    when = server.recorded()["hedy@example.com"]
    time.sleep(0.01)
    repeats = [one_click(link), one_click_multipart(link), call(link, "POST", b"")]

    assert [a.status for a in (first, *repeats)] == [200, 200, 200, 200]
    assert server.recorded()["hedy@example.com"] == when
    assert when[1] == "one-click"


def forgeries(server: Server) -> dict[str, str]:
    """Links that name nobody: made up, cut short, altered, or made under an unknown key."""
    token = UnsubscribeTokens("not-this-newsletters-secret").make("ivy@example.com")
    real = server.link("ivy@example.com")
    real_token = real.rpartition("=")[2]
    flipped = real_token[:20] + ("A" if real_token[20] != "A" else "B") + real_token[21:]
    return {
        "made up": server.link_with("ivy-at-example-com-please-unsubscribe-me"),
        "cut short": server.link_with(real_token[:-3]),
        "altered": server.link_with(flipped),
        "unknown key": server.link_with(token),
        "no token": f"{server.base}/unsubscribe",
        "empty token": f"{server.base}/unsubscribe?token=",
        "address as token": server.link_with("ivy@example.com"),
        "far too long": server.link_with("A" * 5000),
    }


def test_a_forged_cut_altered_or_foreign_token_gets_a_400_and_records_nothing(
    server: Server,
) -> None:
    before = server.recorded()
    for kind, link in forgeries(server).items():
        for answer in (call(link), one_click(link), one_click_multipart(link)):
            assert answer.status == 400, kind
            assert "This unsubscribe link does not work" in answer.text, kind
            assert_safe_page(answer)
    assert server.recorded() == before


def test_a_token_of_a_retired_secret_works_one_of_a_dropped_secret_does_not(
    server: Server,
) -> None:
    retired = server.link("jane@example.com", UnsubscribeTokens(RETIRED))
    dropped = server.link("kate@example.com", UnsubscribeTokens(DROPPED))

    assert one_click(retired).status == 200
    assert one_click(dropped).status == 400
    recorded = server.recorded()
    assert "jane@example.com" in recorded and "kate@example.com" not in recorded


def test_an_oversized_body_is_refused_before_it_is_read(server: Server) -> None:
    link = server.link("lena@example.com")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    # 100 KB announced, 26 bytes sent: the answer comes without the rest.
    declared = status_of_partial_post(
        link, {**form, "Content-Length": "100000"}, b"List-Unsubscribe=One-Click"
    )
    # No length announced: one 9000-byte chunk, and the body is not over yet.
    chunk = b"List-Unsubscribe=One-Click&x=" + b"y" * (9000 - 29)
    chunked = status_of_partial_post(
        link, {**form, "Transfer-Encoding": "chunked"}, b"2328\r\n" + chunk + b"\r\n"
    )
    large = call(link, "POST", b"x" * 9000, form)

    assert (declared, chunked, large.status) == (413, 413, 413)
    assert_safe_page(large)
    assert "lena@example.com" not in server.recorded()


def test_only_get_and_post_are_served_and_other_paths_are_404(server: Server) -> None:
    link = server.link("mia@example.com")
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
        answer = call(link, method, b"List-Unsubscribe=One-Click")
        assert answer.status == 405, method
        assert set(answer.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "POST"}
    assert call(f"{server.base}/").status == 404
    assert call(link.replace("/unsubscribe?", "/unsubscribe/x?"), "POST").status == 404
    assert "mia@example.com" not in server.recorded()


def test_the_health_route_says_ok(server: Server) -> None:
    answer = call(f"{server.base}/healthz")
    assert (answer.status, answer.text) == (200, "ok")


def test_a_post_while_a_send_holds_the_write_lock_waits_and_succeeds(server: Server) -> None:
    database = server.folder / ".digest" / "state.db"
    holder = run_python(HOLD_WRITE_LOCK, str(database), "2", stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        answer = one_click(server.link("nora@example.com"))
        waited = time.monotonic() - started
    finally:
        holder.wait(timeout=60)
    assert answer.status == 200
    assert 1.0 < waited < 30
    assert "nora@example.com" in server.recorded()


def test_the_log_has_one_line_a_request_and_never_a_token_or_an_address(server: Server) -> None:
    before = len(server.settled_log_lines())  # earlier tests' last lines may still be coming
    link = server.link("olga@example.com")
    call(link)
    one_click(link)
    call(f"{server.base}/unsubscribe?token=%0Afake%20line")
    call(f"{server.base}/nowhere%0Ainjected")

    lines = server.log_lines(at_least=before + 4)
    assert len(lines) == before + 4
    shape = re.compile(r"\S+ \S+ (GET|POST) /\S* \d{3} [\d.]+ms")
    assert all(shape.fullmatch(line) for line in lines[before:]), lines[before:]
    assert [line.split()[2:5] for line in lines[before:]] == [
        ["GET", "/unsubscribe", "200"],
        ["POST", "/unsubscribe", "200"],
        ["GET", "/unsubscribe", "400"],
        ["GET", "/nowhere\\ninjected", "404"],
    ]
    log = "\n".join(lines)
    assert "@" not in log and "token" not in log
    leaked = [used for used in server.used if used in log]
    assert leaked == []


def test_the_server_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "newsletter")
    with (tmp_path / "server.log").open("w", encoding="utf-8") as log:
        running = start_server(folder, log, serving_env())
        assert one_click(running.link("pia@example.com")).status == 200
        running.stop()
    # uvicorn ends by re-raising the signal it handled, as systemd expects of a clean stop.
    assert running.process.returncode in (0, -signal.SIGTERM)
    assert "Traceback" not in running.log.read_text(encoding="utf-8")
