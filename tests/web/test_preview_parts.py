"""The preview's parts without a browser: the frames' rewrites, the folder's pictures, the
list paged and searched without reading it whole, the loopback rule, a port taken."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from digest.app import App
from digest.config import Settings, load_settings
from digest.errors import WebError
from digest.web.frames import FRAME_CSP, in_scheme, links_outside
from digest.web.images import local_images, used_images
from digest.web.preview import check_loopback, make_preview
from digest.web.workbench import READERS_A_PAGE, Workbench
from tests.web.preview_helpers import NOW, preview_env, start_preview
from tests.web.web_helpers import asgi_call, make_folder

SITE = "https://news.example.com"
STYLED = (
    "<html><head><style>@media (prefers-color-scheme: dark) { .card { color: white } }"
    "@media only screen and (PREFERS-COLOR-SCHEME : light) { .card { color: black } }"
    "</style></head><body><a href='https://x.example/'>x</a></body></html>"
)


def test_the_dark_frame_turns_dark_rules_on_and_light_ones_off() -> None:
    dark = in_scheme(STYLED, "dark")
    assert "@media (min-width: 0px) { .card { color: white } }" in dark
    assert "@media only screen and (max-width: 0px) and (min-width: 1px)" in dark
    assert "<head><style>:root{color-scheme:only dark !important}</style>" in dark
    light = in_scheme(STYLED, "light")
    assert "@media (max-width: 0px) and (min-width: 1px) { .card { color: white } }" in light
    assert "only light" in light
    with pytest.raises(ValueError):
        in_scheme(STYLED, "sepia")


def test_links_open_outside_the_frame() -> None:
    assert links_outside(STYLED).startswith('<html><head><base target="_blank"><style>')
    assert links_outside("<p>no head</p>") == '<base target="_blank"><p>no head</p>'


def test_only_pictures_in_the_folder_are_linked_locally(tmp_path: Path) -> None:
    (tmp_path / "a b.jpg").write_bytes(b"jpeg")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.png").write_bytes(b"png")
    (tmp_path / ".hidden.jpg").write_bytes(b"secret")
    html = " ".join(
        f'<img src="{SITE}/images/{path}">'
        for path in ("a%20b.jpg", "sub/c.png", "missing.jpg", "../x.jpg", ".hidden.jpg", "sub")
    )
    local = local_images(html, SITE, tmp_path, lambda path: f"/images/{path}")
    assert local.count('src="/images/') == 2
    assert '"/images/a%20b.jpg"' in local and '"/images/sub/c.png"' in local
    for kept in ("missing.jpg", "../x.jpg", ".hidden.jpg", 'sub"'):
        assert f"{SITE}/images/{kept}" in local
    assert sorted(used_images(html, SITE, tmp_path)) == ["a%20b.jpg", "sub/c.png"]
    assert local_images(html, "https://other.example", tmp_path, str.upper) == html


# What digest.toml holds for the bench below: a test may change it.
SETTINGS: list[Settings] = []


@pytest.fixture
def bench(tmp_path: Path) -> Workbench:
    folder = make_folder(tmp_path / "newsletter")
    rows = [f"reader{n}@example.com,Reader {n},active" for n in range(100_000)]
    rows.insert(50_000, "needle@example.com,Ada Needle,active")
    (folder / "subscribers.csv").unlink()
    (folder / "subscribers.csv").write_text("email,name,status\n" + "\n".join(rows) + "\n")
    SETTINGS[:] = [load_settings(folder / "digest.toml", {})]
    app = App.start(SETTINGS[0], {}, now=None, quiet=True)
    return Workbench(app, folder / "digest.toml", lambda: SETTINGS[0])


def test_the_reader_picker_pages_and_searches_without_reading_the_list_whole(
    bench: Workbench,
) -> None:
    first, more = bench.readers("", 0)
    assert [r.email for r in first][:2] == ["reader0@example.com", "reader1@example.com"]
    assert len(first) == READERS_A_PAGE and more
    second, _ = bench.readers("", 1)
    assert second[0].email == f"reader{READERS_A_PAGE}@example.com"
    tracemalloc.start()
    found, more = bench.readers("NEEDLE", 0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [r.name for r in found] == ["Ada Needle"] and not more
    assert peak < 2_000_000, "the 4 MB list is read row by row"
    assert bench.reader("Needle@Example.com") is found[0]


def test_a_render_with_a_bad_config_keeps_the_last_email_and_says_why(bench: Workbench) -> None:
    good = bench.refresh()
    assert good.error == "" and good.email is not None
    settings = good.app.settings
    broken = replace(settings, source=replace(settings.source, location="gone.xml"))
    SETTINGS[0] = broken  # digest.toml now names a feed that is not there
    failed = bench.refresh()
    assert "gone.xml: no such feed file" in failed.error
    assert failed.email is good.email and failed.version == good.version + 1
    seen = bench.look(failed, "reader7@example.com")
    assert seen is not None and seen.reader.email == "reader7@example.com"
    assert "Hi Reader, here" in seen.email.html  # the greeting by the first name, filled


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_hosts_are_taken(host: str) -> None:
    check_loopback(host)


def test_any_other_host_is_refused() -> None:
    with pytest.raises(WebError, match=r"loopback only, not on 0\.0\.0\.0"):
        check_loopback("0.0.0.0")


@pytest.mark.slow
def test_the_command_refuses_a_public_host_and_a_taken_port_in_one_line(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "newsletter")

    def preview(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "digest", "preview", "--now", NOW, *args]
        return subprocess.run(
            command, cwd=folder, env=preview_env(), capture_output=True, text=True, timeout=60
        )

    public = preview("--host", "0.0.0.0")
    assert public.returncode == 1 and public.stdout == ""
    assert public.stderr.startswith("error: the preview listens on this machine's loopback only")
    assert len(public.stderr.splitlines()) == 1
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = preview("--port", str(port))
    assert busy.returncode == 1
    (line,) = busy.stderr.splitlines()
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{port}: Address already in use")
    assert "choose another --host or --port" in line


def test_every_route_answers_its_own_host_only_with_its_own_policy(bench: Workbench) -> None:
    bench.refresh()
    preview, app = make_preview(bench)
    host = [("Host", "127.0.0.1:8123")]
    assert asgi_call(app, "GET", "/", headers=host).status == 403, "before it listens"
    preview.listening("http://127.0.0.1:8123")
    for wrong in ("evil.example", "127.0.0.1:8124", "rebound.example:8123"):
        assert asgi_call(app, "GET", "/state", headers=[("Host", wrong)]).status == 403
    page = asgi_call(app, "GET", "/", headers=host)
    assert page.status == 200 and preview.token in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'sha256-" in page.headers["content-security-policy"]
    frame = asgi_call(app, "GET", "/email", query="scheme=dark", headers=host)
    assert frame.status == 200 and "only dark" in frame.text
    assert frame.headers["content-security-policy"] == FRAME_CSP
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    assert asgi_call(app, "GET", "/email", query="scheme=x", headers=host).status == 400


def test_a_test_send_needs_the_token_the_origin_and_json(bench: Workbench) -> None:
    preview, app = make_preview(bench)
    preview.listening("http://127.0.0.1:8123")
    good = {
        "Host": "127.0.0.1:8123",
        "Origin": "http://127.0.0.1:8123",
        "Content-Type": "application/json",
        "X-Digest-Token": preview.token,
    }
    body = [b'{"to": ["editor@example.com"]}']
    for changed in (
        {"X-Digest-Token": preview.token[:-1]},
        {"X-Digest-Token": ""},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Content-Type": "text/plain"},
    ):
        headers = list({**good, **changed}.items())
        answer = asgi_call(app, "POST", "/test-send", chunks=body, headers=headers)
        assert answer.status == 403, changed
    no_origin = [(k, v) for k, v in good.items() if k != "Origin"]
    assert asgi_call(app, "POST", "/test-send", chunks=body, headers=no_origin).status == 403
    too_many = [json.dumps({"to": [f"r{n}@example.com" for n in range(11)]}).encode()]
    answer = asgi_call(app, "POST", "/test-send", chunks=too_many, headers=list(good.items()))
    assert answer.status == 400 and "at most 10 addresses" in answer.text


@pytest.mark.slow
def test_ctrl_c_stops_the_preview_at_once_with_its_event_stream_open(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "newsletter")
    with (tmp_path / "preview.log").open("w", encoding="utf-8") as log:
        server = start_preview(folder, log, preview_env())
        parts = urlsplit(server.base)
        stream = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        stream.request("GET", "/events")
        answer = stream.getresponse()
        assert answer.readline() == b"event: render\n"
        started = time.monotonic()
        server.process.send_signal(signal.SIGINT)
        server.process.wait(timeout=30)
        stopped = time.monotonic() - started
        stream.close()
    assert stopped < 4, f"{stopped:.1f} s"
    assert "Traceback" not in server.log_text() and "Error" not in server.log_text()
