"""Each key is declared once, on its field: a rule or choices where it has one, what it is
for, and a row in README's configuration reference."""

from __future__ import annotations

from dataclasses import Field, fields
from pathlib import Path

import pytest

from digest.config.settings import SECTIONS, Secrets, option

README = Path(__file__).resolve().parents[2] / "README.md"
KEYS = [(section, item) for section, kind in SECTIONS.items() for item in fields(kind)]


@pytest.mark.parametrize(("section", "item"), KEYS, ids=lambda v: getattr(v, "name", v))
def test_every_key_says_what_it_is_for_and_is_in_readmes_reference(
    section: str, item: Field[object]
) -> None:
    assert option(item).help
    assert f"`{section}.{item.name}`" in README.read_text(encoding="utf-8")


@pytest.mark.parametrize("item", fields(Secrets), ids=lambda item: item.name)
def test_every_secret_names_its_variable_which_readme_lists(item: Field[object]) -> None:
    variable = option(item).variable
    assert variable and option(item).help
    assert f"| `{variable}` |" in README.read_text(encoding="utf-8")
