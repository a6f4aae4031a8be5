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


# Why selection passes over a post of the source (``Choice.passed``).
SEEN = "seen"  # its id or link was shown when an earlier edition was made
TOO_OLD = "too_old"  # published before max_age_days ago
SAME_LINK = "same_link"  # its link (canonical) is a post's ahead of it, newest first
OVER_LIMIT = "over_limit"  # past max_posts


@dataclass(frozen=True)
class Choice:
    """What selection made of a source's posts: the edition's digest (None: nothing new),
    the ids the source showed (seen once the edition's send starts), and each post it
    passed over, in the source's order, with why (SEEN, TOO_OLD, SAME_LINK, OVER_LIMIT).
    """

    digest: Digest | None
    shown: tuple[str, ...]
    passed: tuple[tuple[Post, str], ...] = ()

    @property
    def seen(self) -> int:
        return self._count(SEEN)

    @property
    def too_old(self) -> int:
        return self._count(TOO_OLD)

    @property
    def same_link(self) -> int:
        return self._count(SAME_LINK)

    @property
    def over_limit(self) -> int:
        return self._count(OVER_LIMIT)

    @property
    def passed_over(self) -> int:
        return len(self.passed)

    def _count(self, reason: str) -> int:
        return sum(1 for _, why in self.passed if why == reason)

    def describe_passed_over(self) -> str:
        """'12 passed over: 10 seen in earlier editions, 2 older than 30 days', or ''."""
        parts = [
            f"{self.seen} seen in earlier editions" if self.seen else "",
            f"{self.too_old} too old (selection.max_age_days)" if self.too_old else "",
            f"{self.same_link} with another's link" if self.same_link else "",
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
    why: dict[int, str] = {}  # by id(post): the posts passed over
    for post in shown:
        if post.id in seen_ids or canonical_url(post.url) in seen_urls:
            why[id(post)] = SEEN
        elif not _recent(post, now, settings):
            why[id(post)] = TOO_OLD
    ordered = sorted((post for post in shown if id(post) not in why), key=_newest_first)
    kept = _dedupe(ordered)
    why.update((id(post), SAME_LINK) for post in _left_out(ordered, kept))
    ids = tuple(dict.fromkeys(item for post in shown for item in (post.id, post.url) if item))
    digest = None
    if kept:
        featured = next((p for p in kept if settings.featured_tag in p.tags), kept[0])
        teasers = [post for post in kept if post is not featured][: settings.max_posts - 1]
        digest = Digest(edition=edition, featured=featured, teasers=tuple(teasers))
        why.update((id(post), OVER_LIMIT) for post in _left_out(kept, digest.posts))
    return Choice(digest, ids, tuple((post, why[id(post)]) for post in shown if id(post) in why))


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


def _left_out(posts: Iterable[Post], kept: Iterable[Post]) -> list[Post]:
    """The posts of ``posts`` that ``kept`` does not hold (the very objects)."""
    held = {id(post) for post in kept}
    return [post for post in posts if id(post) not in held]


def _dedupe(posts: list[Post]) -> list[Post]:
    seen: set[str] = set()
    kept = []
    for post in posts:
        key = canonical_url(post.url) if post.url else post.id
        if key not in seen:
            seen.add(key)
            kept.append(post)
    return kept
