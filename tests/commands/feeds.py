"""Feeds written for command tests: numbered posts at dates of the test's choosing."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

from tests.commands.conftest import Folder


def post_url(slug: str) -> str:
    return f"https://blog.example.com/{slug}/"


def write_feed(folder: Folder, posts: list[tuple[str, str, datetime]]) -> None:
    """Replace the folder's feed.xml by an RSS feed of ``(slug, title, published)`` posts."""
    items = "".join(
        f"<item><title>{escape(title)}</title><link>{post_url(slug)}</link>"
        f'<guid isPermaLink="true">{post_url(slug)}</guid>'
        f"<pubDate>{format_datetime(published)}</pubDate>"
        f"<description>{escape(title)}: a post.</description></item>"
        for slug, title, published in posts
    )
    (folder.path / "feed.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Test blog</title><link>https://blog.example.com/</link>"
        f"<description>Posts</description>{items}</channel></rss>",
        encoding="utf-8",
    )
