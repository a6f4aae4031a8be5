"""The schedule: run times across daylight-saving changes.

Times are written as an operator reads them in `digest schedule next`: ISO 8601 with
the zone's offset. 2026's changes: Los Angeles springs forward on 8 March (02:00 ->
03:00) and falls back on 1 November (02:00 -> 01:00); Berlin on 29 March (02:00 ->
03:00) and 25 October (03:00 -> 02:00).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.errors import ConfigError
from digest.schedule import Timetable, cron_problem

LA = "America/Los_Angeles"
BERLIN = "Europe/Berlin"


def at(text: str) -> datetime:
    """An instant written with its offset, as the schedule prints them."""
    return datetime.fromisoformat(text)


def local(zone: str, *fields: int) -> datetime:
    return datetime(*fields, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


def runs(cron: str, zone: str, after: datetime, count: int) -> list[str]:
    return [run.isoformat() for run in Timetable.parse(cron, zone, 60).next_runs(after, count)]


# Run times across the changes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day_before", "expected"),
    [
        (
            LA,
            (2026, 3, 7),
            ["2026-03-07T02:30:00-08:00", "2026-03-08T03:00:00-07:00", "2026-03-09T02:30:00-07:00"],
        ),
        (
            BERLIN,
            (2026, 3, 28),
            ["2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"],
        ),
    ],
)
def test_a_run_in_the_skipped_hour_happens_once_right_after_the_gap(
    zone: str, day_before: tuple[int, int, int], expected: list[str]
) -> None:
    assert runs("30 2 * * *", zone, local(zone, *day_before), 3) == expected


@pytest.mark.parametrize(
    ("cron", "zone", "day_before", "expected"),
    [
        (
            "30 1 * * *",
            LA,
            (2026, 10, 31),
            ["2026-10-31T01:30:00-07:00", "2026-11-01T01:30:00-07:00", "2026-11-02T01:30:00-08:00"],
        ),
        (
            "30 2 * * *",
            BERLIN,
            (2026, 10, 24),
            ["2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"],
        ),
    ],
)
def test_a_run_in_the_repeated_hour_happens_once_at_its_first_occurrence(
    cron: str, zone: str, day_before: tuple[int, int, int], expected: list[str]
) -> None:
    assert runs(cron, zone, local(zone, *day_before), 3) == expected


def test_a_run_time_already_passed_in_the_repeated_hour_does_not_come_round_again() -> None:
    second_one_ten = at("2026-11-01T01:10:00-08:00")  # 40 minutes after 01:30 PDT
    timetable = Timetable.parse("30 1 * * *", LA, 60)
    assert [run.isoformat() for run in timetable.next_runs(second_one_ten, 1)] == [
        "2026-11-02T01:30:00-08:00"
    ]
    latest = timetable.latest_run(second_one_ten)
    assert latest is not None
    assert latest.isoformat() == "2026-11-01T01:30:00-07:00"


@pytest.mark.parametrize(
    ("zone", "after", "expected"),
    [
        (
            LA,
            (2026, 2, 28),
            [
                "2026-03-02T09:00:00-08:00",
                "2026-03-09T09:00:00-07:00",
                "2026-03-16T09:00:00-07:00",
            ],
        ),
        (
            LA,
            (2026, 10, 25),
            [
                "2026-10-26T09:00:00-07:00",
                "2026-11-02T09:00:00-08:00",
                "2026-11-09T09:00:00-08:00",
            ],
        ),
        (
            BERLIN,
            (2026, 3, 22),
            [
                "2026-03-23T09:00:00+01:00",
                "2026-03-30T09:00:00+02:00",
                "2026-04-06T09:00:00+02:00",
            ],
        ),
        (
            BERLIN,
            (2026, 10, 18),
            [
                "2026-10-19T09:00:00+02:00",
                "2026-10-26T09:00:00+01:00",
                "2026-11-02T09:00:00+01:00",
            ],
        ),
    ],
)
def test_monday_at_nine_stays_at_nine_local_across_both_changes(
    zone: str, after: tuple[int, int, int], expected: list[str]
) -> None:
    assert runs("0 9 * * MON", zone, local(zone, *after), 3) == expected


@pytest.mark.parametrize(
    ("zone", "start", "expected"),
    [
        (
            LA,
            (2026, 3, 8, 1, 0),
            ["01:15-08:00", "01:30-08:00", "01:45-08:00", "03:00-07:00", "03:15-07:00"],
        ),
        (
            BERLIN,
            (2026, 3, 29, 1, 30),
            ["01:45+01:00", "03:00+02:00", "03:15+02:00", "03:30+02:00", "03:45+02:00"],
        ),
        (
            LA,
            (2026, 11, 1, 0, 30),
            [
                "00:45-07:00",
                "01:00-07:00",
                "01:15-07:00",
                "01:30-07:00",
                "01:45-07:00",
                "02:00-08:00",
                "02:15-08:00",
            ],
        ),
        (
            BERLIN,
            (2026, 10, 25, 1, 30),
            [
                "01:45+02:00",
                "02:00+02:00",
                "02:15+02:00",
                "02:30+02:00",
                "02:45+02:00",
                "03:00+01:00",
                "03:15+01:00",
            ],
        ),
    ],
)
def test_every_quarter_hour_across_a_change_has_no_duplicate_and_no_other_gap(
    zone: str, start: tuple[int, ...], expected: list[str]
) -> None:
    found = Timetable.parse("*/15 * * * *", zone, 60).next_runs(local(zone, *start), len(expected))
    assert [run.isoformat()[11:16] + run.isoformat()[19:] for run in found] == expected
    assert len({run.astimezone(UTC) for run in found}) == len(found)
    assert all(run.date() == found[0].date() for run in found)


@pytest.mark.parametrize(
    ("cron", "zone", "day"),
    [
        ("*/15 * * * *", LA, (2026, 3, 8)),
        ("*/15 * * * *", LA, (2026, 11, 1)),
        ("30 2 * * *", BERLIN, (2026, 3, 29)),
        ("30 2 * * *", BERLIN, (2026, 10, 25)),
        ("0 9 * * MON", LA, (2026, 3, 8)),
    ],
)
def test_next_and_latest_agree_at_every_minute_of_a_change_day(
    cron: str, zone: str, day: tuple[int, int, int]
) -> None:
    """From any instant, the next run comes after it, and it is the latest run at its own
    time but not a second before: no run is skipped or counted twice by either."""
    timetable = Timetable.parse(cron, zone, 60)

    def latest(moment: datetime) -> datetime:
        found = timetable.latest_run(moment)
        assert found is not None
        return found.astimezone(UTC)

    start = local(zone, *day).astimezone(UTC) - timedelta(hours=2)
    for minute in range(0, 28 * 60, 7):
        now = start + timedelta(minutes=minute, seconds=13)
        (upcoming,) = [run.astimezone(UTC) for run in timetable.next_runs(now, 1)]
        assert upcoming > now
        assert latest(upcoming) == upcoming
        assert latest(upcoming - timedelta(seconds=1)) <= now


def test_runs_print_as_iso_8601_with_the_zones_offset() -> None:
    timetable = Timetable.parse("0 9 * * MON", LA, 60)
    (run,) = timetable.next_runs(at("2026-03-03T00:00:00+00:00"), 1)
    assert run.isoformat() == "2026-03-09T09:00:00-07:00"
    assert timetable.latest_run(run) == run
    assert timetable.latest_run(run - timedelta(microseconds=1)) == at("2026-03-02T09:00-08:00")


def test_names_of_days_and_months_are_read_in_either_case() -> None:
    after = at("2026-01-01T00:00:00+00:00")
    assert runs("0 9 1 jan,Jul mon-fri", "UTC", after, 3) == [
        "2026-01-01T09:00:00+00:00",
        "2026-01-02T09:00:00+00:00",
        "2026-01-05T09:00:00+00:00",
    ]


# Validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("every monday at nine", "must be a cron expression: use five fields"),
        ("", "must be a cron expression: use five fields"),
        ("0 9 * *", "must be a cron expression: use five fields"),
        ("0 0 9 * * MON", "has six fields, but a seconds or year field is not supported"),
        ("0 9 * * MON 2026", "has six fields, but a seconds or year field is not supported"),
        ("@reboot", "@ names such as @reboot are not supported"),
        ("@weekly", "@ names such as @reboot are not supported"),
        ("61 9 * * *", "the minute field '61' of '61 9 * * *' is out of range"),
        ("0 24 * * *", "the hour field '24'"),
        ("0 9 32 * *", "the day-of-month field '32'"),
        ("0 9 30 2 *", "the day-of-month field '30'"),
        ("0 9 * 13 *", "the month field '13'"),
        ("0 9 * * 8", "the day-of-week field '8'"),
        ("0 9 * * MONDAY", "the day-of-week field 'MONDAY'"),
        ("0 9 * * MON\x1b[2J", "the day-of-week field 'MON\\x1b[2J'"),
        ("*/0 9 * * *", "the minute field '*/0'"),
        ("0 9 * * 1-", "the day-of-week field '1-'"),
        ("1," * 200 + "2 9 * * *", "is longer than 200 characters"),
    ],
)
def test_a_bad_cron_expression_is_refused_naming_the_key(value: str, says: str) -> None:
    problem = cron_problem("DIGEST_SCHEDULE_CRON", value)
    assert problem.startswith("DIGEST_SCHEDULE_CRON")
    assert says in problem
    assert problem.isprintable()


@pytest.mark.parametrize(
    "value", ["0 9 * * MON", "30 2 * * *", "*/15 * * * *", "0 9 1 jan,JUL mon-fri", "0 9 * * 7"]
)
def test_usable_cron_expressions_pass(value: str) -> None:
    assert cron_problem("schedule.cron", value) == ""


def test_a_schedule_section_is_checked_whole_naming_each_key() -> None:
    with pytest.raises(ConfigError) as caught:
        Timetable.parse("every monday at nine", "Mars/Olympus", 0)
    message = str(caught.value)
    assert "schedule.cron must be a cron expression" in message
    assert "schedule.timezone: unknown time zone 'Mars/Olympus'" in message
    assert "schedule.grace_minutes must be from 1 to 10080 minutes (a week), not 0" in message
    assert "\n" not in message
