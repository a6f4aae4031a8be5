"""Choose an edition's posts: a pure function of (posts, already-sent ids, now, settings).

Newest first, duplicates by canonical URL dropped (tracking parameters ignored),
posts sent in earlier editions left out, optionally only the last ``max_age_days``.
The featured post is the newest carrying ``featured_tag``, else the newest post.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .config import Selection
from .models import Digest, Post

TRACKING_PARAMETERS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "ref", "_hsenc", "_hsmi"}
)


def select_posts(
    posts: Iterable[Post],
    *,
    sent_ids: Collection[str],
    now: datetime,
    settings: Selection,
    edition: str,
) -> Digest | None:
    """The edition's digest, or None when no post is new enough and unsent."""
    sent_urls = {canonical_url(item) for item in sent_ids if "://" in item}
    fresh = [
        post
        for post in posts
        if post.id not in sent_ids
        and canonical_url(post.url) not in sent_urls
        and _recent(post, now, settings)
    ]
    ordered = _dedupe(sorted(fresh, key=_newest_first))
    if not ordered:
        return None
    featured = next((p for p in ordered if settings.featured_tag in p.tags), ordered[0])
    teasers = [post for post in ordered if post is not featured][: settings.max_posts - 1]
    return Digest(edition=edition, featured=featured, teasers=tuple(teasers))


def canonical_url(url: str) -> str:
    """The URL with tracking parameters, the fragment and a trailing slash difference removed."""
    parts = urlsplit(url.strip())
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_") and key.lower() not in TRACKING_PARAMETERS
    ]
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), path, urlencode(sorted(query)), "")
    )


def _recent(post: Post, now: datetime, settings: Selection) -> bool:
    """Within max_age_days of now; undated posts cannot be judged and are kept."""
    if settings.max_age_days == 0 or post.published is None:
        return True
    try:
        oldest = now - timedelta(days=settings.max_age_days)
    except OverflowError:  # the limit reaches back past year 1: no post is too old
        return True
    return post.published >= oldest


def _newest_first(post: Post) -> tuple[bool, float]:
    """Dated posts newest first, then undated posts in their source order (sort is stable)."""
    if post.published is None:
        return (True, 0.0)
    return (False, -post.published.astimezone(UTC).timestamp())


def _dedupe(posts: list[Post]) -> list[Post]:
    seen: set[str] = set()
    kept = []
    for post in posts:
        key = canonical_url(post.url) if post.url else post.id
        if key not in seen:
            seen.add(key)
            kept.append(post)
    return kept
