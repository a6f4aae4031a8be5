"""The editor's warnings about a finished email: each problem found, and the example clean."""

from __future__ import annotations

from dataclasses import replace

from digest.models import RenderedEmail
from digest.render.review import SUBJECT_MAX_CHARS, review

LINK = "https://news.example.com/unsubscribe?token=PREVIEW"
CLEAN = RenderedEmail(
    subject="A fine subject",
    preheader="What this edition is about.",
    html=(
        '<html><body><img src="https://news.example.com/a.png" alt="A chart">'
        '<a href="https://news.example.com/post/">Read</a>'
        f'<a href="{LINK}">Unsubscribe</a></body></html>'
    ),
    text="",
)


def test_a_clean_email_has_no_warnings() -> None:
    assert review(CLEAN, unsubscribe_link=LINK) == []


def test_each_problem_is_named() -> None:
    html = (
        '<img src="https://x.example/1.png"><img src="https://x.example/2.png" alt="  ">'
        '<a href="http://x.example/plain">plain</a><a href="HTTP://x.example/loud">loud</a>'
    )
    email = replace(CLEAN, subject="S" * (SUBJECT_MAX_CHARS + 1), preheader=" ", html=html)
    warnings = review(email, unsubscribe_link=LINK)
    assert len(warnings) == 5
    images, links, unsubscribe, subject, preheader = warnings
    assert images.startswith("2 images without alt text") and "https://x.example/2.png" in images
    assert links.startswith("2 links not https") and "http://x.example/plain" in links
    assert unsubscribe.startswith("no unsubscribe link")
    assert (
        subject == f"the subject is {SUBJECT_MAX_CHARS + 1} characters; inboxes cut it at about 78"
    )
    assert preheader.startswith("no preheader")


def test_no_unsubscribe_method_is_no_unsubscribe_link() -> None:
    assert review(CLEAN, unsubscribe_link="")[0].startswith("no unsubscribe link")


def test_the_unsubscribe_link_is_found_html_escaped() -> None:
    link = "https://news.example.com/u?a=1&token=PREVIEW"
    html = '<a href="https://news.example.com/u?a=1&amp;token=PREVIEW">Unsubscribe</a>'
    assert review(replace(CLEAN, html=html), unsubscribe_link=link) == []


def test_many_examples_are_cut_to_three() -> None:
    html = "".join(f'<img src="https://x.example/{n}.png">' for n in range(7))
    warning = review(replace(CLEAN, html=html + CLEAN.html), unsubscribe_link=LINK)[0]
    assert warning.startswith("7 images") and warning.endswith("and 4 more")
    assert "3.png" not in warning
