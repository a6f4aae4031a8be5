"""An item's own link and image in any scheme but http(s) never become a link or an image."""

from __future__ import annotations

from pathlib import Path

from digest.sources import load_posts


def test_item_links_and_images_that_are_not_http_are_dropped(data_dir: Path) -> None:
    posts = load_posts("feed", "unsafe_urls.xml", base_dir=data_dir, site_url="", timeout=5)
    assert [post.title for post in posts] == [
        "A javascript link",
        "A javascript link in disguise",
        "A data link",
        "An ftp link and a file image",
        "A javascript guid",
    ]
    for post in posts:
        # A post without a usable link of its own links to the site's home page.
        assert post.url == "https://unsafe.example.com/", post.title
        assert post.image == "", post.title
        assert "src=" not in post.content and "href=" not in post.content, post.title
