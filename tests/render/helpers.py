"""Builders for the render tests: posts and digests made in code, and a small HTML reader."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from digest.config import Newsletter, Tracking
from digest.models import Digest, Post

SITE = "https://blog.example.com"
NOW = datetime(2026, 2, 2, 17, 0, tzinfo=UTC)
EDITION = "2026-02-02"
# The key of the tokens in every render of these tests (render_email draws none itself).
TOKEN_KEY = "k3J9xq2TmQ7a"
NEWSLETTER = Newsletter(
    name="Example Weekly",
    from_email="news@example.com",
    site_url=SITE,
    postal_address="Example Inc., 1 Main Street, Springfield, USA",
    view_online_url=f"{SITE}/newsletter/{{edition}}/",
)
TRACKING = Tracking(utm_source="newsletter", utm_medium="email", utm_campaign="digest-{edition}")


def make_post(number: int, **changes: Any) -> Post:
    """A dated post with an image, a summary and two paragraphs; override any field."""
    values: dict[str, Any] = {
        "id": f"{SITE}/posts/{number}/",
        "title": f"Post number {number}",
        "url": f"/posts/{number}/",
        "published": datetime(2026, 1, 30, 12, tzinfo=UTC) - timedelta(days=number),
        "summary": f"The summary of post {number}, one sentence long.",
        "content": f"<p>Paragraph one of post {number}.</p><p>Paragraph two.</p>",
        "image": f"/images/{number}.jpg",
        "image_alt": f"Picture for post {number}",
    }
    values.update(changes)
    return Post(**values)


def make_digest(count: int = 5, *teasers: Post, **featured_changes: Any) -> Digest:
    """A digest of ``count`` made-up posts (post 0 featured), then any ``teasers`` given."""
    made = [make_post(0, **featured_changes), *(make_post(n) for n in range(1, count))]
    return Digest(edition=EDITION, featured=made[0], teasers=(*made[1:], *teasers))


class Element:
    """One start tag: its name and attributes."""

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.attrs = attrs


class Page(HTMLParser):
    """The elements and the visible text of an HTML document, read with the standard parser."""

    INVISIBLE = frozenset({"style", "title", "script"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.texts: list[str] = []
        self.hidden = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {name: value or "" for name, value in attrs}))
        if tag in self.INVISIBLE:
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.INVISIBLE:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.texts.append(data)

    def all(self, tag: str) -> list[Element]:
        return [element for element in self.elements if element.tag == tag]

    def hrefs(self) -> list[str]:
        return [element.attrs["href"] for element in self.all("a") if "href" in element.attrs]

    def sources(self) -> list[str]:
        """Every ``src`` (images and anything else that loads one)."""
        return [element.attrs["src"] for element in self.elements if "src" in element.attrs]

    @property
    def text(self) -> str:
        """The text a reader sees, whitespace collapsed (the hidden preheader included)."""
        return " ".join(" ".join(self.texts).split())
