"""The one adapter for premailer: move CSS rules into style attributes.

MRML does not inline ``mj-style inline="inline"``; premailer does. It runs
offline (no stylesheet or font is fetched), never rewrites links (no base URL,
so substitution tokens in hrefs survive byte for byte), keeps ``!important``
in the media queries it cannot inline (phones, dark mode), and leaves alone
any ``<style data-premailer="ignore">`` block.
"""

from __future__ import annotations

import logging

import cssutils
from premailer import Premailer

# premailer checks the CSS it parses against cssutils' profiles of valid property values
# unless told not to, and ``disable_validation`` does not reach the style attributes it
# merges (merge_style.csstext_to_pairs). The check only logs, and compiling its profiles'
# regular expressions cost 60 ms of every process's first render: without profiles,
# the same output, sooner.
cssutils.profile.removeProfile(all=True)

DOCTYPE = "<!doctype html>"
MJML_RESET = '<style type="text/css">\n#outlook a'
MJML_RESET_KEPT = '<style type="text/css" data-premailer="ignore">\n#outlook a'


def inline_css(html: str) -> str:
    """``html`` with its CSS inlined; the doctype premailer drops is put back.

    MJML's own reset block (``#outlook a``, ``table, td``, ``img``...) stays in the
    head, as MJML intends: inlined, it would add some 60 bytes to every table cell
    and bring the email closer to Gmail's clipping size.
    """
    html = html.replace(MJML_RESET, MJML_RESET_KEPT, 1)
    inliner = Premailer(
        allow_network=False,
        strip_important=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
        disable_basic_attributes=["width", "height", "align", "valign", "bgcolor"],
        align_floating_images=False,
    )
    inlined = inliner.transform(html, pretty_print=False)
    if not inlined.lstrip().lower().startswith("<!doctype"):
        inlined = f"{DOCTYPE}\n{inlined}"
    return inlined
