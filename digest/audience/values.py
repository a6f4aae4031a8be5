"""A reader's values as templates ask for them: the first name a greeting uses, and the
filters a template puts on a value (``subscriber.name | upper``), applied per reader.

Pure functions, cheap enough to run a million times a send. No filter makes a value
longer than it was (but ``default``, whose text is known once per edition): the
sizes personalize.py budgets for stay true.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..models import DEFAULT_FILTER, default_text, split_name

NAME, EMAIL, FIRST_NAME, UNSUBSCRIBE_URL = "name", "email", "first_name", "unsubscribe_url"
# The fields every reader has, whatever the list's columns; and those digest fills.
READER_FIELDS = frozenset({NAME, EMAIL, FIRST_NAME})
BUILTIN = READER_FIELDS | {UNSUBSCRIBE_URL}
# What a reader without a name is called, and the fields that get it.
NAME_FALLBACK = "there"
FALLS_BACK = frozenset({NAME, FIRST_NAME})
# Words that stand before a name rather than being one: a greeting by the first name
# would be "Hi Dr" (checked without case and a final dot).
TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev", "fr"})


def first_name(name: str) -> str:
    """The name to greet a reader by when the list has no ``first_name`` column.

    The first word of ``name``, when it surely is a given name; the whole name when it
    is one word, has a comma ("Lovelace, Ada"), or starts with a title ("Dr Ada
    Lovelace") or an initial ("J. Smith"); "" for no name.
    """
    words = name.split(maxsplit=1)
    if len(words) < 2 or "," in name:
        return name.strip()
    bare = words[0].rstrip(".").lower()
    if len(bare) < 2 or bare in TITLES:
        return name.strip()
    return words[0]


def nameless(name: str) -> str:
    """What a reader with no name, address or fields gets for a token's name (``first_name``,
    ``company.default-...``): the fallback for a name, "" for the rest, filters applied."""
    field, filters = split_name(name)
    apply, has_default = compose(filters)
    return apply(NAME_FALLBACK if field in FALLS_BACK and not has_default else "")


Filter = Callable[[str], str]


def compose(filters: Sequence[str]) -> tuple[Filter, bool]:
    """One function applying a token name's filters in order, and whether one of them is
    ``default`` (which the value before any fallback must reach)."""
    steps = [_filter(name) for name in filters]

    def apply(value: str) -> str:
        for step in steps:
            value = step(value)
        return value

    return apply, any(name.startswith(DEFAULT_FILTER) for name in filters)


def longest_default(filters: Sequence[str]) -> int:
    """The most characters a ``default`` among ``filters`` may give a value."""
    texts = [default_text(name) for name in filters if name.startswith(DEFAULT_FILTER + "-")]
    return max(map(len, texts), default=0)


def _filter(name: str) -> Filter:
    if name.startswith(DEFAULT_FILTER):
        text = default_text(name) if name != DEFAULT_FILTER else ""
        return lambda value: value or text
    return _CASES[name]


def _upper(value: str) -> str:
    result = value.upper()
    return result if len(result) == len(value) else _each(value, str.upper)


def _lower(value: str) -> str:
    result = value.lower()
    return result if len(result) == len(value) else _each(value, str.lower)


def _capitalize(value: str) -> str:
    result = value.capitalize()
    if len(result) == len(value):
        return result
    return _each(value[:1], str.title) + _each(value[1:], str.lower)


def _title(value: str) -> str:
    result = value.title()
    if len(result) == len(value):
        return result
    pieces, after_letter = [], False
    for char in value:
        pieces.append(_each(char, str.lower if after_letter else str.title))
        after_letter = char.isalpha()
    return "".join(pieces)


def _each(value: str, change: Filter) -> str:
    """``value`` changed a character at a time, each one that would become several (the
    German "ß" upper-cased is "SS") left as it is."""
    return "".join(char if len(changed := change(char)) != 1 else changed for char in value)


_CASES: dict[str, Filter] = {
    "upper": _upper,
    "lower": _lower,
    "title": _title,
    "capitalize": _capitalize,
    "trim": str.strip,
}
