"""Fixtures for the render tests: an empty templates folder and a renderer with defaults."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from digest.models import Digest, RenderedEmail
from digest.render import render_email
from tests.render.helpers import NEWSLETTER, NOW, TOKEN_KEY, TRACKING, make_digest

Render = Callable[..., RenderedEmail]


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    """A newsletter's own templates folder, empty: every template comes from the package."""
    folder = tmp_path / "templates"
    (folder / "partials").mkdir(parents=True)
    return folder


@pytest.fixture
def render(templates_dir: Path) -> Render:
    """Render a digest (five posts by default); keyword arguments override render_email's."""

    def run(digest: Digest | None = None, **options: Any) -> RenderedEmail:
        arguments: dict[str, Any] = {
            "newsletter": NEWSLETTER,
            "tracking": TRACKING,
            "templates_dir": templates_dir,
            "now": NOW,
            "token_key": TOKEN_KEY,
        }
        arguments.update(options)
        return render_email(digest or make_digest(), **arguments)

    return run
