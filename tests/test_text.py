"""terminal_safe: what a terminal would act on is shown inert; other text is left alone.
And the words of messages: counts with their nouns, times, the nearest choice."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from digest.text import closest, plural, readable_time, terminal_safe


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


@pytest.mark.parametrize(
    ("count", "noun", "nouns", "said"),
    [
        (1, "post", "", "1 post"),
        (0, "post", "", "0 posts"),
        (2, "message", "", "2 messages"),
        (1, "address", "addresses", "1 address"),
        (3, "address", "addresses", "3 addresses"),
    ],
)
def test_a_count_takes_its_noun_in_the_right_number(
    count: int, noun: str, nouns: str, said: str
) -> None:
    assert plural(count, noun, nouns) == said


def test_a_time_reads_to_the_minute_with_its_zone() -> None:
    moment = datetime(2026, 12, 7, 14, 7, 44, 102539, tzinfo=UTC)
    assert readable_time(moment) == "2026-12-07 14:07 UTC"
    assert readable_time(moment, ZoneInfo("America/Los_Angeles")) == "2026-12-07 06:07 PST"
    summer = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
    assert readable_time(summer, ZoneInfo("America/Los_Angeles")) == "2026-03-09 09:00 PDT"


def test_a_time_in_a_zone_named_or_without_an_abbreviation_shows_its_offset() -> None:
    moment = datetime(2026, 12, 7, 14, 7, tzinfo=UTC)
    assert readable_time(moment, "America/Los_Angeles") == "2026-12-07 06:07 PST"
    assert readable_time(moment, "Asia/Dubai") == "2026-12-07 18:07 +0400"
    assert readable_time(moment, "Asia/Kathmandu") == "2026-12-07 19:52 +0545"


def test_the_nearest_choice_or_none() -> None:
    assert closest("max_post", ["max_posts", "max_age_days", "featured_tag"]) == "max_posts"
    assert closest("zzz", ["max_posts", "max_age_days"]) is None
