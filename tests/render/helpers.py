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
    """One element: its name, attributes, the element it sits in, and the text inside it."""

    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.texts: list[str] = []

    @property
    def ancestors(self) -> list[Element]:
        """The enclosing elements, innermost first."""
        found, element = [], self.parent
        while element is not None:
            found.append(element)
            element = element.parent
        return found

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())

    def style(self, name: str) -> str:
        """The value of one property in the element's style attribute ("" when unset)."""
        for declaration in self.attrs.get("style", "").split(";"):
            key, _, value = declaration.partition(":")
            if key.strip().lower() == name:
                return value.strip()
        return ""

    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()


class Page(HTMLParser):
    """The elements and the visible text of an HTML document, read with the standard parser.

    Conditional comments (``<!--[if mso]>``) are comments here, as in every client but Outlook.
    """

    INVISIBLE = frozenset({"style", "title", "script"})
    VOID = frozenset({"area", "base", "br", "col", "hr", "img", "input", "link", "meta", "source"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.texts: list[str] = []
        self.hidden = 0
        self.open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        parent = self.open[-1] if self.open else None
        element = Element(tag, {name: value or "" for name, value in attrs}, parent)
        self.elements.append(element)
        if tag not in self.VOID:
            self.open.append(element)
        if tag in self.INVISIBLE:
            self.hidden += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.open.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.INVISIBLE:
            self.hidden -= 1
        if any(element.tag == tag for element in self.open):
            while self.open.pop().tag != tag:
                pass

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.texts.append(data)
            for element in self.open:
                element.texts.append(data)

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
