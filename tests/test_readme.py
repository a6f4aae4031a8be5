"""README's command lines are ones the CLI accepts, options in the right place."""

from __future__ import annotations

import re
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
        for segment in line.split("#")[0].split("&&"):
            words = segment.replace("[", "").replace("]", "").split()
            starts = [i for i, word in enumerate(words) if re.search(r"(^|[/=])digest$", word)]
            if starts:
                found.append(words[starts[0] + 1 :])
    return found


COMMANDS = command_lines(README.read_text(encoding="utf-8"))


def test_the_readme_has_command_lines_to_check() -> None:
    assert ["-q", "schedule", "--once"] in COMMANDS
    assert ["send", "--to", "ADDR", "--to", "ADDR"] in COMMANDS
    assert len(COMMANDS) > 15


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_each_readme_command_line_parses(args: list[str]) -> None:
    """`--help` after the line makes click parse it all and stop before running anything."""
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="digest")
    assert result.exit_code == 0, f"digest {' '.join(args)}: {result.output}"
    assert result.output.startswith("Usage: digest")
