"""The unsubscribe endpoint's start: what it refuses to serve, each in one line, and the same
app as an ASGI factory under uvicorn's own command line. Pages called as ASGI."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.config import load_settings
from digest.errors import ConfigError
from digest.ledger import Ledger
from digest.web.unsubscribe import endpoint_path, make_app, mask
from tests.web.web_helpers import (
    CURRENT,
    SECRET,
    asgi_call,
    call,
    clean_env,
    make_folder,
    one_click,
    wait_until,
)

T0 = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
UVICORN_FACTORY = [
    sys.executable,
    "-m",
    "uvicorn",
    "--factory",
    "digest.web.unsubscribe:create_app",
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "newsletter")


def serve_in(folder: Path, *args: str, **env: str) -> Result:
    """`digest unsubscribe serve` run in ``folder``: only for starts that must fail."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        cleared = {name: "" for name in os.environ if name.startswith("DIGEST_")}
        return CliRunner().invoke(cli, ["unsubscribe", "serve", *args], env={**cleared, **env})
    finally:
        os.chdir(previous)


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_without_the_secret_the_server_refuses_to_start(folder: Path) -> None:
    line = one_error_line(serve_in(folder, "--port", "0"))
    assert "DIGEST_UNSUBSCRIBE_SECRET is not set" in line


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("", "unsubscribe.url is not set"),
        ("https://news.example.com/unsubscribe?t={token}", "as ?token={token}"),
        ("https://news.example.com/u/{token}", "as ?token={token}"),
        ("https://news.example.com/healthz?token={token}", "cannot be /healthz"),
        ("https://news.example.com/unsubscribe?email={email}&token={token}", "carry {email}"),
    ],
)
def test_an_unsubscribe_url_the_endpoint_cannot_serve_is_one_line(
    folder: Path, url: str, said: str
) -> None:
    config = folder / "digest.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r'(?m)^url = ".*"$', f'url = "{url}"', text), encoding="utf-8")
    line = one_error_line(serve_in(folder, "--port", "0", DIGEST_UNSUBSCRIBE_SECRET=SECRET))
    assert said in line
    assert SECRET not in line


def test_a_port_in_use_is_one_line(folder: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = serve_in(folder, "--port", port, DIGEST_UNSUBSCRIBE_SECRET=SECRET)
    line = one_error_line(result)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "--port" in line


def test_a_ledger_that_does_not_open_stops_the_start(folder: Path) -> None:
    (folder / ".digest").write_text("a file where the state folder goes", encoding="utf-8")
    line = one_error_line(serve_in(folder, "--port", "0", DIGEST_UNSUBSCRIBE_SECRET=SECRET))
    assert ".digest is a file" in line


def test_the_path_served_is_the_unsubscribe_urls() -> None:
    assert endpoint_path("https://x.example/unsubscribe?token={token}") == "/unsubscribe"
    assert endpoint_path("https://x.example/news/leave%20us?list=w&token={token}") == (
        "/news/leave us"
    )
    assert endpoint_path("https://x.example?token={token}") == "/"
    with pytest.raises(ConfigError):
        endpoint_path("https://x.example/{list}/unsubscribe?token={token}")


def test_masking_keeps_the_first_character_and_the_domain() -> None:
    assert mask("ada@example.com") == "a***@example.com"
    assert mask("a@example.com") == "a***@example.com"
    assert mask("jorg@bücher.de") == "j***@bücher.de"


def settings_of(folder: Path, **env: str):  # type: ignore[no-untyped-def]
    return load_settings(folder / "digest.toml", {"DIGEST_UNSUBSCRIBE_SECRET": SECRET, **env})


def test_the_newsletter_name_is_escaped_on_the_pages(folder: Path) -> None:
    settings = settings_of(folder, DIGEST_NEWSLETTER_NAME='Tom & Jerry\'s <b>"News"</b>')
    app = make_app(settings, clock=lambda: T0)
    query = f"token={CURRENT.make('ada@example.com')}"

    shown = asgi_call(app, "GET", "/unsubscribe", query=query)
    done = asgi_call(app, "POST", "/unsubscribe", query=query)

    for answer in (shown, done):
        assert answer.status == 200
        assert "<b>" not in answer.text
        assert "Tom &amp; Jerry&#x27;s &lt;b&gt;&quot;News&quot;&lt;/b&gt;" in answer.text


def test_an_unsubscribe_the_ledger_cannot_take_is_a_503_to_retry(folder: Path) -> None:
    app = make_app(settings_of(folder), clock=lambda: T0)
    state = folder / ".digest"
    shutil.rmtree(state)
    state.write_text("the state folder became a file", encoding="utf-8")
    query = f"token={CURRENT.make('ada@example.com')}"

    answer = asgi_call(app, "POST", "/unsubscribe", query=query)
    health = asgi_call(app, "GET", "/healthz")

    assert answer.status == 503
    assert answer.headers["retry-after"] == "60"
    assert "try again" in answer.text
    assert health.status == 503

    state.unlink()
    assert asgi_call(app, "POST", "/unsubscribe", query=query).status == 200
    assert asgi_call(app, "GET", "/healthz").status == 200
    with Ledger.open(state / "state.db") as ledger:
        assert ledger.unsubscribed_addresses() == {"ada@example.com"}


def test_a_post_whose_body_does_not_parse_still_unsubscribes(folder: Path) -> None:
    app = make_app(settings_of(folder), clock=lambda: T0)
    token = CURRENT.make("ada@example.com")
    answer = asgi_call(
        app,
        "POST",
        "/unsubscribe",
        query=f"token={token}",
        headers=[("Content-Type", "multipart/form-data; boundary=x")],
        chunks=[b"--x\r\nnot a part at all"],
    )
    assert answer.status == 200
    with Ledger.open(folder / ".digest" / "state.db") as ledger:
        assert ledger.unsubscribed_addresses() == {"ada@example.com"}


def test_the_time_recorded_is_the_clocks_and_a_bare_post_counts_as_the_page(
    folder: Path,
) -> None:
    app = make_app(settings_of(folder), clock=lambda: T0)
    asgi_call(app, "POST", "/unsubscribe", query=f"token={CURRENT.make('ada@example.com')}")
    db = sqlite3.connect(folder / ".digest" / "state.db")
    rows = db.execute("SELECT address, at, source FROM unsubscribes").fetchall()
    db.close()
    assert rows == [("ada@example.com", "2026-03-09T16:00:00.000000+00:00", "page")]


@pytest.mark.slow
def test_the_asgi_factory_runs_under_uvicorns_own_command_line(folder: Path) -> None:
    """As README says to run it: `uvicorn --factory digest.web.unsubscribe:create_app`.
    uvicorn's access log is on by default; the factory turns it off, as it would log
    the query string, and with it the token."""
    env = clean_env(DIGEST_UNSUBSCRIBE_SECRET=SECRET)
    log = folder / "uvicorn.log"
    with log.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [*UVICORN_FACTORY, "--host", "127.0.0.1", "--port", "0"],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            wait_until(lambda: "Uvicorn running on" in log.read_text(encoding="utf-8"), 60)
            port = re.findall(r"http://127\.0\.0\.1:(\d+)", log.read_text(encoding="utf-8"))[0]
            token = CURRENT.make("ada@example.com")
            link = f"http://127.0.0.1:{port}/unsubscribe?token={token}"
            assert call(link).status == 200
            assert one_click(link).status == 200
            wait_until(lambda: log.read_text(encoding="utf-8").count("/unsubscribe") == 2)
        finally:
            process.terminate()
            process.wait(timeout=30)
    text = log.read_text(encoding="utf-8")
    assert "POST /unsubscribe 200" in text
    assert token not in text and "ada@" not in text
    with Ledger.open(folder / ".digest" / "state.db") as ledger:
        assert ledger.unsubscribed_addresses() == {"ada@example.com"}


@pytest.mark.slow
def test_the_asgi_factory_without_the_secret_is_one_line_and_exit_1(folder: Path) -> None:
    ran = subprocess.run(
        [*UVICORN_FACTORY, "--port", "0"],
        cwd=folder,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 1
    assert "error: DIGEST_UNSUBSCRIBE_SECRET is not set" in ran.stderr
    assert "Traceback" not in ran.stderr
