"""README's command lines are ones the CLI accepts, options in the right place."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def command_lines(text: str) -> list[list[str]]:
    """The arguments after `digest` in code spans and in the lines of fenced blocks."""
    spans = [" ".join(span.split()) for span in re.findall(r"`(digest\s[^`]*)`", text)]
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    lines = [line for block in blocks for line in block.splitlines()]
    found = []
    for line in spans + lines:
        # Split at the shell's control operators: &&, ||, ;, | and a trailing &.
        for segment in re.split(r"&&|\|\||[;&|]", line.split("#")[0]):
            words = segment.replace("[", "").replace("]", "").split()
            starts = [i for i, word in enumerate(words) if re.search(r"(^|[/=])digest$", word)]
            if starts:
                found.append(words[starts[0] + 1 :])
    return found


COMMANDS = command_lines(README.read_text(encoding="utf-8"))


def test_the_readme_has_command_lines_to_check() -> None:
    assert ["-q", "send", "--yes"] in COMMANDS
    assert ["send", "--to", "ADDR", "--to", "ADDR"] in COMMANDS
    assert len(COMMANDS) > 15


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_each_readme_command_line_parses(args: list[str]) -> None:
    """`--help` after the line makes click parse it all and stop before running anything."""
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="digest")
    assert result.exit_code == 0, f"digest {' '.join(args)}: {result.output}"
    assert result.output.startswith("Usage: digest")


def walkthrough(text: str) -> str:
    """The shell block of README's "Try the whole loop on your machine"."""
    section = text.split("### Try the whole loop on your machine", 1)[1]
    found = re.search(r"^```sh\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    assert found is not None
    return found.group(1)


@pytest.mark.slow
def test_the_whole_loop_runs_as_readme_tells_it(tmp_path: Path) -> None:
    """A new user's path from `digest init` to an unsubscribe link that works, the next send
    without that reader and sync writing it: README's block, run as written in bash (on a
    free port instead of 8080)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    script = "set -euo pipefail\n" + walkthrough(README.read_text(encoding="utf-8"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.pop("SENDGRID_API_KEY", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    shell = subprocess.Popen(
        ["bash", "-c", script.replace("8080", port)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = shell.communicate(timeout=180)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)  # the endpoint, if the block stopped early
    assert shell.returncode == 0, out + err
    lines = out.splitlines()
    assert "200" in lines
    assert any(
        "skipped 1 bounced, 1 unsubscribed, 1 unsubscribed through the link" in line
        for line in lines
    )
    assert "  1 now unsubscribed: 1 from the unsubscribe link (ada@example.com)" in lines
    assert any("3 active, 2 unsubscribed, 1 bounced, 0 complained" in line for line in lines)
    listed = (tmp_path / "try-it" / "subscribers.csv").read_text(encoding="utf-8")
    assert "ada@example.com,Ada Lovelace,unsubscribed," in listed
