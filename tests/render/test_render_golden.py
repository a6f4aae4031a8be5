"""Golden output: the example newsletter's digest, byte for byte.

The example is the package's scaffold (digest.toml, feed.xml, templates/), the
page the product was born from. After an intended change to the templates or
the pipeline, run ``python -m pytest tests/render --regen-golden`` and review
the diff of tests/render/golden/ before committing it.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import pytest

from digest.config import load_settings
from digest.models import Digest, RenderedEmail
from digest.render import render_email
from digest.sources import load_posts
from tests.render.helpers import NOW, TOKEN_KEY, Page

SCAFFOLD = Path(__file__).resolve().parents[2] / "digest" / "scaffold"
GOLDEN = Path(__file__).parent / "golden"
EDITION = "2026-02-02"


@pytest.fixture(scope="module")
def example() -> RenderedEmail:
    """The example digest: the post tagged "featured", then the others, newest first."""
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


def lines(text: str) -> list[str]:
    """One tag a line, so a diff of MJML's long lines points at the change."""
    return re.sub(r">\s*<", ">\n<", text).splitlines()


def summary(email: RenderedEmail) -> str:
    fields = {"subject": email.subject, "preheader": email.preheader, "warnings": email.warnings}
    return json.dumps(fields, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("part", ["example.html", "example.txt", "example.json"])
def test_example_matches_golden(example: RenderedEmail, part: str, regen_golden: bool) -> None:
    rendered = {
        "example.html": example.html,
        "example.txt": example.text,
        "example.json": summary(example),
    }[part]
    golden = GOLDEN / part
    if regen_golden:
        golden.write_text(rendered, encoding="utf-8")
    expected = golden.read_text(encoding="utf-8")
    if rendered != expected:
        diff = difflib.unified_diff(
            lines(expected), lines(rendered), "golden", "rendered", lineterm="", n=1
        )
        shown = "\n".join(list(diff)[:40])
        pytest.fail(f"{part} differs from the golden file (--regen-golden to accept):\n{shown}")


def test_example_is_the_seed_page(example: RenderedEmail) -> None:
    page = Page(example.html)
    assert example.subject == (
        "FTV Consulting Insights: TAG and AMPTP to Discuss AI, Job Security, "
        "and Outsourcing in New Agreement"
    )
    assert page.text.count("2026") >= 9
    assert len(page.all("img")) == 10
    assert "January 30, 2026" in page.text and "January 2, 2026" in page.text
    assert example.warnings == ()
