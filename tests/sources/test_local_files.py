"""Local sources are bounded: a device, a pipe or a huge file is refused in one line, not
read until memory runs out (/dev/urandom as a feed ended in a MemoryError)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.sources import load_posts

SITE = "https://local.example.com"


def load(kind: str, location: str, base_dir: Path) -> None:
    load_posts(kind, location, base_dir=base_dir, site_url=SITE, timeout=5)


@pytest.mark.parametrize("device", ["/dev/urandom", "/dev/zero", "/dev/null"])
def test_a_device_as_the_feed_is_one_line(tmp_path: Path, device: str) -> None:
    with pytest.raises(SourceError) as caught:
        load("feed", device, tmp_path)
    assert str(caught.value) == (
        f"{device}: is a device, not a feed file; check [source] location in digest.toml"
    )


def test_a_named_pipe_as_the_feed_is_refused_without_waiting_for_a_writer(
    tmp_path: Path,
) -> None:
    os.mkfifo(tmp_path / "feed.xml")
    with pytest.raises(SourceError, match=r"feed\.xml: is a named pipe, not a feed file"):
        load("feed", "feed.xml", tmp_path)


def test_a_feed_file_over_20_mb_is_refused_unread(tmp_path: Path) -> None:
    with (tmp_path / "feed.xml").open("wb") as feed:
        feed.truncate(20 * 1024 * 1024 + 1)
    with pytest.raises(SourceError) as caught:
        load("feed", "feed.xml", tmp_path)
    assert str(caught.value).startswith(
        f"{tmp_path / 'feed.xml'}: the feed file is larger than 20 MB; check [source] location"
    )


def test_a_markdown_file_over_20_mb_is_refused_unread(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "fine.md").write_text("---\ntitle: Fine\n---\nBody.\n", encoding="utf-8")
    with (posts / "huge.md").open("wb") as huge:
        huge.truncate(20 * 1024 * 1024 + 1)
    with pytest.raises(SourceError, match=r"huge\.md: larger than 20 MB, more than any post"):
        load("markdown", "posts", tmp_path)
