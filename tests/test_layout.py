"""The house rules that a reader of the code relies on: README's map is the package's, and
no module grows past what a reader takes in at once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import digest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "digest"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 400
MAX_COMMAND_LINES = 150


def tree(text: str) -> list[str]:
    """The lines of the first block that starts with ``digest/``, without their indent."""
    found = re.search(r"^( *)digest/\n((?:\1 .*\n)+)", text, flags=re.MULTILINE)
    assert found is not None, "no map of digest/"
    indent = len(found.group(1))
    return ["digest/", *(line[indent:] for line in found.group(2).splitlines())]


def test_readme_and_the_package_docstring_carry_the_same_map() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert digest.__doc__ is not None
    assert tree(readme) == tree(digest.__doc__ + "\n")


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_is_over_400_lines_and_a_command_about_150(path: Path) -> None:
    limit = MAX_COMMAND_LINES if path.parent.name == "commands" else MAX_LINES
    assert len(path.read_text(encoding="utf-8").splitlines()) <= limit
