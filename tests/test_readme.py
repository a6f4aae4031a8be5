"""README's command lines are ones the CLI accepts, options in the right place; its table of
what templates get is what they get."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.audience.values import READER_FIELDS
from digest.cli import cli
from digest.render import PostView, _context, render_email
from tests.render.helpers import NEWSLETTER, NOW, TOKEN_KEY, TRACKING, make_digest

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
    assert ["-q", "send", "--yes"] in COMMANDS
    assert ["send", "--to", "ADDR", "--to", "ADDR"] in COMMANDS
    assert len(COMMANDS) > 15


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_each_readme_command_line_parses(args: list[str]) -> None:
    """`--help` after the line makes click parse it all and stop before running anything."""
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="digest")
    assert result.exit_code == 0, f"digest {' '.join(args)}: {result.output}"
    assert result.output.startswith("Usage: digest")


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
