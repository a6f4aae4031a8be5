"""The email as the preview's frames show it: light or dark, its links kept out of the preview.

Dark mode is emulated in the email itself, so it shows whatever the editor's own system
prefers: each ``(prefers-color-scheme: dark)`` of its styles is made always true (and
each ``light`` one never) in the dark frame, the other way round in the light one, and
its root's ``color-scheme`` is fixed to match, which is what a client in dark mode
applies. Links open in a new tab (``<base target="_blank">``), which the frame's sandbox
allows, never inside the frame.
"""

from __future__ import annotations

import re

LIGHT, DARK = "light", "dark"
SCHEMES = (LIGHT, DARK)
_SCHEME_QUERY = re.compile(r"\(\s*prefers-color-scheme\s*:\s*(dark|light)\s*\)", re.IGNORECASE)
_ALWAYS = "(min-width: 0px)"
_NEVER = "(max-width: 0px) and (min-width: 1px)"
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)

# How the frame's own response may be used: framed by the preview page alone, its
# pictures from anywhere (as a mail client shows them), its styles inline, no script.
FRAME_CSP = (
    "default-src 'none'; img-src http: https: data:; style-src 'unsafe-inline'; "
    "font-src http: https: data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)


def in_scheme(html: str, scheme: str) -> str:
    """``html`` showing as a mail client in ``scheme`` (light or dark) shows it."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}")

    def pick(found: re.Match[str]) -> str:
        return _ALWAYS if found.group(1).lower() == scheme else _NEVER

    styled = _SCHEME_QUERY.sub(pick, html)
    return _into_head(styled, f"<style>:root{{color-scheme:only {scheme} !important}}</style>")


def links_outside(html: str) -> str:
    """``html`` with its links opening in a new tab, never in the frame itself."""
    return _into_head(html, '<base target="_blank">')


def _into_head(html: str, markup: str) -> str:
    head = _HEAD.search(html)
    if head is None:
        return markup + html
    return html[: head.end()] + markup + html[head.end() :]
