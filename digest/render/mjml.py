"""The one adapter for mjml-python (MRML, the Rust port of MJML): MJML markup in, HTML out."""

from __future__ import annotations

import re

from mjml import mjml2html

from ..errors import TemplateError

POSITION = re.compile(r"at position (\d+)")
CONTEXT_BYTES = 40


def compile_mjml(source: str, template: str) -> str:
    """Compile MJML to HTML, or raise a TemplateError naming ``template`` and MRML's reason.

    No web fonts: MJML's default Google Fonts import would make clients (and
    premailer) fetch fonts.googleapis.com, and the design uses a system font stack.
    """
    try:
        return mjml2html(source, fonts={}, disable_comments=True)
    except ValueError as exc:
        raise TemplateError(
            f"MJML could not compile {template}: {exc}{_near(source, str(exc))}",
            "check that every mj-* tag is closed and nested as MJML expects",
        ) from None


def _near(source: str, reason: str) -> str:
    """The rendered MJML around the byte offset MRML reports, to find the spot in the template."""
    found = POSITION.search(reason)
    if not found:
        return ""
    offset = int(found.group(1))
    snippet = source.encode("utf-8")[offset : offset + CONTEXT_BYTES].decode("utf-8", "replace")
    return f" (near {' '.join(snippet.split())!r})" if snippet.strip() else ""
