"""Markup nested deeper than any post: cut before the sanitizer (quadratic in depth) sees
it, and its output cut where premailer would drop the rest of the email.

One post of 100,000 nested <div>s took the sanitizer over two minutes. The cut must
hold against markup written to slip past it (end tags a parser ignores, formatting a
parser reopens, tags it ignores, comments that end early) and leave ordinary, sloppy
posts whole.
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest

from digest.models import Post
from digest.sources import load_posts
from digest.sources.nesting import MAX_DEPTH, MAX_PARSE_DEPTH, cap_nesting
from digest.sources.sanitize import RawPost, clean_html

BASE = "https://deep.example.com/"
LEVELS = 100_000
# Generous: the uncut attacks below take from seconds to several minutes.
SECONDS = 5
_TAG = re.compile(r"<(/?)([a-z][a-z0-9]*)[^>]*>")
_VOID = {"br", "hr", "img", "col", "wbr"}


def depth(cleaned: str) -> int:
    """How deep the sanitizer's output nests (it is well formed: every element is closed)."""
    deepest = level = 0
    for closing, name in _TAG.findall(cleaned):
        if name in _VOID:
            continue
        level += -1 if closing else 1
        deepest = max(deepest, level)
    return deepest


def repeated(unit: str, times: int = LEVELS) -> str:
    return unit * times


ATTACKS = {
    "nested divs": repeated("<div>") + "x" + repeated("</div>"),
    "unclosed divs": repeated("<div>x"),
    "unclosed lists": repeated("<ul><li>x"),
    "blockquotes": repeated("<blockquote>"),
    "end tags a parser ignores": repeated("<div></span></p></li>"),
    "an end tag beyond a cell's scope": repeated("<div><table><tr><td>x</div>", LEVELS // 4),
    "an inline end tag past a block": repeated("<span>" + "<div>" * 90 + "</span>", 1000),
    "body end tags": repeated("<body>" + "<div>" * 90 + "</body>", 1000),
    "cells outside a table": repeated("<td>" + "<div>" * 90 + "</td>", 1000),
    "form end tags": repeated("<form>" + "<div>" * 90 + "</form>", 1000),
    "ignored table parts past formatting": repeated('<big></rp><font/><s></strike><tfoot dir="2">'),
    "formatting reopened in each paragraph": "".join(
        f'<p><b dir="{n}">x</p>' for n in range(LEVELS // 10)
    ),
    "the same formatting reopened": repeated("<p><b>x</p>"),
    "distinct unclosed fonts": "".join(f'<font color="{n}">' for n in range(LEVELS)),
    "a comment that ends at once": "<!-->" + repeated("<div>") + "-->",
    "a comment ended by --!>": "<!-- x --!>" + repeated("<div>") + "-->",
    "a quote outside any value": '<a "' + repeated("<div>") + '">',
    "style inside svg is markup": "<svg><style>" + repeated("<div>"),
    "style in a select": "<select><style><textarea></textarea>" + repeated("<div>"),
    "style in a noscript": "<noscript><style></noscript>" + repeated("<div>"),
    "a comment in a script in a select": "<select><script><!--</script></select>"
    + repeated("<div>"),
    "self-closing html breaking out of svg": "<svg><b>" + repeated("<x-y/><div/>"),
    "a Kelvin sign in a void name": repeated("<lin\u212a>") + repeated("<div>"),
}


@pytest.mark.parametrize("fragment", ATTACKS.values(), ids=ATTACKS.keys())
def test_deep_markup_is_cut_before_parsing_in_bounded_time(fragment: str) -> None:
    started = time.perf_counter()
    capped, cut = cap_nesting(fragment, MAX_PARSE_DEPTH)
    cleaned = clean_html(capped, BASE)
    assert time.perf_counter() - started < SECONDS
    assert cut
    assert depth(cleaned) <= 2 * MAX_PARSE_DEPTH


LEGIT = {
    "unclosed paragraphs": "".join(f"<p>Para {n}, <b>bold</b> and <i>it</i>" for n in range(500)),
    "table of unclosed cells": "<table>"
    + "".join(f"<tr><td>a{n}<td><p>b{n}" for n in range(500))
    + "</table>",
    "tables whose cells end with the table": "<table><tr><td>a<td>b</table>" * 300,
    "unclosed list items": "<ul>" + "".join(f"<li><p>item {n}" for n in range(500)) + "</ul>",
    "lists of unclosed items": "<ul><li>a<li>b</ul>" * 300,
    "definition list": "<dl>" + "".join(f"<dt>t{n}<dd>d{n}" for n in range(500)) + "</dl>",
    "options": "<select>" + "".join(f"<option>o{n}" for n in range(300)) + "</select>",
    "an inline svg": "<svg viewBox='0 0 9 9'>"
    + '<path d="M0 0L1 1"/>' * 150
    + "</svg>"
    + "<p>after</p>" * 200,
    "an unclosed font in 150 paragraphs": "".join(
        f'<p><font face="Arial" size="2">text {n}</p>' for n in range(150)
    ),
    "a new unclosed font in 150 cells": "<table>"
    + "".join(f'<tr><td><font color="#{n:06x}">x</td>' for n in range(150))
    + "</table>",
    "unclosed links": "".join(f'<a href="/{n}">link {n} ' for n in range(500)),
    "markup in a comment": "<!-- " + "<div>" * 500 + " -->" + "<p>x</p>" * 200,
    "markup in a script": "<script>" + "'<div>'" * 500 + "</script>" + "<p>x</p>" * 200,
    "void elements": "<br>" * 500 + '<img src="/x.png">' * 500 + "<hr/>" * 200,
    "30 nested lists": "<ul><li>" * 30 + "deep" + "</li></ul>" * 30 + "<p>x</p>" * 200,
    "less-than signs in text": "<pre>" + "a < b && c <3 <- d\n" * 500 + "</pre>" + "<p>x</p>" * 200,
    "upper case tags": "".join(f"<P>Para {n} <B>bold</B>" for n in range(500)),
}


@pytest.mark.parametrize("fragment", LEGIT.values(), ids=LEGIT.keys())
def test_ordinary_sloppy_html_is_left_whole(fragment: str) -> None:
    assert cap_nesting(fragment, MAX_PARSE_DEPTH) == (fragment, False)


@pytest.mark.parametrize("fragment", LEGIT.values(), ids=LEGIT.keys())
def test_the_count_of_well_formed_html_is_exact(fragment: str) -> None:
    """On the sanitizer's own (well-formed) output the count is the depth: cut at a depth
    the output reaches, it is cut; at the depth it has, it is whole."""
    cleaned = clean_html(fragment, BASE)
    deepest = depth(cleaned)
    assert cap_nesting(cleaned, deepest) == (cleaned, False)
    if deepest:
        assert cap_nesting(cleaned, deepest - 1)[1]


def test_whatever_the_markup_the_parser_stays_near_the_count() -> None:
    """Random tag soup, and random units repeated, cut at a small count: the sanitizer
    never builds much deeper. (Uncut, many of these nest several times deeper.) Raw text,
    SVG and the elements dropped with their content are left to the cases above: here
    they would hide the depth of what follows them."""
    names = [
        "a", "b", "i", "em", "strong", "code", "s", "u", "small", "font", "nobr", "div", "p",
        "span", "li", "ul", "ol", "dl", "dd", "dt", "table", "tbody", "thead", "tr", "td", "th",
        "caption", "blockquote", "pre", "h1", "h2", "br", "img", "hr", "x-y", "section", "form",
        "body", "html", "option", "optgroup", "rt", "rp",
    ]  # fmt: skip
    extras = ["<!--", "-->", "<!-->", "--!>", "<!x>", "</3>", '"', "'", '<a "', "x"]
    rng = random.Random(20260107)
    limit = 20

    def token() -> str:
        name, roll = rng.choice(names), rng.random()
        if roll < 0.6:
            return f'<{name} dir="{rng.randint(0, 3)}"{"/" if rng.random() < 0.1 else ""}>'
        return f"</{name}>" if roll < 0.92 else rng.choice(extras)

    for trial in range(600):
        if trial % 2:
            fragment = "".join(token() for _ in range(rng.randint(50, 1500)))
        else:
            fragment = "".join(token() for _ in range(rng.randint(2, 7))) * 150
        capped, _ = cap_nesting(fragment, limit)
        assert depth(clean_html(capped, BASE)) <= 2 * limit, capped


def deep_posts(deep_feed: Path) -> dict[str, Post]:
    posts = load_posts("feed", deep_feed.name, base_dir=deep_feed.parent, site_url="", timeout=5)
    return {post.title: post for post in posts}


def test_a_feed_with_a_post_100000_levels_deep_reads_in_seconds(deep_feed: Path) -> None:
    started = time.perf_counter()
    posts = deep_posts(deep_feed)
    assert time.perf_counter() - started < SECONDS
    divs = posts["Divs all the way down"]
    assert divs.content.startswith("<p>Before the descent.</p><div><div>")
    assert divs.warnings == (
        "post https://deep.example.com/posts/divs/: its content nests elements too deeply "
        f"(past {MAX_DEPTH} levels): it was cut there",
    )
    assert depth(divs.content) == MAX_DEPTH
    assert "nests elements" in posts["Lists in lists"].warnings[0]
    normal = posts["A normal post"]
    assert normal.content == "<p>Nothing odd <b>here</b>.</p><ul><li>one</li><li>two</li></ul>"
    assert normal.warnings == ()


def test_every_html_field_is_bounded_and_named_when_cut() -> None:
    deep = "<span>" * LEVELS + "x"
    raw = RawPost(url=BASE, title=deep, author=deep, summary=deep, image_alt=deep, tags=[deep])
    started = time.perf_counter()
    post = raw.to_post(BASE)
    assert post is not None
    assert time.perf_counter() - started < SECONDS
    named = [warning.split(": its ")[1].split(" nests")[0] for warning in post.warnings]
    assert named == ["title", "author", "image alt text", "tag"]
    assert post.summary == ""


def test_content_beyond_two_million_characters_is_cut_and_said() -> None:
    paragraph = "<p>" + "word " * 199 + "end.</p>"
    raw = RawPost(url=BASE, content=paragraph * 2_500)
    post = raw.to_post(BASE)
    assert post is not None
    assert 1_990_000 < len(post.content) < 2_000_010
    assert post.warnings == (
        f"post {BASE}: its content is longer than 2,000,000 characters: the rest was left out",
    )


def test_content_nested_past_what_premailer_keeps_is_cut_at_100_levels() -> None:
    """150 levels, well formed: read whole, but cut at 100 in the post (premailer would
    drop the rest of the email, unsubscribe link included, past about 250 with the
    email's own layout)."""
    raw = RawPost(url=BASE, content="<div>" * 150 + "deep" + "</div>" * 150 + "<p>after</p>")
    post = raw.to_post(BASE)
    assert post is not None
    assert depth(post.content) == MAX_DEPTH
    assert post.content.startswith("<div>" * MAX_DEPTH + "</div>")
    assert post.warnings == (
        f"post {BASE}: its content nests elements too deeply (past 100 levels): it was cut there",
    )
