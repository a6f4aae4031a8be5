"""Fixtures for the render tests: an empty templates folder, a renderer with defaults, and
the example newsletter's digest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from digest.config import load_settings
from digest.models import Digest, RenderedEmail
from digest.render import render_email
from digest.sources import load_posts
from tests.render.helpers import EDITION, NEWSLETTER, NOW, TOKEN_KEY, TRACKING, make_digest

SCAFFOLD = Path(__file__).resolve().parents[2] / "digest" / "scaffold"

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


@pytest.fixture(scope="session")
def example() -> RenderedEmail:
    """The example digest (the package's scaffold): the post tagged "featured", then the
    others, newest first; nine teasers, an odd count."""
    settings = load_settings(SCAFFOLD / "digest.toml", env={})
    posts = load_posts(
        settings.source.type,
        settings.source.location,
        base_dir=SCAFFOLD,
        site_url=settings.newsletter.site_url,
        timeout=settings.source.timeout,
    )
    featured = next(post for post in posts if settings.selection.featured_tag in post.tags)
    teasers = [post for post in posts if post is not featured][: settings.selection.max_posts - 1]
    return render_email(
        Digest(edition=EDITION, featured=featured, teasers=tuple(teasers)),
        newsletter=settings.newsletter,
        tracking=settings.tracking,
        templates_dir=SCAFFOLD / "templates",
        now=NOW,
        token_key=TOKEN_KEY,
    )
