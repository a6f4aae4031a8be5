"""Cron expressions: the one module that imports cronsim.

cronsim was chosen over croniter because it aims at one reference (Debian's cron) and
is small, typed, readable and steadily released by the author of Healthchecks, who
relies on it, while croniter was declared abandoned at the end of 2024 and only later
taken over. What cronsim accepts beyond five plain fields (a seconds field) is refused
here; it has no ``@weekly`` aliases. The config checks an expression once, as it loads
(``cron_problem``); the schedule walks the wall times it names (``wall_times``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from cronsim import CronSim, CronSimError

FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
EXAMPLE = "0 9 * * MON"
MAX_CRON_CHARS = 200


def cron_problem(label: str, expression: str) -> str:
    """The problem with a cron expression, naming ``label``, or "" when it is a usable one.

    Five fields only: a sixth (seconds) field or an ``@`` alias is refused rather than
    read in some other cron dialect's way.
    """
    usage = f"use five fields ({' '.join(FIELDS)}) such as {EXAMPLE!r}"
    if len(expression) > MAX_CRON_CHARS:
        return f"{label} is longer than {MAX_CRON_CHARS} characters; {usage}"
    fields = expression.split()
    if fields and fields[0].startswith("@"):
        return f"{label}: @ names such as @reboot are not supported; {usage}, not {expression!r}"
    if len(fields) == len(FIELDS) + 1:
        return (
            f"{label} has six fields, but a seconds or year field is not supported: "
            f"{usage}, not {expression!r}"
        )
    if len(fields) != len(FIELDS):
        return f"{label} must be a cron expression: {usage}, not {expression!r}"
    try:
        next(CronSim(expression, datetime(2000, 1, 1)))
    except CronSimError as error:
        name = str(error).removeprefix("Bad ")
        value = fields[FIELDS.index(name)] if name in FIELDS else ""
        return f"{label}: the {name} field {value!r} of {expression!r} is out of range or unknown"
    except StopIteration:
        return f"{label}: {expression!r} names no date that exists; {usage}"
    return ""


def wall_times(expression: str, start: datetime, *, reverse: bool) -> Iterator[datetime]:
    """The naive wall times a checked expression names, from ``start`` on (or back).

    They end where cronsim finds none for 50 years, or at the ends of the calendar.
    """
    times = CronSim(expression, start, reverse=reverse)
    while True:
        try:
            yield next(times)
        except (StopIteration, OverflowError):
            return
