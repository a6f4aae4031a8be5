"""Selection: newest first, deduplicated, featured by tag, limited, and never repeated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.config import Selection
from digest.models import Post
from digest.select import canonical_url, select_posts

NOW = datetime(2026, 2, 1, 12, tzinfo=UTC)


def post(slug: str, days_ago: float | None, tags: tuple[str, ...] = (), url: str = "") -> Post:
    published = None if days_ago is None else NOW - timedelta(days=days_ago)
    link = url or f"https://blog.example.com/{slug}/"
    return Post(id=link, title=slug, url=link, published=published, tags=tags)


def choose(posts: list[Post], sent: set[str] | None = None, **settings: object):
    return select_posts(
        posts, sent_ids=sent or set(), now=NOW, settings=Selection(**settings), edition="k"
    )


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


def test_posts_sent_in_earlier_editions_are_excluded() -> None:
    posts = [post("a", 1), post("b", 2)]
    digest = choose(posts, sent={"https://blog.example.com/a/"})
    assert [p.title for p in digest.posts] == ["b"]
    tracked = post("a", 1, url="https://blog.example.com/a/?utm_source=feed")
    assert choose([tracked], sent={"https://blog.example.com/a/"}) is None


def test_nothing_new_gives_no_digest() -> None:
    assert choose([post("a", 1)], sent={"https://blog.example.com/a/"}) is None
    assert choose([]) is None


def test_a_max_age_reaching_back_past_year_one_keeps_every_post() -> None:
    early = datetime(100, 1, 1, tzinfo=UTC)
    posts = [Post(id="p", title="p", url="https://blog.example.com/p/", published=early)]
    digest = select_posts(
        posts, sent_ids=set(), now=early, settings=Selection(max_age_days=36500), edition="k"
    )
    assert digest is not None
    assert digest.featured.title == "p"
