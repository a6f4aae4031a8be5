"""A reader's values as templates ask for them: the greeting's first name, and the filters a
template puts on a per-reader value, as the sender applies them."""

from __future__ import annotations

import pytest

from digest.audience.values import compose, first_name, longest_default, nameless
from digest.models import TOKEN_FILTERS, default_filter


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("Ada Lovelace", "Ada"),
        ("Ada", "Ada"),
        ("  Grace   Brewster Hopper ", "Grace"),
        ("Mary-Jane Watson", "Mary-Jane"),
        ("José María Olazábal", "José"),
        ("", ""),
        ("   ", ""),
        # The whole name where the first word is not surely a given name.
        ("Dr Ada Lovelace", "Dr Ada Lovelace"),
        ("dr. Ada Lovelace", "dr. Ada Lovelace"),
        ("Prof. Alan Turing", "Prof. Alan Turing"),
        ("J. Robert Oppenheimer", "J. Robert Oppenheimer"),
        ("J Smith", "J Smith"),
        ("Lovelace, Ada", "Lovelace, Ada"),
    ],
)
def test_the_first_name_is_the_first_word_unless_that_is_not_surely_a_name(
    name: str, first: str
) -> None:
    assert first_name(name) == first


@pytest.mark.parametrize(
    ("chain", "value", "result"),
    [
        (("upper",), "Tom & Jerry <tj>", "TOM & JERRY <TJ>"),
        (("lower",), "ADA Lovelace", "ada lovelace"),
        (("title",), "ada lovelace-byron", "Ada Lovelace-Byron"),
        (("capitalize",), "aDA lovelace", "Ada lovelace"),
        (("trim",), "  Ada  ", "Ada"),
        ((default_filter("friend"),), "", "friend"),
        ((default_filter("friend"),), "Ada", "Ada"),
        ((default_filter(""),), "", ""),
        (("trim", default_filter("friend"), "upper"), "   ", "FRIEND"),
        ((default_filter("wir <3 & ü"),), "", "wir <3 & ü"),
    ],
)
def test_each_filter_does_what_jinjas_does(chain: tuple[str, ...], value: str, result: str) -> None:
    apply, _ = compose(chain)
    assert apply(value) == result


@pytest.mark.parametrize("name", ["upper", "lower", "title", "capitalize"])
@pytest.mark.parametrize("value", ["Straße", "ﬁne ﬂour", "İstanbul", "ŉ", "Ǆemal"])
def test_no_filter_makes_a_value_longer(name: str, value: str) -> None:
    """Python's upper() makes "ß" "SS": a value's size is budgeted before any reader is seen."""
    apply, _ = compose((name,))
    assert len(apply(value)) == len(value)


def test_case_filters_still_change_what_they_can() -> None:
    upper, _ = compose(("upper",))
    title, _ = compose(("title",))
    assert upper("Straße") == "STRAßE"
    assert title("ﬁne straße") == "ﬁne Straße"


def test_every_filter_a_token_may_carry_can_be_applied() -> None:
    for name in TOKEN_FILTERS:
        apply, _ = compose((default_filter("x") if name == "default" else name,))
        assert apply(" ab ") in (" AB ", " ab ", " Ab ", "ab"), name


def test_a_chain_says_whether_it_has_a_default_and_how_long_its_text_is() -> None:
    chain = ("upper", default_filter("dear reader"), default_filter("you"))
    assert compose(chain)[1] is True
    assert compose(("upper",))[1] is False
    assert longest_default(chain) == len("dear reader")
    assert longest_default(("trim",)) == 0


def test_a_nameless_reader_gets_the_fallback_for_names_and_defaults_elsewhere() -> None:
    """What the web edition, a page with no reader's data, puts in place of each token."""
    assert nameless("first_name") == nameless("name") == "there"
    assert nameless("name.upper") == "THERE"
    assert nameless("name." + default_filter("friend")) == "friend"
    assert nameless("company." + default_filter("your team") + ".title") == "Your Team"
    assert nameless("company") == nameless("email") == ""
