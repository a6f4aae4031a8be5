"""README's first hour, word by word: the commands of "Your own newsletter: the first
hour" run in order as a new user runs them, in a fresh folder, by the installed `digest`
command, against the local SendGrid stand-in, `digest init`'s questions (and the send's
confirmation) answered on a pseudo-terminal. The test to yourself and the first edition
must carry nothing of the bundled example."""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.config import load_settings
from digest.config.example import example_keys
from tests.sendgrid_server import SendGridServer, start_server
from tests.terminal import run_on_a_terminal
from tests.test_readme import README

DATA = Path(__file__).resolve().parent / "data" / "first_hour"
DIGEST = str(Path(sys.executable).parent / "digest")  # the installed command
API_KEY = "SG.first-hour-key"
SECRET = "a-long-random-first-hour-secret"
SECRETS = {"SENDGRID_API_KEY": API_KEY, "DIGEST_UNSUBSCRIBE_SECRET": SECRET}
ME = "you@yourdomain.org"  # README's own placeholder for the reader's address
SENDER = "news@fieldnotes.org"
# README's lines that this walk does not run, each with the reason.
WALK_NOT_RUN = {
    "pip": "the tests run the package of this checkout, installed in the test environment",
}
# What a new user's newsletter holds, and what no message of theirs may hold.
EXAMPLE_TRACES = (
    "ftvconsulting", "ftv consulting", "example.com", "example.org", "example.net",
    ".example/", "ada@", "lovelace", "not-set.invalid", "preview-not-a-real-token", "%%",
)  # fmt: skip


def first_hour() -> list[list[str]]:
    """The shell words of each line of README's first-hour block, comments left out."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Your own newsletter: the first hour") :]
    block = re.search(r"^```sh\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    assert block is not None
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines()]


@pytest.fixture
def feed_url() -> Iterator[str]:
    """The new user's blog feed, served over HTTP as their site would."""
    body = (DATA / "feed.xml").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    server.shutdown()
    server.server_close()


@pytest.fixture
def sendgrid() -> Iterator[SendGridServer]:
    """SendGrid, with the sender verified as README's SendGrid setup has the user do."""
    server, _ = start_server(api_key=API_KEY)
    server.account.verified_senders.add(SENDER)
    yield server
    server.stop()


class Walk:
    """A new user's shell: a working folder, an environment, what each command said."""

    def __init__(self, home: Path, sendgrid: SendGridServer) -> None:
        self.cwd = home
        # A clean environment, but for where "SendGrid" is: the stand-in.
        self.env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("DIGEST_") and name != "SENDGRID_API_KEY"
        }
        self.env["DIGEST_SENDGRID_HOST"] = sendgrid.url
        self.said: dict[str, str] = {}
        self.servers: list[subprocess.Popen[str]] = []

    def run(self, words: list[str], answers: list[str]) -> None:
        """One line of the block, as a shell would run it."""
        if words[0] == "cd":
            self.cwd = self.cwd / words[1]
        elif words[0] == "export":
            name = words[1].partition("=")[0]
            self.env[name] = SECRETS[name]  # README's "SG...." and "...", made real
        elif words[1:3] == ["unsubscribe", "serve"]:
            self.serve(words, r"\(health: (http://\S+)\)", b"ok")
        elif words[1:2] == ["preview"]:
            self.serve(words, r" at (http://\S+/) ", b"<!doctype html>")
        elif words[1:] in (["send"], ["init", "my-newsletter"]):
            status, shown = run_on_a_terminal([DIGEST, *words[1:]], answers, self.cwd, self.env)
            assert status == 0, shown
            self.said[" ".join(words)] = shown
        else:
            done = subprocess.run(
                [DIGEST, *words[1:]],
                cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert done.returncode == 0, f"{' '.join(words)}: {done.stdout}{done.stderr}"
            self.said[" ".join(words)] = done.stdout + done.stderr

    def serve(self, words: list[str], announced: str, shows: bytes) -> None:
        """A server of the block, in the background ("in another terminal"), on any free
        port: its page, at the URL its first line ``announced``, ``shows`` what it should."""
        process = subprocess.Popen(
            [DIGEST, *words[1:], "--port", "0"],
            cwd=self.cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        self.servers.append(process)
        assert process.stdout is not None
        found = re.search(announced, process.stdout.readline())
        assert found is not None
        with urllib.request.urlopen(found.group(1), timeout=30) as answer:
            assert shows in answer.read()

    def stop(self) -> None:
        for process in self.servers:
            process.terminate()
            process.wait(timeout=30)


def filled(body: dict[str, object]) -> str:
    """A request as its one reader gets it: the content with their substitutions filled."""
    (personalization,) = body["personalizations"]  # type: ignore[misc]
    text = json.dumps(body["content"]) + json.dumps(body.get("subject", ""))
    for token, value in personalization.get("substitutions", {}).items():
        text = text.replace(json.dumps(token)[1:-1], json.dumps(value)[1:-1])
    return text


@pytest.mark.slow
def test_readme_first_hour_reaches_a_test_to_yourself_with_nothing_of_the_example(
    tmp_path: Path, feed_url: str, sendgrid: SendGridServer
) -> None:
    init_answers = [
        "Field Notes", SENDER, "", "https://fieldnotes.org",
        "1 Main St, Springfield", feed_url,
        "https://news.fieldnotes.org/unsubscribe?token={token}", ME,
    ]  # fmt: skip
    walk = Walk(tmp_path, sendgrid)
    skipped = []
    try:
        for words in first_hour():
            command = words[0] if words[0] != "digest" else words[1]
            if command in WALK_NOT_RUN:
                skipped.append(command)
                continue
            answers = init_answers if words[1:2] == ["init"] else ["y"]
            walk.run(words, answers if words[1:] in (["send"], ["init", "my-newsletter"]) else [])
    finally:
        walk.stop()
    assert skipped == ["pip"]
    built = walk.said["digest build"]
    checked = walk.said["digest doctor"].splitlines()
    assert f"pass  sender: {SENDER} is a verified sender" in checked
    assert not [line for line in checked if line.startswith("fail")], checked
    assert "Built edition" in built and "still the example's" not in built
    assert "wrote 1 message" in walk.said["digest send --dry-run"]
    test, edition = sendgrid.requests
    for request in (test, edition):
        assert request.recipients == [ME]
        assert request.body["from"] == {"email": SENDER, "name": "Field Notes"}
        assert "reply_to" not in request.body
        (personalization,) = request.body["personalizations"]
        unsubscribe = personalization["headers"]["List-Unsubscribe"]
        assert unsubscribe.startswith("<https://news.fieldnotes.org/unsubscribe?token=")
        shown = filled(request.body).lower()
        for trace in EXAMPLE_TRACES:
            assert trace not in shown, trace
        assert "counting swifts over the old mill" in shown
        assert "1 main st, springfield" in shown
    assert test.body["subject"].startswith("[TEST] ")
    assert "Edition" in walk.said["digest send"] and "is complete" in walk.said["digest send"]


def test_readme_init_line_for_scripts_writes_those_values_and_nothing_of_the_example(
    tmp_path: Path,
) -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    (line,) = [line for line in lines if line.startswith("digest init my-newsletter --")]
    words = shlex.split(line)
    done = subprocess.run(
        [DIGEST, *words[1:]], cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    settings = load_settings(tmp_path / "my-newsletter" / "digest.toml", {})
    given = dict(zip(words[3::2], words[4::2], strict=True))
    assert settings.newsletter.name == given["--name"]
    assert settings.newsletter.postal_address == given["--postal-address"]
    assert settings.unsubscribe.url == given["--unsubscribe-url"]
    assert settings.source.location == given["--feed"]
    assert example_keys(settings) == []
    assert "Still to set" not in done.stdout
    listed = (tmp_path / "my-newsletter" / "subscribers.csv").read_text().splitlines()
    assert listed == ["email,name,status,tags,subscribed_at", f"{ME},,active,,"]
