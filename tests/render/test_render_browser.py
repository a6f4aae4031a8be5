"""The email in a real browser engine: no sideways scroll on phones, teasers that stack.

Headless Chromium (the system's /usr/bin/chromium) through Playwright; every
request but the page itself is answered locally (images get a tiny PNG, the
rest is refused), so the test never touches the network.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, Route, sync_playwright

from digest.models import RenderedEmail
from tests.render.conftest import Render
from tests.render.helpers import make_digest, make_post

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A valid grey PNG, built here so no file or network is needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def tab() -> Iterator[Tab]:
    """One headless Chromium tab, offline: images get a tiny PNG, every other request fails."""
    png = tiny_png()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = chromium.new_page()

        def answer(route: Route) -> None:
            if route.request.resource_type == "image":
                route.fulfill(status=200, content_type="image/png", body=png)
            else:
                route.abort()

        page.route("**/*", answer)
        yield Tab(page)
        chromium.close()


class Tab:
    """The browser tab, showing one email at a time."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def show(self, html: str, width: int, scheme: str = "light") -> Page:
        self.page.set_viewport_size({"width": width, "height": 900})
        self.page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        self.page.set_content(html, wait_until="load")
        return self.page


@pytest.fixture
def email(render: Render) -> RenderedEmail:
    """A digest with a long unbreakable word and a teaser without an image: the hard cases."""
    long_word = "Supercalifragilisticexpialidocious" * 2
    bare = make_post(9, title="A teaser without a picture", image="", published=None)
    return render(make_digest(6, bare, title=f"Featured: {long_word}"))


def teaser_boxes(page: Page) -> list[dict[str, float]]:
    boxes = [element.bounding_box() for element in page.query_selector_all(".teaser")]
    return [box for box in boxes if box is not None]


@pytest.mark.parametrize("width", [320, 375, 600, 700])
def test_no_sideways_scroll(tab: Tab, email: RenderedEmail, width: int) -> None:
    page = tab.show(email.html, width)
    scroll_width, inner_width = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert inner_width == width
    assert scroll_width <= inner_width


def test_teasers_stack_on_a_phone(tab: Tab, email: RenderedEmail) -> None:
    boxes = teaser_boxes(tab.show(email.html, 375))

    assert len(boxes) == 6
    assert len({round(box["x"]) for box in boxes}) == 1
    tops = [box["y"] for box in boxes]
    assert tops == sorted(tops) and len(set(tops)) == 6
    assert all(box["width"] > 300 for box in boxes)


def test_teasers_sit_side_by_side_on_a_desktop(tab: Tab, email: RenderedEmail) -> None:
    boxes = teaser_boxes(tab.show(email.html, 700))

    assert len(boxes) == 6
    for left, right in zip(boxes[0::2], boxes[1::2], strict=True):
        assert round(left["y"]) == round(right["y"])
        assert right["x"] >= left["x"] + left["width"] - 1
    assert all(box["width"] <= 300 for box in boxes)


def test_images_load_and_have_alt_text(tab: Tab, email: RenderedEmail) -> None:
    images = tab.show(email.html, 600).evaluate(
        "Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])"
    )

    assert len(images) == 6
    assert all(alt.strip() and loaded for alt, loaded in images)


def test_dark_mode_darkens_the_card(tab: Tab, email: RenderedEmail) -> None:
    colors = {
        scheme: tab.show(email.html, 700, scheme).evaluate(
            "[getComputedStyle(document.querySelector('.card')).backgroundColor,"
            " getComputedStyle(document.querySelector('.title a')).color]"
        )
        for scheme in ("light", "dark")
    }

    assert colors["light"] == ["rgb(255, 255, 255)", "rgb(17, 24, 39)"]
    assert colors["dark"] == ["rgb(26, 29, 35)", "rgb(243, 244, 246)"]
