"""Selection: only posts not seen before, newest first, deduplicated, featured by tag among
them, limited; and what was passed over, by why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.config import Selection
from digest.models import Post
from digest.select import (
    OVER_LIMIT,
    SAME_LINK,
    SEEN,
    TOO_OLD,
    Choice,
    canonical_url,
    select_posts,
)

NOW = datetime(2026, 2, 1, 12, tzinfo=UTC)


def post(slug: str, days_ago: float | None, tags: tuple[str, ...] = (), url: str = "") -> Post:
    published = None if days_ago is None else NOW - timedelta(days=days_ago)
    link = url or f"https://blog.example.com/{slug}/"
    return Post(id=link, title=slug, url=link, published=published, tags=tags)


def pick(posts: list[Post], seen: set[str] | None = None, **settings: object) -> Choice:
    return select_posts(
        posts, seen_ids=seen or set(), now=NOW, settings=Selection(**settings), edition="k"
    )


def choose(posts: list[Post], seen: set[str] | None = None, **settings: object):
    return pick(posts, seen, **settings).digest


def test_newest_first_with_undated_posts_last_in_source_order() -> None:
    digest = choose([post("old", 9), post("u1", None), post("new", 1), post("u2", None)])
    assert [p.title for p in digest.posts] == ["new", "old", "u1", "u2"]


def test_the_featured_post_is_the_newest_carrying_the_tag() -> None:
    posts = [post("a", 1), post("pinned-old", 30, ("featured",)), post("pinned", 20, ("featured",))]
    digest = choose(posts)
    assert digest.featured.title == "pinned"
    assert [p.title for p in digest.teasers] == ["a", "pinned-old"]


def test_without_the_tag_the_newest_post_is_featured() -> None:
    assert choose([post("b", 2), post("a", 1)]).featured.title == "a"


def test_duplicates_differing_only_by_tracking_parameters_are_dropped() -> None:
    posts = [
        post("a", 1, url="https://blog.example.com/a/?utm_source=x&utm_medium=rss"),
        post("a-again", 2, url="https://blog.example.com/a?fbclid=123"),
        post("b", 3, url="https://blog.example.com/b/?page=2"),
    ]
    digest = choose(posts)
    assert [p.title for p in digest.posts] == ["a", "b"]


def test_canonical_url_keeps_meaningful_query_parameters() -> None:
    assert canonical_url("HTTPS://Blog.Example.com/x/?b=2&a=1&utm_campaign=z#top") == (
        "https://blog.example.com/x?a=1&b=2"
    )


def test_at_most_max_posts() -> None:
    digest = choose([post(str(i), i) for i in range(1, 20)], max_posts=5)
    assert len(digest.posts) == 5
    assert [p.title for p in digest.posts] == ["1", "2", "3", "4", "5"]


def test_max_age_days_leaves_out_backfilled_posts_but_zero_means_no_limit() -> None:
    posts = [post("fresh", 3), post("stale", 40)]
    assert [p.title for p in choose(posts, max_age_days=7).posts] == ["fresh"]
    assert len(choose(posts, max_age_days=0).posts) == 2


def test_posts_seen_in_earlier_editions_are_excluded() -> None:
    posts = [post("a", 1), post("b", 2)]
    digest = choose(posts, seen={"https://blog.example.com/a/"})
    assert [p.title for p in digest.posts] == ["b"]
    tracked = post("a", 1, url="https://blog.example.com/a/?utm_source=feed")
    assert choose([tracked], seen={"https://blog.example.com/a/"}) is None


def test_a_post_whose_guid_changed_is_still_seen_by_its_url() -> None:
    moved = Post(id="tag:blog.example.com,2026:a", title="a", url="https://blog.example.com/a/")
    first = pick([moved])
    assert set(first.shown) == {"tag:blog.example.com,2026:a", "https://blog.example.com/a/"}
    renamed = Post(id="urn:uuid:1234", title="a", url="https://blog.example.com/a/?utm_source=x")
    assert choose([renamed], seen=set(first.shown)) is None


def test_nothing_new_gives_no_digest() -> None:
    assert choose([post("a", 1)], seen={"https://blog.example.com/a/"}) is None
    assert choose([]) is None


def test_the_first_edition_takes_the_newest_and_shows_every_post_to_be_seen() -> None:
    posts = [post(f"p{i}", i) for i in range(1, 16)]
    first = pick(posts, max_posts=10)
    assert [p.title for p in first.digest.posts] == [f"p{i}" for i in range(1, 11)]
    assert (first.seen, first.too_old, first.over_limit) == (0, 0, 5)
    assert set(first.shown) >= {p.id for p in posts}
    new = post("new", 0.5)
    second = pick([new, *posts], set(first.shown), max_posts=10)
    assert [p.title for p in second.digest.posts] == ["new"]
    assert (second.seen, second.too_old, second.over_limit) == (15, 0, 0)
    assert second.describe_passed_over() == "15 passed over: 15 seen in earlier editions"


def test_the_featured_post_is_never_one_seen_before_or_too_old() -> None:
    pinned_seen = post("pinned-seen", 3, ("featured",))
    pinned_old = post("pinned-old", 400, ("featured",))
    fresh = [post("a", 1), post("b", 2)]
    choice = pick([pinned_seen, pinned_old, *fresh], {pinned_seen.id}, max_age_days=30)
    assert choice.digest.featured.title == "a"
    assert [p.title for p in choice.digest.posts] == ["a", "b"]
    assert (choice.seen, choice.too_old) == (1, 1)
    assert choice.describe_passed_over() == (
        "2 passed over: 1 seen in earlier editions, 1 too old (selection.max_age_days)"
    )
    nothing = pick([pinned_seen, pinned_old], {pinned_seen.id}, max_age_days=30)
    assert nothing.digest is None
    assert (nothing.seen, nothing.too_old, nothing.over_limit) == (1, 1, 0)


def test_a_max_age_reaching_back_past_year_one_keeps_every_post() -> None:
    early = datetime(100, 1, 1, tzinfo=UTC)
    posts = [Post(id="p", title="p", url="https://blog.example.com/p/", published=early)]
    digest = select_posts(
        posts, seen_ids=set(), now=early, settings=Selection(max_age_days=36500), edition="k"
    ).digest
    assert digest is not None
    assert digest.featured.title == "p"


def test_each_post_passed_over_is_named_with_why_in_the_source_order() -> None:
    seen = post("seen", 1)
    stale = post("stale", 400)
    fresh = post("fresh", 2, url="https://blog.example.com/fresh/")
    again = post("fresh-again", 3, url="https://blog.example.com/fresh?utm_source=feed")
    extra = post("extra", 5)
    kept = post("kept", 4)
    choice = pick([seen, stale, again, extra, fresh, kept], {seen.id}, max_age_days=30, max_posts=2)
    assert [p.title for p in choice.digest.posts] == ["fresh", "kept"]
    assert [(p.title, why) for p, why in choice.passed] == [
        ("seen", SEEN),
        ("stale", TOO_OLD),
        ("fresh-again", SAME_LINK),
        ("extra", OVER_LIMIT),
    ]
    assert choice.describe_passed_over() == (
        "4 passed over: 1 seen in earlier editions, 1 too old (selection.max_age_days), "
        "1 with another's link, 1 over selection.max_posts"
    )
