"""Excerpts, trimming and dates: plain text from sanitized HTML, bounded for posts of any size."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from digest.render.text import excerpt, format_date
from digest.text import html_to_text, trim


def test_html_to_text_keeps_words_apart_across_blocks() -> None:
    html = "<h2>Title</h2><p>One&nbsp;two &amp; <b>three</b></p><ul><li>a</li><li>b</li></ul>x<br>y"
    assert html_to_text(html) == "Title One two & three a b x y"


def test_html_to_text_skips_styles_and_scripts() -> None:
    assert html_to_text("<style>p{color:red}</style><p>Shown</p><script>hidden()</script>") == (
        "Shown"
    )


def test_trim_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    text = "The quick brown fox jumps over the lazy dog, again and again."
    assert trim(text, 100) == text
    assert trim(text, 24) == "The quick brown fox…"
    assert trim("Alpha, beta, gamma, delta", 20) == "Alpha, beta, gamma…"
    assert trim(text, 100, max_words=3) == "The quick brown…"
    assert len(trim(text, 24)) <= 24


def test_trim_cuts_a_single_long_word() -> None:
    assert trim("x" * 50, 10) == "x" * 9 + "…"


def test_excerpt_of_a_megabyte_is_bounded_and_fast() -> None:
    html = "<div>" + "<p>Lorem <em>ipsum</em> dolor sit amet, consectetur.</p>" * 25_000 + "</div>"
    assert len(html) > 1_000_000
    started = time.perf_counter()
    result = excerpt(html, 400, 60)
    assert time.perf_counter() - started < 0.25
    assert result.startswith("Lorem ipsum dolor sit amet, consectetur. Lorem ipsum")
    assert len(result) <= 400
    assert len(result.split()) <= 60
    assert result.endswith("…")


def test_excerpt_finds_text_after_a_megabyte_of_markup() -> None:
    html = '<img src="data:image/png;base64,' + "A" * 1_000_000 + '" alt="x"><p>Finally, words.</p>'
    started = time.perf_counter()
    assert excerpt(html, 400) == "Finally, words."
    assert time.perf_counter() - started < 0.25


def test_format_date() -> None:
    assert format_date(datetime(2026, 1, 30, 23, 59, tzinfo=UTC)) == "January 30, 2026"
    assert format_date(datetime(2025, 12, 1)) == "December 1, 2025"
    assert format_date(None) == ""
