"""Values still the example's: what a newsletter must not send with.

The bundled example newsletter (the repository's folder, ``digest init --example``) is
FTV Consulting's, at ftvconsulting.example.com; the sample feed ``digest init`` writes
when given none is a stand-in too. A value still at a reserved example domain (RFC 2606:
example.com, .net, .org and any name under .example), still the example's own (its name,
its postal address), or a source still reading the sample feed, would reach readers as
someone else's identity or as links to nowhere. ``build``, the dry run and ``doctor``
warn about them, through ``example_warning``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Any

from .settings import SECTIONS, Settings

# The example newsletter's digest.toml, shipped inside the package.
EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "scaffold" / "digest.toml"
# What `digest init` writes when no feed is given: a few posts saying they are samples.
SAMPLE_FEED = "sample-feed.xml"
_RESERVED = ("example.com", "example.net", "example.org", "example")
_NAMES = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def example_warning(settings: Settings) -> str:
    """One line naming every key still at the example's values ("" when none is)."""
    keys = example_keys(settings)
    if not keys:
        return ""
    return (
        f"still the example's: {', '.join(keys)}; set your own in digest.toml "
        "before a send (readers would get them)"
    )


def example_keys(settings: Settings) -> list[str]:
    """The keys (``newsletter.reply_to``) whose values are still the example's."""
    own = _example_values()
    found = []
    for name in SECTIONS:
        section = getattr(settings, name)
        for item in fields(section):
            label = f"{name}.{item.name}"
            value = getattr(section, item.name)
            if _is_example(value) or (label in own and own[label] == value):
                found.append(label)
    if Path(settings.source.location).name == SAMPLE_FEED and "source.location" not in found:
        found.append("source.location")
    return found


def is_example_domain(name: str) -> bool:
    """Whether a host or mail domain is a reserved example one (RFC 2606)."""
    name = name.lower().rstrip(".")
    return any(name == domain or name.endswith(f".{domain}") for domain in _RESERVED)


def _is_example(value: Any) -> bool:
    """Whether a setting's text names a host or address at an example domain."""
    texts = value if isinstance(value, list) else [value]
    return any(
        is_example_domain(found.group())
        for text in texts
        if isinstance(text, str)
        for found in _NAMES.finditer(text)
    )


@cache
def _example_values() -> dict[str, Any]:
    """The example's own values of the keys whose defaults it changes (its name, its
    postal address...), by key."""
    table = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    defaults = Settings()
    found = {}
    for name, section in table.items():
        for key, value in section.items():
            if getattr(getattr(defaults, name), key) != value:
                found[f"{name}.{key}"] = value
    return found
