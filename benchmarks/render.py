"""Benchmark the render stage: median in-process time of render_email, and the HTML's size.

Run from the repository root: ``python benchmarks/render.py [--runs N]``. Renders the
example newsletter (digest/scaffold: its feed, config and templates; a synthetic
10-post digest when the feed is missing) and a synthetic 50-post digest. The
target is under 100 ms a render. "load + render" adds reading the feed each time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.config import Settings, load_settings  # noqa: E402
from digest.models import Digest, Post, RenderedEmail, new_token_key  # noqa: E402
from digest.render import render_email  # noqa: E402
from digest.sources import load_posts  # noqa: E402

SCAFFOLD = ROOT / "digest" / "scaffold"
NOW = datetime(2026, 2, 2, 17, 0, tzinfo=UTC)
EDITION = "2026-02-02"
PARAGRAPH = (
    "<p>Payroll, compliance and labor relations for film and television productions: "
    "what changed this week, what it costs, and what to do about it before the next "
    "pay period closes.</p>"
)


def synthetic_digest(count: int, site: str) -> Digest:
    """``count`` posts with images, summaries and a few kilobytes of content each."""
    posts = [
        Post(
            id=f"{site}/blog/post-{number}/",
            title=f"Synthetic post {number}: what the new rules mean for payroll teams",
            url=f"{site}/blog/post-{number}/",
            published=NOW - timedelta(days=number + 1),
            summary="A one-sentence summary of the post that runs to about the length "
            "editors usually write, neither terse nor rambling.",
            content=PARAGRAPH * 20,
            image=f"{site}/images/post-{number}.jpg",
            image_alt=f"Illustration for post {number}",
        )
        for number in range(count)
    ]
    return Digest(edition=EDITION, featured=posts[0], teasers=tuple(posts[1:]))


def example_posts(settings: Settings) -> list[Post]:
    return load_posts(
        settings.source.type,
        settings.source.location,
        base_dir=SCAFFOLD,
        site_url=settings.newsletter.site_url,
        timeout=settings.source.timeout,
    )


def example_digest(settings: Settings, posts: list[Post]) -> Digest:
    """The example edition: the post tagged "featured" first, then the newest others."""
    tag = settings.selection.featured_tag
    featured = next((post for post in posts if tag in post.tags), posts[0])
    teasers = [post for post in posts if post is not featured]
    limit = settings.selection.max_posts - 1
    return Digest(edition=EDITION, featured=featured, teasers=tuple(teasers[:limit]))


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def report(label: str, milliseconds: float, email: RenderedEmail | None = None) -> None:
    size = ""
    if email is not None:
        size_bytes = len(email.html.encode("utf-8"))
        size = f"  html {size_bytes:>7,} bytes ({size_bytes / 1024:.1f} KB)"
    print(f"{label:<34} median {milliseconds:7.1f} ms{size}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per case (default 30)")
    runs = parser.parse_args().runs

    settings = load_settings(SCAFFOLD / "digest.toml", env={})
    options = {
        "newsletter": settings.newsletter,
        "tracking": settings.tracking,
        "templates_dir": SCAFFOLD / "templates",
        "now": NOW,
        "token_key": new_token_key(),
    }
    site = settings.newsletter.site_url
    has_feed = (SCAFFOLD / settings.source.location).is_file()
    if has_feed:
        example = example_digest(settings, example_posts(settings))
        label = f"example ({len(example.posts)} posts)"
    else:
        example = synthetic_digest(10, site)
        label = "synthetic 10 posts (no feed)"
    email = render_email(example, **options)
    report(label, median_ms(lambda: render_email(example, **options), runs), email)
    if has_feed:
        report(
            "example load + render",
            median_ms(
                lambda: render_email(example_digest(settings, example_posts(settings)), **options),
                runs,
            ),
        )
    large = synthetic_digest(50, site)
    email = render_email(large, **options)
    report("synthetic 50 posts", median_ms(lambda: render_email(large, **options), runs), email)
    for warning in email.warnings:
        print(f"  warning: {warning}")


if __name__ == "__main__":
    main()
