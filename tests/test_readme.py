"""README's command lines are ones the CLI accepts, options in the right place; its shell
completion line works; its table of what templates get is what they get.
(tests/test_first_hour.py runs its first-hour path for real.)"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.audience.values import READER_FIELDS
from digest.cli import cli
from digest.render import PostView, _context, render_email
from tests.render.helpers import NEWSLETTER, NOW, TOKEN_KEY, TRACKING, make_digest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# Where a shell line stops being digest's arguments.
_SHELL_ENDS = re.compile(r"\s(?:[0-9]?>|\||;|&&?|\)|\$\()")


def command_lines(text: str) -> list[list[str]]:
    """The arguments after `digest` in code spans and in the lines of fenced blocks."""
    spans = [" ".join(span.split()) for span in re.findall(r"`(digest\s[^`]*)`", text)]
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    lines = [line for block in blocks for line in block.splitlines()]
    found = []
    for line in spans + lines:
        for segment in re.split(r"(?:^|\s)#", line)[0].split("&&"):
            words = _words(_SHELL_ENDS.split(segment)[0].replace("[", "").replace("]", ""))
            starts = [i for i, word in enumerate(words) if re.search(r"(^|[/=])digest$", word)]
            if starts:
                found.append(words[starts[0] + 1 :])
    return found


def _words(segment: str) -> list[str]:
    """The shell words of ``segment``; a span with an unbalanced quote (`"...`), split plainly."""
    try:
        return shlex.split(segment)
    except ValueError:
        return segment.split()


COMMANDS = [args for args in command_lines(README.read_text(encoding="utf-8")) if args]


def test_the_readme_has_command_lines_to_check() -> None:
    assert ["-q", "schedule", "--once"] in COMMANDS
    assert ["send", "--to", "ADDR", "--to", "ADDR"] in COMMANDS
    assert ["init", "--example", "demo"] in COMMANDS
    first_hour = [args for args in COMMANDS if args[:2] == ["init", "my-newsletter"]]
    assert first_hour[-1][8:10] == ["--postal-address", "1 Main St, Springfield"]
    assert len(COMMANDS) > 15


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_each_readme_command_line_parses(args: list[str]) -> None:
    """`--help` after the line makes click parse it all and stop before running anything."""
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="digest")
    assert result.exit_code == 0, f"digest {' '.join(args)}: {result.output}"
    expected = "digest, version " if "--version" in args else "Usage: digest"
    assert result.output.startswith(expected)


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
    assert any("1 reader who unsubscribed through the link is not marked" in line for line in lines)
    assert "  1 now unsubscribed: 1 from the unsubscribe link (ada@example.com)" in lines
    assert any("3 active, 2 unsubscribed, 1 bounced, 0 complained" in line for line in lines)
    listed = (tmp_path / "try-it" / "subscribers.csv").read_text(encoding="utf-8")
    assert "ada@example.com,Ada Lovelace,unsubscribed," in listed


def complete(**env: str) -> str:
    """What the installed `digest` prints to the shell with the completion variables."""
    command = [str(Path(sys.executable).parent / "digest")]
    done = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_scripts_as_readme_shows_them(shell: str) -> None:
    assert f"_DIGEST_COMPLETE={shell}_source digest" in README.read_text(encoding="utf-8")
    assert "_DIGEST_COMPLETE" in complete(_DIGEST_COMPLETE=f"{shell}_source")


def test_completion_completes_commands_and_their_options() -> None:
    """What bash asks when Tab is pressed after `digest bu` and `digest build --c`."""
    words = complete(_DIGEST_COMPLETE="bash_complete", COMP_WORDS="digest bu", COMP_CWORD="1")
    assert words.split() == ["plain,build"]
    words = complete(
        _DIGEST_COMPLETE="bash_complete", COMP_WORDS="digest build --c", COMP_CWORD="2"
    )
    assert words.split() == ["plain,--config"]


# The template-variable table of "Templates": what it lists is what templates get.

TEMPLATES_SECTION = README.read_text(encoding="utf-8").split("## Templates", 1)[1].split("\n## ")[0]
TABLE = dict(re.findall(r"^\| (`[^|]+`) \| (.+) \|$", TEMPLATES_SECTION, flags=re.MULTILINE))


def documented(cell_pattern: str) -> list[str]:
    """The backticked names in the description of the row whose first cell matches."""
    [what] = [what for cell, what in TABLE.items() if re.fullmatch(cell_pattern, cell)]
    return re.findall(r"`([\w.<>]+)`", what)


def test_the_table_lists_every_name_a_template_gets_and_no_other() -> None:
    listed = {name for cell in TABLE for name in re.findall(r"`(\w+)`", cell)}
    context = _context(make_digest(), NEWSLETTER, TRACKING, "url", NOW, TOKEN_KEY, [])

    assert listed == {*context, "subject", "reason"}  # the two render_email adds


def test_the_table_lists_a_posts_fields_as_templates_get_them() -> None:
    fields = {field.name for field in dataclasses.fields(PostView)} | {"excerpt"}

    assert set(documented(r"`featured`")) == fields


def test_the_table_lists_the_values_every_reader_has(tmp_path: Path) -> None:
    values = [
        name for name in documented(r"`subscriber`") if re.fullmatch(r"subscriber\.\w+", name)
    ]

    assert {name.removeprefix("subscriber.") for name in values} == READER_FIELDS
    (tmp_path / "digest.txt.j2").write_text(" ".join(f"{{{{ {n} }}}}" for n in values))
    email = render_email(
        make_digest(),
        newsletter=NEWSLETTER,
        tracking=TRACKING,
        templates_dir=tmp_path,
        now=NOW,
        token_key=TOKEN_KEY,
    )
    assert set(email.subscriber_fields) == READER_FIELDS
