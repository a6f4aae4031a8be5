"""The sanitizer adapter: what post HTML may keep, and plain text from HTML."""

from __future__ import annotations

import pytest

from digest.sources.sanitize import clean_html, html_to_text, summarize
from digest.urls import absolute_url

BASE = "https://blog.example.com/posts/"


@pytest.mark.parametrize(
    "html",
    [
        "<p>Keep <strong>strong</strong>, <em>em</em>, <code>code</code> and <br>breaks.</p>",
        '<ul><li>one</li></ul><ol start="3"><li>three</li></ol>',
        "<blockquote>Quoted</blockquote><h2>Two</h2><h3>Three</h3><h4>Four</h4>",
        "<pre><code>x = 1\n  y = 2</code></pre>",
        '<p dir="rtl" lang="ar">مرحبا</p>',
    ],
)
def test_safe_formatting_is_kept_as_is(html: str) -> None:
    assert clean_html(html, BASE) == html


def test_links_become_absolute_with_rel_noopener() -> None:
    assert clean_html('<a href="../about/">About</a>', BASE) == (
        '<a href="https://blog.example.com/about/" rel="noopener">About</a>'
    )


def test_an_empty_href_as_feedparser_leaves_javascript_links_keeps_only_the_text() -> None:
    assert clean_html('<p><a href="">click</a> <a href=" ">me</a></p>', BASE) == "<p>click me</p>"


def test_without_a_usable_base_relative_links_are_unwrapped_and_images_dropped() -> None:
    assert clean_html('<p><a href="/x">x</a><img src="/i.png" alt="i"></p>', "") == "<p>x</p>"


def test_images_keep_src_and_alt_only_and_always_have_an_alt() -> None:
    cleaned = clean_html('<img src="a.png" width="1200" height="800" title="t">', BASE)
    assert cleaned == f'<img src="{BASE}a.png" alt="">'


def test_image_sources_must_be_web_urls() -> None:
    assert clean_html('<img src="mailto:a@example.com" alt="m">', BASE) == ""


def test_html_to_text_separates_blocks_and_decodes_entities() -> None:
    text = html_to_text("<h2>Title</h2><p>One &amp; two</p><ul><li>a</li><li>b</li></ul>")
    assert text == "Title One & two a b"


def test_summarize_cuts_at_a_word_boundary() -> None:
    assert summarize("short text") == "short text"
    cut = summarize("alpha beta gamma delta", limit=15)
    assert cut == "alpha beta…"


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("/a/", "https://x.example.com/blog/", "https://x.example.com/a/"),
        ("b/", "https://x.example.com/blog/", "https://x.example.com/blog/b/"),
        ("//cdn.example.com/c.png", "", "https://cdn.example.com/c.png"),
        ("https://y.example.com/", "", "https://y.example.com/"),
        ("/a/", "", ""),
        ("javascript:alert(1)", "https://x.example.com/", ""),
        ("ftp://files.example.com/x", "https://x.example.com/", ""),
        ("  ", "https://x.example.com/", ""),
    ],
)
def test_absolute_url(url: str, base: str, expected: str) -> None:
    assert absolute_url(url, base) == expected


def test_a_link_stripped_of_its_url_is_unwrapped_whatever_its_other_attributes() -> None:
    cleaned = clean_html('<p><a dir="rtl" lang="he" href="javascript:x">שלום</a></p>', BASE)
    assert cleaned == "<p>שלום</p>"
