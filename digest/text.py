"""Plain functions about text that every stage may use.

Untrusted text (a subscriber's name, a feed's title, a server's error message) reaches
the terminal in digest's own lines. A terminal obeys what such text may hide: escape
sequences that clear the screen, set the window title or recolour what follows,
carriage returns and backspaces that overwrite a line, bidirectional overrides
that show text in another order than it is. ``terminal_safe`` shows each of those
as an inert escape instead, and leaves every other character as it is.
"""

from __future__ import annotations

import re

# Every control character (C0 with tab, newline, carriage return, backspace, bell and
# ESC; DEL; C1 with CSI), the line and paragraph separators, the bidirectional
# embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), and lone
# surrogates, which no terminal encoding can write.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def terminal_safe(text: str) -> str:
    """``text`` with each character a terminal would act on shown as its Python escape
    (``\\x1b``, ``\\n``, ``\\u202e``): one line that looks like what it says."""
    if text.isprintable():  # the common case: nothing above is printable
        return text
    return _UNSAFE.sub(_escape, text)


def _escape(found: re.Match[str]) -> str:
    return ascii(found.group())[1:-1]
