"""terminal_safe: what a terminal would act on is shown inert; other text is left alone."""

from __future__ import annotations

import pytest

from digest.text import terminal_safe


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2J\x1b]0;pwned\x07", "\\x1b[2J\\x1b]0;pwned\\x07"),  # clear screen, set title
        ("paid\rrefunded", "paid\\rrefunded"),  # a carriage return would overwrite the line
        ("yes\x08\x08\x08no", "yes\\x08\\x08\\x08no"),  # backspaces
        ("\x9b31mred", "\\x9b31mred"),  # the one-byte CSI of C1
        ("\x85next line", "\\x85next line"),
        ("one\ntwo\tthree", "one\\ntwo\\tthree"),  # one printed line stays one line
        ("ada\u202egnp.exe", "ada\\u202egnp.exe"),  # right-to-left override
        ("\u2066isolated\u2069", "\\u2066isolated\\u2069"),  # isolates
        ("\u202aembedded\u202c", "\\u202aembedded\\u202c"),  # embeddings
        ("a\u2028b", "a\\u2028b"),
        ("broken \ud800 half", "broken \\ud800 half"),  # a lone surrogate cannot be written
        ("\x7f", "\\x7f"),
    ],
)
def test_what_a_terminal_would_obey_is_shown_as_an_escape(text: str, shown: str) -> None:
    assert terminal_safe(text) == shown
    assert terminal_safe(text).isprintable()


@pytest.mark.parametrize(
    "text",
    [
        "Ada Lovelace <ada@example.com>: duplicate of line 2",
        "José Müller, 東京, Ελληνικά, עברית, العربية",  # other scripts, right-to-left too
        "👩‍💻 [bold red]not markup[/] :smile:",  # an emoji with its joiner; brackets
        "a\u00a0non-breaking space and a soft\u00adhyphen",
        "",
    ],
)
def test_ordinary_text_is_left_as_it_is(text: str) -> None:
    assert terminal_safe(text) == text
