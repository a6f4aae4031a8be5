"""Values still at the example's domain: what `digest init` wrote and no one changed yet.

The example newsletter names its sender, site, unsubscribe endpoint and reasons at
``ftvconsulting.example.com``; ``example.com``, ``.net`` and ``.org`` and the
``.example`` top-level domain are reserved for examples (RFC 2606), so a value naming
one of them cannot be meant for readers. The one place that says so: `digest doctor`
warns with it, and so may any command that shows what a send would do.
"""

from __future__ import annotations

import re
from dataclasses import fields

from .settings import SECTIONS, Settings

# A host at a reserved example domain, or under one: example.com, news.example.org,
# ftvconsulting.example.com, shop.example (not "example" alone, a word of prose).
_EXAMPLE_HOST = re.compile(
    r"(?<![\w.-])(?:[a-z0-9-]+\.)*(?:example\.(?:com|net|org)|[a-z0-9-]+\.example)(?![\w-])",
    re.IGNORECASE,
)


def example_host(text: str) -> str:
    """The first host at an example domain that ``text`` names (an address, a URL, prose),
    lowercased; or ""."""
    found = _EXAMPLE_HOST.search(text.replace("@", " "))
    return found.group(0).lower() if found else ""


def example_values(settings: Settings) -> list[tuple[str, str]]:
    """Each key (``newsletter.from_email``) whose value names an example domain, with the
    host it names, in the order of the configuration reference."""
    found = []
    for section in SECTIONS:
        values = getattr(settings, section)
        for item in fields(values):
            value = getattr(values, item.name)
            host = example_host(value) if isinstance(value, str) else ""
            if host:
                found.append((f"{section}.{item.name}", host))
    return found


def example_domain_warning(settings: Settings) -> str:
    """One line naming every key still at the example's domain, and what to do; "" when
    there is none."""
    found = example_values(settings)
    if not found:
        return ""
    keys = ", ".join(key for key, _ in found)
    hosts = ", ".join(dict.fromkeys(host for _, host in found))
    return (
        f"{keys} still name the example's domain ({hosts}): set them to your own in"
        " digest.toml (or the DIGEST_* variables)"
    )
