"""Choose an edition's posts: a pure function of (posts, seen ids, now, settings).

Only posts that appeared since the previous edition are candidates: every post id a
source showed when an edition was made is *seen* (the ledger records them as its send
starts), and seen posts are never selected again, so an archive of old posts never
floods later editions; the first edition takes the newest and the rest become seen with
it. Among the candidates: optionally only the last ``max_age_days``, newest first,
duplicates by canonical URL dropped (tracking parameters ignored), the featured post
the newest carrying ``featured_tag`` (else the newest), at most ``max_posts`` in all.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .config import Selection
from .models import Digest, Post

TRACKING_PARAMETERS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "ref", "_hsenc", "_hsmi"}
)


@dataclass(frozen=True)
class Choice:
    """What selection made of a source's posts: the edition's digest (None: nothing new),
    the ids the source showed (seen once the edition's send starts), and how many posts
    it passed over, by why: seen before, older than ``max_age_days``, past ``max_posts``.
    """

    digest: Digest | None
    shown: tuple[str, ...]
    seen: int = 0
    too_old: int = 0
    over_limit: int = 0

    @property
    def passed_over(self) -> int:
        return self.seen + self.too_old + self.over_limit

    def describe_passed_over(self) -> str:
        """'12 passed over: 10 seen in earlier editions, 2 older than 30 days', or ''."""
        parts = [
            f"{self.seen} seen in earlier editions" if self.seen else "",
            f"{self.too_old} too old (selection.max_age_days)" if self.too_old else "",
            f"{self.over_limit} over selection.max_posts" if self.over_limit else "",
        ]
        said = ", ".join(part for part in parts if part)
        return f"{self.passed_over} passed over: {said}" if said else ""


def select_posts(
    posts: Iterable[Post],
    *,
    seen_ids: Collection[str],
    now: datetime,
    settings: Selection,
    edition: str,
) -> Choice:
    """The edition's digest from the posts not seen before, and what was passed over."""
    shown = list(posts)
    seen_urls = {canonical_url(item) for item in seen_ids if "://" in item}
    unseen = [
        post
        for post in shown
        if post.id not in seen_ids and canonical_url(post.url) not in seen_urls
    ]
    recent = [post for post in unseen if _recent(post, now, settings)]
    ordered = _dedupe(sorted(recent, key=_newest_first))
    ids = tuple(dict.fromkeys(item for post in shown for item in (post.id, post.url) if item))
    counts = {"seen": len(shown) - len(unseen), "too_old": len(unseen) - len(recent)}
    if not ordered:
        return Choice(None, ids, **counts)
    featured = next((p for p in ordered if settings.featured_tag in p.tags), ordered[0])
    teasers = [post for post in ordered if post is not featured][: settings.max_posts - 1]
    digest = Digest(edition=edition, featured=featured, teasers=tuple(teasers))
    return Choice(digest, ids, **counts, over_limit=len(ordered) - 1 - len(teasers))


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
