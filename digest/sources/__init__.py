"""The sources stage: read a blog's posts from a feed (file or URL) or a folder of Markdown.

Every post comes out safe to render: titles and summaries are plain text, content is
sanitized HTML, and every URL is absolute. Posts keep their source order; choosing and
ordering them is the selection stage's job.
"""

from __future__ import annotations

from pathlib import Path

from ..config.settings import SOURCE_TYPES
from ..errors import SourceError
from ..files import special_kind
from ..models import Post
from ..urls import is_url
from .feed import parse_feed
from .fetch import MAX_BYTES, fetch

__all__ = ["load_posts"]


def load_posts(
    kind: str, location: str, *, base_dir: Path, site_url: str, timeout: float
) -> list[Post]:
    """The posts at ``location``: a path relative to ``base_dir``, or an http(s) URL for a feed.

    ``site_url`` makes relative links absolute; ``timeout`` (seconds) bounds the whole
    download when the feed is fetched. Raises SourceError naming the file or URL on failure.
    """
    if kind == "feed":
        if is_url(location):
            return parse_feed(fetch(location, timeout=timeout), source=location, site_url=site_url)
        path = base_dir / Path(location).expanduser()
        return parse_feed(_read_bytes(path), source=str(path), site_url=site_url)
    if kind == "markdown":
        if is_url(location):
            raise SourceError(
                f"{location}: a markdown source is a folder, not a URL",
                'set [source] location to the folder of .md files, or type = "feed"',
            )
        # Imported here: markdown-it and PyYAML take a tenth of a second to import,
        # which every run of a feed-sourced newsletter would otherwise pay.
        from .markdown import read_folder

        return read_folder(base_dir / Path(location).expanduser(), site_url=site_url)
    raise SourceError(
        f"[source] type {kind!r} is unknown", f"use one of: {', '.join(SOURCE_TYPES)}"
    )


def _read_bytes(path: Path) -> bytes:
    """The feed file's bytes: a regular file of at most MAX_BYTES (a device such as
    /dev/urandom would be read until memory ran out)."""
    try:
        kind = special_kind(path)
        too_large = not kind and path.stat().st_size > MAX_BYTES
        data = b"" if kind or too_large else path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"{path}: no such feed file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the feed file ({exc.strerror})") from None
    if kind == "a folder":
        raise SourceError(
            f"{path}: is a folder, not a feed file",
            'for a folder of Markdown posts set [source] type = "markdown"',
        )
    if kind:
        raise SourceError(f"{path}: is {kind}, not a feed file")
    if too_large:
        raise SourceError(
            f"{path}: the feed file is larger than {MAX_BYTES // (1024 * 1024)} MB",
            "check [source] location: it should name the feed, not a large file",
        )
    return data
