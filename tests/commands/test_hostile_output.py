"""Untrusted text in digest's output: escape sequences, bidi overrides and rich markup from
a subscriber list, a feed or a server show up inert, on the terminal and elsewhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result

from digest.commands.history import COLUMNS
from tests.commands.conftest import API_KEY, NOW, Folder
from tests.sendgrid_server import SendGridServer

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "subscribers"
# Clear the screen, set the window title, then rich markup: as the files hold them...
HOSTILE = "\x1b[2J\x1b]0;pwned\x07[bold red]Mallory"
# ...and as digest must print them.
INERT = "\\x1b[2J\\x1b]0;pwned\\x07[bold red]Mallory"
RIGHT_TO_LEFT_OVERRIDE = "\u202e"


def assert_inert(output: str) -> None:
    """Nothing in the output that a terminal would act on, and the hostile text shown."""
    assert all(char == "\n" or char.isprintable() for char in output), repr(output)
    assert INERT in output


@pytest.fixture
def hostile_list(folder: Folder) -> Folder:
    """The example folder whose list has a row with an escape-laden, reversed name in the
    email column (as if its columns had been shifted)."""
    (folder.path / "subscribers.csv").unlink()
    shutil.copy(DATA / "hostile_names.csv", folder.path / "subscribers.csv")
    folder.env["DIGEST_UNSUBSCRIBE_SECRET"] = "hostile-output-secret"
    return folder


def test_check_shows_a_hostile_row_inert(hostile_list: Folder) -> None:
    result = hostile_list.run("subscribers", "check")

    assert result.exit_code == 1
    assert_inert(result.stderr)
    assert "\\u202emoc.elpmaxe@yrollam" in result.stderr
    assert result.stderr.startswith(f"subscribers.csv:3: {INERT}")


def test_a_dry_run_warns_of_a_hostile_row_inert(hostile_list: Folder) -> None:
    result = hostile_list.run("send", "--dry-run", "--now", NOW)

    assert result.exit_code == 0, result.output
    assert_inert(result.stderr)
    assert result.stderr.startswith(f"warning: subscribers.csv:3: {INERT}")


def test_a_send_warns_of_a_hostile_row_and_a_hostile_server_inert(
    hostile_list: Folder, server: SendGridServer
) -> None:
    """Run as a process of its own: the retry warning is logged, and pytest would catch it."""
    hostile_list.env.update(
        SENDGRID_API_KEY=API_KEY,
        DIGEST_SENDGRID_HOST=server.url,
        DIGEST_SENDGRID_CONCURRENCY="1",
    )
    server.fail_next(503, message=f"busy {HOSTILE}")

    result = subprocess.run(
        [sys.executable, "-m", "digest", "send", "--yes", "--now", NOW],
        cwd=hostile_list.path,
        env={**os.environ, **hostile_list.env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert_inert(result.stderr)
    assert f"warning: subscribers.csv:3: {INERT}" in result.stderr
    assert f"SendGrid answered HTTP 503: busy {INERT}; retrying" in result.stderr
    assert server.accepted_recipients() == ["ada@example.com"]


@pytest.mark.parametrize(
    "command", [["subscribers", "check"], ["send", "--dry-run", "--now", NOW]], ids=" ".join
)
def test_an_error_quoting_a_hostile_header_is_one_inert_line(
    folder: Folder, command: list[str]
) -> None:
    (folder.path / "subscribers.csv").unlink()
    shutil.copy(DATA / "hostile_header.csv", folder.path / "subscribers.csv")

    result = folder.run(*command)

    assert result.exit_code == 1
    assert_inert(result.stderr)
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    assert "subscribers.csv: line 1 has no `email` column (found: name, " in line


def hostile_feed(folder: Folder) -> None:
    """The featured post's title reversed by a bidi override and carrying rich markup."""
    feed = folder.path / "feed.xml"
    title = "TAG and AMPTP to Discuss AI"
    feed.write_text(
        feed.read_text(encoding="utf-8").replace(
            title, f"{RIGHT_TO_LEFT_OVERRIDE}[bold red]{title}", 1
        ),
        encoding="utf-8",
    )


def sent(folder: Folder, server: SendGridServer) -> Result:
    folder.env.update(
        SENDGRID_API_KEY=API_KEY,
        DIGEST_UNSUBSCRIBE_SECRET="hostile-output-secret",
        DIGEST_SENDGRID_HOST=server.url,
    )
    result = folder.run("send", "--yes", "--now", NOW)
    assert result.exit_code == 0, result.output
    return result


def test_history_shows_a_hostile_subject_inert_in_its_table_and_its_columns(
    folder: Folder, server: SendGridServer
) -> None:
    hostile_feed(folder)
    sent(folder, server)

    columns = folder.run("history")
    folder.env.update(FORCE_COLOR="1", COLUMNS="300")
    table = folder.run("history")

    for result in (columns, table):
        assert result.exit_code == 0, result.output
        assert RIGHT_TO_LEFT_OVERRIDE not in result.stdout
        assert "\\u202e[bold red]TAG and AMPTP" in result.stdout
    _, row = columns.stdout.splitlines()
    assert len(row.split("\t")) == len(COLUMNS)


def test_a_traceback_asked_for_with_v_shows_a_hostile_header_inert(folder: Folder) -> None:
    (folder.path / "subscribers.csv").unlink()
    shutil.copy(DATA / "hostile_header.csv", folder.path / "subscribers.csv")

    result = folder.run("-v", "subscribers", "check")

    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert_inert(result.stderr)
