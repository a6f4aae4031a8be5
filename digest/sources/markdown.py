"""Read a folder of Markdown posts with YAML front matter into Posts.

Front matter keys: title, date, updated, url, id, author, summary, image, image_alt,
tags (a list or a comma-separated string), draft (``true`` leaves the post out). The
body is CommonMark (plus tables and strikethrough) rendered by markdown-it-py, then
sanitized like any feed content. A title is plain text, shown as written (``<`` and
``&`` included, as JSON Feed's and RSS's are); the other front matter text is read as
a blog template would show it: markup stripped, entities decoded.

The folder is the editor's own, so mistakes in it (broken front matter, a date that
is not a date) are errors naming the file, where a feed from elsewhere is read leniently.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import frontmatter
import yaml
from markdown_it import MarkdownIt

from ..errors import SourceError
from ..models import Post
from ..urls import absolute_url
from .fetch import MAX_BYTES
from .sanitize import RawPost

SUFFIXES = {".md", ".markdown"}
_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})[-_]")
_NOT_SLUG = re.compile(r"[^\w]+")
_RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def read_folder(folder: Path, *, site_url: str) -> list[Post]:
    """The posts of every Markdown file in ``folder``, in file-name order, drafts left out."""
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "no such folder"
        raise SourceError(f"{folder}: {what}", "point [source] location at the folder of posts")
    files = sorted(
        path
        for path in folder.iterdir()
        if path.suffix.lower() in SUFFIXES and path.is_file() and not path.name.startswith(".")
    )
    posts = []
    for path in files:
        post = read_file(path, site_url=site_url)
        if post is not None:
            posts.append(post)
    return posts


def read_file(path: Path, *, site_url: str) -> Post | None:
    """One Markdown post, or None for a draft."""
    meta, body = _load(path)
    if meta.get("draft") is True:
        return None
    slug, date_from_name = _slug(path)
    url = _url(path, _field(path, meta, "url"), slug, site_url)
    raw = RawPost(
        id=_field(path, meta, "id") or url,
        url=url,
        title=html.escape(_field(path, meta, "title") or slug.replace("-", " ").capitalize()),
        published=_date(path, meta, "date") or date_from_name,
        updated=_date(path, meta, "updated"),
        author=_field(path, meta, "author"),
        summary=_field(path, meta, "summary"),
        content=_RENDERER.render(body),
        image=_field(path, meta, "image"),
        image_alt=_field(path, meta, "image_alt"),
        tags=_tags(path, meta),
    )
    return raw.to_post(site_url)


def _url(path: Path, given: str, slug: str, site_url: str) -> str:
    """The front matter url made absolute, else site_url + the slug of the file name."""
    site = absolute_url(site_url, "")
    if given:
        url = absolute_url(given, site)
        if not url:
            raise SourceError(
                f"{path}: url {given!r} is not an absolute http(s) URL and there is no "
                "[newsletter] site_url to resolve it against",
                f"fix url: in {path.name}, or set site_url in digest.toml",
            )
        return url
    if not site:
        raise SourceError(
            f"{path}: no url in the front matter and no [newsletter] site_url to derive it from",
            f"add url: to {path.name}, or set site_url in digest.toml",
        )
    return f"{site.rstrip('/')}/{quote(slug)}/"


def _load(path: Path) -> tuple[Mapping[str, Any], str]:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise SourceError(
                f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MB, more than any post",
                "move whatever it is out of the posts folder",
            )
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError(f"{path}: not UTF-8 text", "save the file as UTF-8") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror})", "check the file") from None
    try:
        document = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SourceError(
            f"{path}:{where} broken front matter ({problem})",
            "fix the YAML between the --- lines",
        ) from None
    except ValueError as exc:  # YAML reads 2026-02-30 as a date, which cannot be
        raise SourceError(
            f"{path}: front matter has an impossible date or time ({exc})",
            "write dates as real ones, YYYY-MM-DD",
        ) from None
    return document.metadata, document.content


def _field(path: Path, meta: Mapping[str, Any], key: str) -> str:
    value = meta.get(key)
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value).strip()
    raise SourceError(f"{path}: front matter {key} must be text", f"fix {key}: in {path.name}")


def _date(path: Path, meta: Mapping[str, Any], key: str) -> datetime | None:
    """YAML reads dates itself (a date, a naive or an aware datetime); text is ISO 8601."""
    value = meta.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise SourceError(
        f"{path}: front matter {key} is not a date: {value!r}",
        f"write {key}: as YYYY-MM-DD or an ISO 8601 date-time in {path.name}",
    )


def _tags(path: Path, meta: Mapping[str, Any]) -> list[str]:
    value = meta.get("tags")
    if value is None:
        return []
    if isinstance(value, str):
        return [tag.strip() for tag in value.split(",")]
    if isinstance(value, list) and all(isinstance(tag, (str, int, float)) for tag in value):
        return [str(tag).strip() for tag in value]
    raise SourceError(f"{path}: front matter tags must be a list", f"fix tags: in {path.name}")


def _slug(path: Path) -> tuple[str, datetime | None]:
    """The URL slug of a file name, and the date a ``YYYY-MM-DD-`` prefix gives (Jekyll style)."""
    stem = path.stem
    published = None
    match = _DATE_PREFIX.match(stem)
    if match:
        try:
            published = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
            stem = stem[match.end() :]
        except ValueError:
            published = None
    slug = _NOT_SLUG.sub("-", stem.lower()).strip("-_")
    return slug or "post", published
