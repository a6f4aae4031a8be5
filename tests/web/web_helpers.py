"""Helpers for the web tests: a newsletter folder, a real endpoint process, plain HTTP calls,
and a direct ASGI call for what HTTP cannot stage (a body that stops arriving)."""

from __future__ import annotations

import http.client
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import anyio
from click.testing import CliRunner
from starlette.types import ASGIApp

from digest.audience.tokens import UnsubscribeTokens
from digest.cli import cli

REPO = Path(__file__).resolve().parents[2]
SECRET = "the-current-unsubscribe-secret-for-web-tests"
RETIRED = "a-retired-secret-still-listed"
DROPPED = "a-secret-retired-and-then-dropped"
NAME = "FTV Consulting Insights"  # the scaffold's newsletter.name
CURRENT = UnsubscribeTokens(SECRET)


def make_folder(path: Path) -> Path:
    """A newsletter folder made by `digest init --example` (its unsubscribe.url:
    .../unsubscribe?token=)."""
    result = CliRunner().invoke(cli, ["init", "--example", str(path)])
    assert result.exit_code == 0, result.output
    return path


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without digest's variables, plus ``values``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("DIGEST_") and name != "SENDGRID_API_KEY"
    }
    return {**env, "PYTHONPATH": str(REPO), **values}


def serving_env() -> dict[str, str]:
    return clean_env(
        DIGEST_UNSUBSCRIBE_SECRET=SECRET, DIGEST_UNSUBSCRIBE_RETIRED_SECRETS=f"other {RETIRED}"
    )


@dataclass
class Answer:
    """An HTTP response, read whole."""

    status: int
    headers: Message
    text: str


def call(
    url: str,
    method: str = "GET",
    body: bytes | Iterable[bytes] | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request on its own connection (a body of several pieces goes chunked); whatever
    the answer, it sets no cookie."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        target = f"{parts.path}?{parts.query}" if parts.query else parts.path
        chunked = body is not None and not isinstance(body, bytes)
        connection.request(method, target, body=body, headers=headers or {}, encode_chunked=chunked)
        response = connection.getresponse()
        text = response.read().decode()
    finally:
        connection.close()
    assert response.getheader("set-cookie") is None
    return Answer(response.status, response.headers, text)


def status_of_partial_post(url: str, headers: dict[str, str], body_start: bytes) -> int:
    """The status answered to a POST whose body is announced by ``headers`` but stops after
    ``body_start``: the server must answer without the rest (nothing more is sent, so the
    answer cannot be lost to a connection the server closed mid-upload)."""
    parts = urlsplit(url)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = (
        f"POST {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n{head}\r\n"
    ).encode()
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as connection:
        connection.sendall(request + body_start)
        status_line = connection.makefile("rb").readline().decode()
    return int(status_line.split()[1])


def one_click(url: str) -> Answer:
    """What a mail client's unsubscribe button sends (RFC 8058), form-urlencoded."""
    return call(
        url,
        "POST",
        b"List-Unsubscribe=One-Click",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )


def one_click_multipart(url: str) -> Answer:
    """The same as multipart/form-data, as some clients send it."""
    boundary = "----digest-test-boundary-7MA4YWxkTrZu0gW"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        f"One-Click\r\n--{boundary}--\r\n"
    ).encode()
    return call(url, "POST", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})


@dataclass
class Server:
    """A `digest unsubscribe serve --port 0` process, its stderr in a file, in ``folder``."""

    process: subprocess.Popen[str]
    base: str
    folder: Path
    log: Path
    # Every token and address the tests sent it: none may reach the log.
    used: set[str] = field(default_factory=set)

    def link(self, address: str, tokens: UnsubscribeTokens = CURRENT) -> str:
        """The reader's unsubscribe URL on this server."""
        return self.link_with(tokens.make(address), address)

    def link_with(self, token: str, *used: str) -> str:
        self.used.update((token, *used))
        return f"{self.base}/unsubscribe?token={token}"

    def recorded(self) -> dict[str, tuple[str, str]]:
        """The ledger's unsubscribes: address -> (when, source)."""
        db = sqlite3.connect(self.folder / ".digest" / "state.db")
        try:
            rows = db.execute("SELECT address, at, source FROM unsubscribes").fetchall()
        finally:
            db.close()
        return {address: (at, source) for address, at, source in rows}

    def log_lines(self, at_least: int = 0) -> list[str]:
        """The request log so far, waiting (a little) until it has ``at_least`` lines: a line
        is written just after its answer went out."""
        deadline = time.monotonic() + 10
        while True:
            lines = self.log.read_text(encoding="utf-8").splitlines()
            if len(lines) >= at_least or time.monotonic() > deadline:
                return lines
            time.sleep(0.02)

    def settled_log_lines(self, quiet: float = 0.5) -> list[str]:
        """The request log once no line has come for ``quiet`` seconds: the lines of
        requests answered earlier (a line follows its answer) are all in."""
        lines = self.log_lines()
        while True:
            time.sleep(quiet)
            again = self.log_lines()
            if len(again) == len(lines):
                return lines
            lines = again

    def stop(self) -> None:
        stop_process(self.process)


def start_server(folder: Path, log: IO[str], env: dict[str, str]) -> Server:
    """Start the endpoint in ``folder`` and wait for the line that says where it listens."""
    process, base = launch(
        ["unsubscribe", "serve", "--port", "0"],
        folder,
        log,
        env,
        announced=r"at (http://127\.0\.0\.1:\d+)/unsubscribe ",
    )
    return Server(process, base, folder, Path(log.name))


def launch(
    args: Sequence[str], folder: Path, log: IO[str], env: dict[str, str], *, announced: str
) -> tuple[subprocess.Popen[str], str]:
    """A `digest ARGS` server process in ``folder`` (its stderr to ``log``), once a line of
    its stdout matches ``announced``, and the URL that regex's group found there."""
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", *args],
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert process.stdout is not None
    said = []
    while line := process.stdout.readline():
        said.append(line)
        if found := re.search(announced, line):
            return process, found.group(1)
    process.kill()
    raise AssertionError(f"no URL announced: {said!r}, log: {Path(log.name).read_text()}")


def stop_process(process: subprocess.Popen[str]) -> None:
    """SIGTERM, and wait for the process to end."""
    process.terminate()
    process.wait(timeout=30)
    assert process.stdout is not None
    process.stdout.close()


@dataclass
class AsgiAnswer:
    """What the app sent (status 0: nothing), and what it raised to the server."""

    status: int
    headers: dict[str, str]
    text: str
    raised: list[Exception]


def asgi_call(
    app: ASGIApp,
    method: str,
    path: str,
    *,
    query: str = "",
    chunks: Sequence[bytes] = (b"",),
    headers: Sequence[tuple[str, str]] = (),
    ending: str = "complete",
) -> AsgiAnswer:
    """Call ``app`` as an ASGI server would, the body in ``chunks``, then the client:
    "complete": the body ends with the last chunk; "stall": more is announced and never
    comes (a slow client); "gone": more is announced and the client disconnects."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    last = len(chunks) - 1
    pending = [
        {"type": "http.request", "body": chunk, "more_body": ending != "complete" or n < last}
        for n, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        if ending == "stall":
            await anyio.sleep_forever()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raised: list[Exception] = []

    async def run() -> None:
        try:
            await app(scope, receive, send)
        except Exception as exc:  # a server logs it, after the 500 the app sent
            raised.append(exc)

    anyio.run(run)
    if not sent:
        return AsgiAnswer(0, {}, "", raised)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    names = {k.decode(): v.decode() for k, v in start["headers"]}
    return AsgiAnswer(start["status"], names, body.decode(), raised)


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
