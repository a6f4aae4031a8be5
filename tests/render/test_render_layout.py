"""The compiled email's structure: widths Outlook trusts, headings, links and alt text.

Outlook for Windows ignores CSS widths on images and sizes each by its ``width``
attribute, which MJML computes from the paddings around it; every other client
lays the image out by CSS. The two must agree, so each attribute is checked here
against the width the paddings in the HTML leave (the MJML box model).
"""

from __future__ import annotations

import re

import pytest

from digest.models import Digest, RenderedEmail
from tests.render.conftest import Render
from tests.render.helpers import EDITION, Element, Page, make_digest, make_post

COLUMN = re.compile(r"^mj-column-(per|px)-(\d+(?:-\d+)?)$")


def horizontal_padding(element: Element) -> float:
    """Left plus right padding, in px, of an element's style (shorthand then longhands)."""
    sides = [value for value in element.style("padding").split() if value]
    if not sides:
        left = right = 0.0
    else:
        values = [float(value.removesuffix("px") or 0) for value in sides]
        right = values[1] if len(values) > 1 else values[0]
        left = values[3] if len(values) == 4 else right
    for name in ("padding-left", "padding-right"):
        if element.style(name):
            value = float(element.style(name).removesuffix("px"))
            left, right = (value, right) if name == "padding-left" else (left, value)
    return left + right


def content_width(image: Element) -> float:
    """The width MJML's box model leaves for ``image``: the body's width less the section's
    padding, times the column's share, less the column's and the image cell's padding."""
    ancestors = image.ancestors
    column_at = next(
        index
        for index, element in enumerate(ancestors)
        if element.tag == "div" and any(COLUMN.match(name) for name in element.classes())
    )
    inner = [e for e in ancestors[:column_at] if e.tag == "td" and e.style("padding")]
    image_cell, column_cell = inner[0], inner[-1]
    column = ancestors[column_at]
    section_cell = next(e for e in ancestors[column_at:] if e.tag == "td" and e.style("padding"))
    body = next(e for e in ancestors[column_at:] if e.tag == "div" and e.style("max-width"))
    kind, share = next(m.groups() for n in column.classes() if (m := COLUMN.match(n)))
    box = float(body.style("max-width").removesuffix("px")) - horizontal_padding(section_cell)
    width = box * float(share.replace("-", ".")) / 100 if kind == "per" else float(share)
    return width - horizontal_padding(column_cell) - horizontal_padding(image_cell)


def digests() -> list[Digest]:
    bare = make_post(8, image="", title="No picture")
    return [
        make_digest(1),
        make_digest(2),
        make_digest(5),
        make_digest(6),
        make_digest(4, bare),
        make_digest(3, bare, make_post(9)),
    ]


@pytest.mark.parametrize("digest", digests(), ids=lambda d: f"{len(d.teasers)}-teasers")
def test_every_image_is_as_wide_as_its_column_leaves_room_for(
    render: Render, digest: Digest
) -> None:
    images = Page(render(digest).html).all("img")

    assert images
    for image in images:
        assert float(image.attrs["width"]) == content_width(image), image.attrs["src"]


def test_the_example_lead_image_and_teaser_images_fit_their_columns(
    example: RenderedEmail,
) -> None:
    images = Page(example.html).all("img")
    widths = [float(image.attrs["width"]) for image in images]

    assert widths == [content_width(image) for image in images]
    assert widths[0] > widths[1] and len(set(widths[1:])) == 1


def headings(page: Page, tag: str) -> list[str]:
    return [element.text for element in page.all(tag)]


def test_titles_are_headings_a_screen_reader_can_jump_between(render: Render) -> None:
    digest = make_digest(4)
    page = Page(render(digest).html)

    assert headings(page, "h1") == ["Post number 0"]
    assert headings(page, "h2") == ["More posts"]
    assert headings(page, "h3") == [post.title for post in digest.teasers]
    for heading in page.all("h1") + page.all("h2") + page.all("h3"):
        assert heading.style("margin") == "0", heading.text
        assert heading.style("font-size").endswith("px"), heading.text
        assert heading.style("font-family"), heading.text


def links_to(page: Page, url_part: str) -> list[Element]:
    return [a for a in page.all("a") if url_part in a.attrs.get("href", "")]


def test_each_teaser_is_one_link_and_the_button_says_where_it_goes(render: Render) -> None:
    digest = make_digest(4, title='Tips & "tricks"')
    page = Page(render(digest).html)

    for number in range(1, 4):
        (link,) = links_to(page, f"/posts/{number}/")
        assert link.parent is not None and link.parent.tag == "h3"
        assert link.text == f"Post number {number}"
    title, button = links_to(page, "/posts/0/")
    assert title.parent is not None and title.parent.tag == "h1"
    assert button.text == "Read the full story"
    assert button.attrs["aria-label"] == 'Read the full story: Tips & "tricks"'
    assert all(a.text or a.attrs.get("aria-label") for a in page.all("a"))


def test_alt_text_reads_well_with_images_blocked(render: Render) -> None:
    images = Page(render(make_digest(3)).html).all("img")

    assert len(images) == 3
    for image in images:
        assert image.attrs["alt"]
        assert image.style("font-family").startswith("-apple-system")
        assert float(image.style("font-size").removesuffix("px")) >= 14
        assert image.style("color") == "#374151"
        assert image.style("line-height")


def teaser_rows(page: Page) -> list[list[Element]]:
    """The columns of each section that holds teasers, section by section."""
    rows: dict[int, list[Element]] = {}
    for column in (div for div in page.all("div") if "teaser" in div.classes()):
        section = next(e for e in column.ancestors if e.tag == "td" and e.style("padding"))
        rows.setdefault(id(section), []).append(column)
    return list(rows.values())


def share(column: Element) -> int:
    return next(int(m.group(2)) for n in column.classes() if (m := COLUMN.match(n)))


@pytest.mark.parametrize("count", [1, 3, 9])
def test_an_odd_teaser_count_leaves_no_hole_in_the_last_row(render: Render, count: int) -> None:
    teasers = tuple(make_post(n) for n in range(1, count + 1))
    email = render(Digest(edition=EDITION, featured=make_post(0), teasers=teasers))
    rows = teaser_rows(Page(email.html))

    assert len(rows) == (count + 1) // 2
    assert all(sum(share(column) for column in row) == 100 for row in rows)
    last = rows[-1]
    assert "teaser-wide-image" in last[0].classes()
    assert Page(email.html).all("h3")[-1].text == f"Post number {count}"
