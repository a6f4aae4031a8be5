"""Suite-wide options: `--regen-golden` rewrites the golden files instead of comparing;
`--update-docs` rewrites README's screenshot of the preview (docs/preview.png) from the
browser test's own run."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        help="rewrite the golden output files from the current rendering",
    )
    parser.addoption(
        "--update-docs",
        action="store_true",
        help="rewrite docs/preview.png from the preview's browser test",
    )


@pytest.fixture
def regen_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden"))
