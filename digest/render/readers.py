"""Per-reader values as templates hold them: tokens that know their field and filters.

``subscriber.name`` is a ``ReaderValue``, the text ``%%KEY.name%%``: the edition is
rendered once and the sender fills in each reader's value. A filter that can work per
reader (upper, lower, title, capitalize, trim, default) goes into the token
(``%%KEY.name.upper%%``) for the sender to apply; any other filter on it would change
the token, not the value, and is an error (templates.py names the template and line).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import TemplateError
from ..models import (
    DEFAULT_FILTER,
    TOKEN_FILTERS,
    default_filter,
    is_field_name,
    token,
    token_pattern,
)


class ReaderValue(str):
    """A per-reader value as a template holds it: its token (``%%KEY.name.upper%%``),
    which knows its field and the filters on it."""

    field: str
    key: str
    filters: tuple[str, ...]

    def __new__(cls, field: str, key: str, filters: tuple[str, ...] = ()) -> ReaderValue:
        value = super().__new__(cls, token(".".join((field, *filters)), key))
        value.field, value.key, value.filters = field, key, filters
        return value

    def shown(self) -> str:
        """How a template writes it: ``subscriber.name``, ``unsubscribe_url``."""
        return self.field if self.field in OWN_VALUES else f"subscriber.{self.field}"

    def __bool__(self) -> bool:
        """A reader's value is not known while the email renders: ``{% if subscriber.x %}``
        would always hold. (digest's own links are there whenever they are set.)"""
        if self.field in OWN_VALUES:
            return True
        raise TemplateError(
            f"{self.shown()} is tested ({{% if %}}, or, and), but it is filled in for each "
            "reader after the email is rendered, so the test would hold for every reader",
            f"for a value that may be empty write {self.shown()} | default('...')",
        )


class SubscriberTokens:
    """What templates see as ``subscriber``: each field is its substitution token.

    ``subscriber.name`` is ``%%KEY.name%%``, ``subscriber.company`` is
    ``%%KEY.company%%``: the edition is rendered once and the sender fills the values
    per recipient.
    """

    def __init__(self, key: str) -> None:
        self._key = key
        self.asked: set[str] = set()  # the fields the templates used, checked against the list

    def __getattr__(self, name: str) -> ReaderValue:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> ReaderValue:
        if not is_field_name(name):
            raise TemplateError(
                f"subscriber[{name!r}], a name that cannot be filled in per reader "
                "(letters, digits, _ and - only)",
                "rename that column of the subscribers file, e.g. first_name, and the template",
            )
        self.asked.add(name)
        return ReaderValue(name, self._key)


# The filters the sender applies per reader (``d`` is Jinja's short name for default), and
# those that leave a value's text as it is.
PER_READER_FILTERS = frozenset({*TOKEN_FILTERS, "d"})
TEXT_KEEPING_FILTERS = frozenset({"e", "escape", "forceescape", "safe", "string"})
# Per-reader values that are whole links or an address: filters would break them.
OWN_VALUES = ("unsubscribe_url", "preferences_url")
WHOLE_VALUES = frozenset({"email", *OWN_VALUES})
FILTERS_HINT = "on a per-reader value use upper, lower, title, capitalize, trim or default(...)"


def filtered(
    value: ReaderValue, name: str, args: Sequence[Any], options: dict[str, Any]
) -> ReaderValue:
    """``value | name(*args, **options)``: a ReaderValue whose token carries the filter,
    or a TemplateError saying why it cannot."""
    if name not in PER_READER_FILTERS:
        raise TemplateError(
            f"{value.shown()} | {name}: the value is filled in for each reader after the "
            "email is rendered, so this filter would change its token, not the value",
            FILTERS_HINT,
        )
    if value.field in WHOLE_VALUES:
        raise TemplateError(
            f"{value.shown()} | {name}: filters would break an address or a link",
            f"use {value.shown()} as it is",
        )
    if name in (DEFAULT_FILTER, "d"):
        text = args[0] if args else options.get("default_value", "")
        return ReaderValue(value.field, value.key, (*value.filters, default_filter(str(text))))
    if args or options:
        raise TemplateError(
            f"{value.shown()} | {name}(...): on a per-reader value it takes no arguments",
            f"write {value.shown()} | {name}",
        )
    return ReaderValue(value.field, value.key, (*value.filters, name))


def check_whole(text: str, key: str, where: Callable[[int], str]) -> None:
    """Refuse a token that something changed on its way out of a template: a filter on
    text around a per-reader value (``("Hi " ~ subscriber.name) | upper``) changes the
    token, which would reach readers as it is. ``where(offset)`` names the place."""
    whole = {found.start(1) - len(key) - 1 for found in token_pattern(key).finditer(text)}
    for found in re.finditer(re.escape(key), text, re.IGNORECASE):
        if found.start() not in whole:
            raise TemplateError(
                f"{where(found.start())}: a filter changed a per-reader value's token along "
                "with the text around it, so readers would get the token, not their value",
                "put the filter on the value itself: subscriber.name | upper",
            )
