"""The email in a real browser engine: no sideways scroll on phones, teasers that stack,
axe-core's accessibility rules, contrast from the computed colours, light and dark.

Headless Chromium (the system's /usr/bin/chromium) through Playwright; every
request but the page itself is answered locally (images get a small 16:9 PNG, the
rest is refused), so the test never touches the network. axe-core comes with the
axe-playwright-python package. Screenshots of the example land in
tests/render/screenshots/ (not in git) for a person to look at.
"""

from __future__ import annotations

import itertools
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
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
    png = tiny_png(16, 9)
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


# The example newsletter, checked the way an email developer audits one.

SCREENSHOTS = Path(__file__).parent / "screenshots"
SCHEMES = ["light", "dark"]
PHONES = [320, 375]
SERIOUS = {"serious", "critical"}

TEXT_STYLES = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  const background = (element) => {
    for (let node = element; node; node = node.parentElement) {
      const color = getComputedStyle(node).backgroundColor;
      if (!/rgba\\(.*, 0\\)$/.test(color) && color !== "transparent") return color;
    }
    return getComputedStyle(document.documentElement).backgroundColor;
  };
  while (walker.nextNode()) {
    const node = walker.currentNode, element = node.parentElement;
    if (!node.textContent.trim() || !element.getClientRects().length) continue;
    const style = getComputedStyle(element);
    if (style.visibility === "hidden" || parseFloat(style.opacity) === 0) continue;
    found.push({text: node.textContent.trim().slice(0, 40), color: style.color,
                background: background(element), size: parseFloat(style.fontSize),
                weight: parseInt(style.fontWeight, 10)});
  }
  return found;
}"""

CONTENT_BOXES = """() => {
  const teasers = Array.from(document.querySelectorAll('.teaser'));
  const rows = new Map();
  for (const teaser of teasers) {
    const parts = Array.from(teaser.querySelectorAll('img, td > div'))
      .map(e => e.getBoundingClientRect()).filter(r => r.height > 0);
    const box = {top: Math.min(...parts.map(r => r.top)),
                 bottom: Math.max(...parts.map(r => r.bottom))};
    const key = teaser.classList.contains('teaser-wide-image')
      ? teaser.parentElement : teaser;  // a wide teaser's picture and text are one teaser
    const known = rows.get(key) || rows.get(teaser.parentElement);
    if (known && known.wide) {
      known.top = Math.min(known.top, box.top); known.bottom = Math.max(known.bottom, box.bottom);
    } else {
      rows.set(key, {...box, wide: teaser.classList.contains('teaser-wide-image')});
    }
  }
  return Array.from(rows.values()).map(r => [r.top, r.bottom]);
}"""


def luminance(color: str) -> float:
    channels = [int(value) / 255 for value in re.findall(r"\d+", color)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", [375, 700])
def test_axe_finds_nothing_serious_in_the_example(
    tab: Tab, example: RenderedEmail, width: int, scheme: str
) -> None:
    page = tab.show(example.html, width, scheme)
    results = Axe().run(page, options={"resultTypes": ["violations"]}).response

    serious = [
        f"{violation['id']} ({violation['impact']}): {violation['nodes'][0]['html'][:120]}"
        for violation in results["violations"]
        if violation["impact"] in SERIOUS
    ]
    assert results["testEngine"]["name"] == "axe-core"
    assert serious == []


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_text_meets_aa_contrast_and_is_at_least_13px(
    tab: Tab, example: RenderedEmail, scheme: str
) -> None:
    texts = tab.show(example.html, 700, scheme).evaluate(TEXT_STYLES)

    assert len(texts) > 9 * 3  # at least each teaser's date, title and summary
    for text in texts:
        large = text["size"] >= 24 or (text["size"] >= 18.66 and text["weight"] >= 700)
        ratio = contrast(text["color"], text["background"])
        assert ratio >= (3 if large else 4.5), text
        assert text["size"] >= 13, text
    footer = [text for text in texts if text["text"].startswith("FTV Consulting, 1234")]
    assert footer and footer[0]["size"] >= 13


@pytest.mark.parametrize("width", PHONES)
def test_the_example_has_no_sideways_scroll_on_phones(
    tab: Tab, example: RenderedEmail, width: int
) -> None:
    page = tab.show(example.html, width)
    scroll_width, inner_width = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll_width <= inner_width == width


@pytest.mark.parametrize("width", PHONES)
def test_stacked_teasers_are_evenly_spaced_on_a_phone(
    tab: Tab, example: RenderedEmail, width: int
) -> None:
    boxes = tab.show(example.html, width).evaluate(CONTENT_BOXES)
    gaps = [round(after[0] - before[1]) for before, after in itertools.pairwise(boxes)]

    assert len(boxes) == 9
    assert min(gaps) > 12
    assert max(gaps) - min(gaps) <= 1, gaps


def test_teaser_pictures_are_thumbnails_beside_their_titles_on_a_phone(
    tab: Tab, example: RenderedEmail
) -> None:
    teasers = tab.show(example.html, 375).evaluate(
        """Array.from(document.querySelectorAll('h3')).map(h => {
             const teaser = h.closest('.teaser');
             const row = teaser.parentElement;
             const img = teaser.querySelector('img') || row.querySelector('.teaser-wide-image img');
             const [i, t] = [img.getBoundingClientRect(), h.getBoundingClientRect()];
             return [i.width, i.right, i.top, t.left, t.top, row.getBoundingClientRect().width];
           })"""
    )

    assert len(teasers) == 9
    for image_width, image_right, image_top, title_left, title_top, row_width in teasers:
        assert image_width <= row_width / 3
        assert title_left >= image_right
        assert abs(title_top - image_top) < 40


def test_images_are_as_wide_in_a_browser_as_outlook_is_told(
    tab: Tab, example: RenderedEmail
) -> None:
    sizes = tab.show(example.html, 700).evaluate(
        "Array.from(document.images)"
        ".map(i => [i.getBoundingClientRect().width, +i.getAttribute('width')])"
    )
    assert len(sizes) == 10
    assert all(shown == attribute for shown, attribute in sizes), sizes


def test_the_odd_teaser_fills_its_row_on_a_desktop(tab: Tab, example: RenderedEmail) -> None:
    page = tab.show(example.html, 700)
    rows = page.evaluate(
        """Array.from(document.querySelectorAll('.teaser')).map(t => {
             const r = t.getBoundingClientRect(); return [r.left, r.top, r.right]; })"""
    )
    *pairs, (image_left, image_top, _), (text_left, text_top, text_right) = rows

    assert len(pairs) == 8
    assert image_left == pairs[-2][0] and text_left == pairs[-1][0]
    assert text_right == pairs[-1][2] and text_top == image_top


def test_footer_links_are_thumb_sized(tab: Tab, example: RenderedEmail) -> None:
    boxes = tab.show(example.html, 375).evaluate(
        """Array.from(document.querySelectorAll('.footer a')).map(a => {
             const r = a.getBoundingClientRect(); return [a.textContent.trim(), r.height, r.width];
           })"""
    )
    assert [name for name, _, _ in boxes] == ["Unsubscribe", "View in browser"]
    assert all(height >= 44 and width >= 44 for _, height, width in boxes), boxes


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", [375, 700])
def test_screenshots_of_the_example_for_a_person_to_look_at(
    tab: Tab, example: RenderedEmail, width: int, scheme: str
) -> None:
    page = tab.show(example.html, width, scheme)
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"example-{width}-{scheme}.png"
    height = page.evaluate("document.documentElement.scrollHeight")
    page.screenshot(path=str(path), full_page=True)

    assert struct.unpack(">II", path.read_bytes()[16:24]) == (width, height)
