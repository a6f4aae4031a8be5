"""What an editor should hear about a finished email before it reaches an inbox: images
without alt text, links that are not https, no unsubscribe link, a subject long enough to
be cut, no preheader. A pure look at the HTML and the subject (the size is render's own
warning, from 90 KB).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from ..models import RenderedEmail
from ..text import plural

# Where inboxes start cutting a subject line, and RFC 5322's advice for a header line.
SUBJECT_MAX_CHARS = 78
SHOWN = 3  # examples a warning names


@dataclass
class _Found:
    """What one pass over the HTML found."""

    images_without_alt: list[str] = field(default_factory=list)
    insecure_links: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found = _Found()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "img" and not values.get("alt", "").strip():
            self.found.images_without_alt.append(values.get("src", "") or "(no src)")
        if tag == "a" and "href" in values:
            href = values["href"].strip()
            self.found.links.append(href)
            if href[:7].lower() == "http://":
                self.found.insecure_links.append(href)


def review(email: RenderedEmail, *, unsubscribe_link: str) -> list[str]:
    """The warnings for ``email`` as one reader sees it (its tokens filled), whose
    unsubscribe link is ``unsubscribe_link`` ("" when no unsubscribe method is set)."""
    reader = _Reader()
    reader.feed(email.html)
    reader.close()
    found = reader.found
    warnings = []
    if found.images_without_alt:
        warnings.append(
            f"{plural(len(found.images_without_alt), 'image')} without alt text, which readers"
            f" with images off or a screen reader miss: {_some(found.images_without_alt)}"
        )
    if found.insecure_links:
        warnings.append(
            f"{plural(len(found.insecure_links), 'link')} not https, which mail clients may flag: "
            f"{_some(found.insecure_links)}"
        )
    if not unsubscribe_link or unsubscribe_link not in found.links:
        warnings.append(
            "no unsubscribe link: set unsubscribe.url or sendgrid.asm_group_id, and keep "
            "{{ unsubscribe_url }} in a link of the footer"
        )
    if len(email.subject) > SUBJECT_MAX_CHARS:
        warnings.append(
            f"the subject is {len(email.subject)} characters; inboxes cut it at about "
            f"{SUBJECT_MAX_CHARS}"
        )
    if not email.preheader.strip():
        warnings.append("no preheader: inboxes show the start of the email's text instead")
    return warnings


def _some(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")
