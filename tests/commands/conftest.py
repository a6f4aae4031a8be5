"""Fixtures for command tests: a newsletter folder made by `digest init`, a CLI runner, a
local SendGrid stand-in that accepts ``API_KEY``, and the folder ready to send to it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from tests.sendgrid_server import SendGridServer, start_server

NOW = "2026-11-27T09:00:00-08:00"
API_KEY = "SG.command-test-key-never-printed"
SECRET = "unsubscribe-secret-never-printed"


@dataclass
class Folder:
    """A newsletter folder and a way to run `digest` inside it with a given environment."""

    path: Path
    env: dict[str, str]

    def run(self, *args: str, input: str | None = None) -> Result:
        previous = Path.cwd()
        os.chdir(self.path)
        try:
            return CliRunner().invoke(cli, list(args), env=self.env, input=input)
        finally:
            os.chdir(previous)

    def edit_config(self, change: Callable[[str], str]) -> None:
        config = self.path / "digest.toml"
        config.write_text(change(config.read_text(encoding="utf-8")), encoding="utf-8")


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Folder]:
    """A fresh copy of the bundled example (`digest init --example`), with no secrets and no
    DIGEST_* from the outside."""
    path = tmp_path / "newsletter"
    result = CliRunner().invoke(cli, ["init", "--example", str(path)])
    assert result.exit_code == 0, result.output
    env = {name: "" for name in os.environ if name.startswith("DIGEST_")}
    env["SENDGRID_API_KEY"] = ""
    yield Folder(path, env)


@pytest.fixture
def server() -> Iterator[SendGridServer]:
    """The SendGrid stand-in on a free 127.0.0.1 port, accepting only ``API_KEY``."""
    server, _ = start_server(api_key=API_KEY)
    yield server
    server.stop()


@pytest.fixture
def ready(folder: Folder, server: SendGridServer) -> Folder:
    """The example folder pointed at the local server, with its secrets set."""
    folder.env.update(
        SENDGRID_API_KEY=API_KEY,
        DIGEST_UNSUBSCRIBE_SECRET=SECRET,
        DIGEST_SENDGRID_HOST=server.url,
        DIGEST_SENDGRID_TIMEOUT="5",
    )
    return folder
