"""The preview's page: one self-contained document (``assets/preview.html``, ``.css``, ``.js``),
its style and script allowed by their hashes.

The page asks the server for everything it shows (``/state``, JSON) and sets it as text,
so nothing from a feed, the list or a template is ever parsed as markup here; the email
itself shows only inside the two sandboxed frames (``/email``). It listens to
``/events`` and asks again at each new render. The per-run token that a test send
needs is in the page (a meta element), never in a cookie.
"""

from __future__ import annotations

import base64
import hashlib
import html
from importlib.resources import files

from ..render import GMAIL_CLIP_KB, SIZE_WARNING_KB

_ASSETS = files("digest.web") / "assets"
STYLE = (_ASSETS / "preview.css").read_text(encoding="utf-8")
SCRIPT = (_ASSETS / "preview.js").read_text(encoding="utf-8")
_DOCUMENT = (
    (_ASSETS / "preview.html")
    .read_text(encoding="utf-8")
    .replace("__STYLE__", STYLE)
    .replace("__SCRIPT__", SCRIPT)
    .replace("__CLIP_KB__", str(GMAIL_CLIP_KB))
    .replace("__WARN_KB__", str(SIZE_WARNING_KB))
)


def _hash(source: str) -> str:
    return base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()


PAGE_CSP = (
    f"default-src 'none'; script-src 'sha256-{_hash(SCRIPT)}'; "
    f"style-src 'sha256-{_hash(STYLE)}'; connect-src 'self'; frame-src 'self'; img-src 'self'; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)


def document(token: str) -> str:
    """The page, carrying the run's token for the test send."""
    return _DOCUMENT.replace("__TOKEN__", html.escape(token))
