"""The schedule: run times across daylight-saving changes, one tick's decision, the loop.

Times are written as an operator reads them in `digest schedule next`: ISO 8601 with
the zone's offset. 2026's changes: Los Angeles springs forward on 8 March (02:00 ->
03:00) and falls back on 1 November (02:00 -> 01:00); Berlin on 29 March (02:00 ->
03:00) and 25 October (03:00 -> 02:00).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from types import FrameType
from zoneinfo import ZoneInfo

import pytest

from digest.cron import cron_problem
from digest.errors import ConfigError, SourceError
from digest.schedule import (
    Action,
    Decision,
    EditionState,
    Timetable,
    decide,
    run_forever,
)

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


# One tick ----------------------------------------------------------------------------------

MONDAY_NINE = at("2026-03-09T09:00:00-07:00")
GRACE = 60


def tick(now: datetime, state: EditionState = EditionState.NOT_STARTED) -> Decision:
    asked: list[str] = []

    def state_of(key: str) -> EditionState:
        asked.append(key)
        return state

    decision = decide(now, Timetable.parse("0 9 * * MON", LA, GRACE), state_of)
    assert asked == ["2026-03-09"]
    return decision


def test_a_due_run_within_the_grace_period_sends_its_edition() -> None:
    for late in (timedelta(0), timedelta(minutes=GRACE)):
        decision = tick(MONDAY_NINE + late)
        assert (decision.action, decision.edition, decision.run) == (
            Action.SEND,
            "2026-03-09",
            MONDAY_NINE,
        )
    assert tick(MONDAY_NINE).describe() == (
        "run 2026-03-09T09:00:00-07:00 is due: sending edition 2026-03-09"
    )
    assert "(1 h late)" in tick(MONDAY_NINE + timedelta(minutes=GRACE)).describe()


def test_a_second_past_the_grace_period_the_run_is_missed_and_nothing_is_sent() -> None:
    decision = tick(MONDAY_NINE + timedelta(minutes=GRACE, seconds=1))
    assert decision.action is Action.MISSED
    assert decision.describe() == (
        "missed run 2026-03-09T09:00:00-07:00 by 1 h, more than the 1 h grace period: "
        "nothing sent; to send edition 2026-03-09 late anyway, run "
        "`digest send --edition 2026-03-09`"
    )
    days_late = tick(MONDAY_NINE + timedelta(days=2, hours=3, minutes=5))
    assert "by 2 days 3 h 5 min" in days_late.describe()


def test_a_half_sent_edition_is_resumed_within_grace_and_left_to_the_operator_after() -> None:
    inside = tick(MONDAY_NINE + timedelta(minutes=GRACE), EditionState.HALF_SENT)
    assert inside.action is Action.RESUME
    assert "resuming edition 2026-03-09" in inside.describe()
    outside = tick(MONDAY_NINE + timedelta(minutes=GRACE, seconds=1), EditionState.HALF_SENT)
    assert outside.action is Action.MISSED
    assert outside.describe().endswith(
        "edition 2026-03-09 is half-sent: nothing sent; "
        "finish it with `digest send --edition 2026-03-09`"
    )


def test_a_second_tick_in_the_same_slot_does_nothing_once_the_edition_is_complete() -> None:
    for later in (timedelta(minutes=1), timedelta(days=3)):
        decision = tick(MONDAY_NINE + later, EditionState.COMPLETE)
        assert decision.action is Action.NOTHING
        assert decision.describe() == (
            "edition 2026-03-09 (run 2026-03-09T09:00:00-07:00) was sent already: nothing to do"
        )


def test_the_edition_is_the_runs_date_in_the_zone_even_when_the_tick_is_past_midnight() -> None:
    timetable = Timetable.parse("30 23 * * MON", LA, GRACE)
    decision = decide(
        at("2026-03-10T00:10:00-07:00"), timetable, lambda key: EditionState.NOT_STARTED
    )
    assert (decision.action, decision.edition) == (Action.SEND, "2026-03-09")


def test_at_the_ends_of_the_calendar_there_are_no_runs_and_nothing_to_do() -> None:
    timetable = Timetable.parse("0 9 * * TUE", "UTC", GRACE)  # 1 January of year 1 was a Monday
    decision = decide(at("0001-01-01T12:00:00+00:00"), timetable, lambda key: pytest.fail(key))
    assert decision == Decision(Action.NOTHING)
    assert decision.describe() == "no scheduled run is due yet: nothing to do"
    assert timetable.next_runs(at("9999-12-31T10:00:00+00:00"), 2) == []


# The loop ----------------------------------------------------------------------------------


class FakeTime:
    """The loop's clock and stop flag: time moves only while the loop waits, by the
    timeout it asks for, plus any jump (a suspend) once the clock reaches its moment.
    The flag counts as set from ``stop_at`` on."""

    def __init__(self, start: datetime, stop_at: datetime) -> None:
        self.now = start
        self.stop_at = stop_at
        self.jumps: list[tuple[datetime, timedelta]] = []
        self.waits: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def is_set(self) -> bool:
        return self.now >= self.stop_at

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None and timeout > 0
        self.waits.append(timeout)
        self.now += timedelta(seconds=timeout)
        for moment, jump in list(self.jumps):
            if self.now >= moment:
                self.now += jump
                self.jumps.remove((moment, jump))
        return self.is_set()


class Newsletter:
    """What the loop sees of a newsletter folder: editions and their states, and a send
    that completes the edition (or fails, or stops half-way) and notes when it ran."""

    def __init__(
        self, time: FakeTime, cron: str = "0 9 * * MON", send_takes: timedelta = timedelta(0)
    ) -> None:
        self.time = time
        self.cron = cron
        self.send_takes = send_takes
        self.states: dict[str, EditionState] = {}
        self.sent: list[tuple[Action, str, datetime]] = []
        self.log: list[str] = []
        self.failing: set[str] = set()

    def state_of(self, key: str) -> EditionState:
        return self.states.get(key, EditionState.NOT_STARTED)

    def act(self, decision: Decision) -> None:
        self.sent.append((decision.action, decision.edition, self.time.now))
        self.time.now += self.send_takes
        if decision.edition in self.failing:
            self.states[decision.edition] = EditionState.HALF_SENT
            raise SourceError("https://blog.example/feed.xml: no answer within 10 s")
        self.states[decision.edition] = EditionState.COMPLETE

    def run(self) -> None:
        run_forever(
            Timetable.parse(self.cron, LA, GRACE),
            state_of=self.state_of,
            act=self.act,
            clock=self.time.clock,
            stop=self.time,
            log=self.log.append,
        )

    def lines(self, containing: str) -> list[str]:
        return [line for line in self.log if containing in line]


def test_the_loop_sends_each_edition_once_at_its_run_time() -> None:
    time_ = FakeTime(at("2026-03-01T12:00:00-08:00"), stop_at=at("2026-03-24T00:00:00-07:00"))
    letter = Newsletter(time_)
    letter.run()
    assert [(action, key) for action, key, _ in letter.sent] == [
        (Action.SEND, "2026-03-02"),
        (Action.SEND, "2026-03-09"),
        (Action.SEND, "2026-03-16"),
        (Action.SEND, "2026-03-23"),
    ]
    assert [when.astimezone(UTC).isoformat() for _, _, when in letter.sent] == [
        "2026-03-02T17:00:00+00:00",
        "2026-03-09T16:00:00+00:00",
        "2026-03-16T16:00:00+00:00",
        "2026-03-23T16:00:00+00:00",
    ]
    assert max(time_.waits) <= 60
    assert letter.log[:3] == [
        "missed run 2026-02-23T09:00:00-08:00 by 6 days 3 h, more than the 1 h grace "
        "period: nothing sent; to send edition 2026-02-23 late anyway, run "
        "`digest send --edition 2026-02-23`",
        "next run 2026-03-02T09:00:00-08:00",
        "run 2026-03-02T09:00:00-08:00 is due: sending edition 2026-03-02",
    ]
    assert len(letter.log) == 2 * 5  # each decision, then the run it waits for


def test_a_restart_mid_wait_catches_up_within_grace_and_never_sends_twice() -> None:
    time_ = FakeTime(at("2026-03-09T08:00:00-07:00"), stop_at=at("2026-03-09T08:30:00-07:00"))
    letter = Newsletter(time_)
    letter.run()  # stopped while waiting for 09:00
    assert letter.sent == []
    time_.now, time_.stop_at = at("2026-03-09T09:40:00-07:00"), at("2026-03-09T12:00:00-07:00")
    letter.run()  # restarted 40 minutes after the run
    assert [(a, key, when.isoformat()) for a, key, when in letter.sent] == [
        (Action.SEND, "2026-03-09", "2026-03-09T09:40:00-07:00")
    ]
    time_.now, time_.stop_at = at("2026-03-09T09:50:00-07:00"), at("2026-03-09T12:00:00-07:00")
    letter.run()  # and again, after the send
    assert len(letter.sent) == 1
    assert letter.log[-2:] == [
        "edition 2026-03-09 (run 2026-03-09T09:00:00-07:00) was sent already: nothing to do",
        "next run 2026-03-16T09:00:00-07:00",
    ]


def test_a_restart_resumes_a_half_sent_edition_within_grace() -> None:
    time_ = FakeTime(at("2026-03-09T09:30:00-07:00"), stop_at=at("2026-03-09T12:00:00-07:00"))
    letter = Newsletter(time_)
    letter.states["2026-03-09"] = EditionState.HALF_SENT
    letter.run()
    assert [(a, key) for a, key, _ in letter.sent] == [(Action.RESUME, "2026-03-09")]
    assert letter.states["2026-03-09"] is EditionState.COMPLETE


def test_a_restart_past_grace_reports_the_missed_run_once_and_sends_the_next_one() -> None:
    time_ = FakeTime(at("2026-03-09T10:00:01-07:00"), stop_at=at("2026-03-17T00:00:00-07:00"))
    letter = Newsletter(time_)
    letter.run()
    assert [(a, key) for a, key, _ in letter.sent] == [(Action.SEND, "2026-03-16")]
    (missed,) = letter.lines("missed")
    assert missed.startswith("missed run 2026-03-09T09:00:00-07:00 by 1 h, more than")


@pytest.mark.parametrize(
    ("suspended", "sends"), [(timedelta(minutes=55), True), (timedelta(hours=2), False)]
)
def test_a_suspend_over_the_run_time_catches_up_only_within_grace(
    suspended: timedelta, sends: bool
) -> None:
    time_ = FakeTime(at("2026-03-09T08:00:00-07:00"), stop_at=at("2026-03-09T20:00:00-07:00"))
    time_.jumps.append((at("2026-03-09T08:59:00-07:00"), suspended))
    letter = Newsletter(time_)
    letter.states["2026-03-02"] = EditionState.COMPLETE
    letter.run()
    if sends:
        ((action, key, when),) = letter.sent
        assert (action, key) == (Action.SEND, "2026-03-09")
        assert when <= at("2026-03-09T08:59:00-07:00") + suspended + timedelta(seconds=60)
        assert letter.lines("missed") == []
    else:
        assert letter.sent == []
        (missed,) = letter.lines("missed")
        assert missed.startswith("missed run 2026-03-09T09:00:00-07:00 by 1 h 59 min")
    assert letter.log[-1] == "next run 2026-03-16T09:00:00-07:00"


def test_a_run_that_falls_due_during_a_long_send_is_decided_as_soon_as_it_ends() -> None:
    time_ = FakeTime(at("2026-03-09T22:59:30-07:00"), stop_at=at("2026-03-10T03:00:00-07:00"))
    letter = Newsletter(time_, cron="0 * * * *", send_takes=timedelta(minutes=70))
    letter.run()
    assert [(key, when.astimezone(UTC).isoformat()) for _, key, when in letter.sent] == [
        ("2026-03-09", "2026-03-10T05:59:30+00:00"),
        ("2026-03-10", "2026-03-10T07:09:30+00:00"),  # 00:09:30 local, the 00:00 run
    ]
    assert letter.log[:4] == [
        "run 2026-03-09T22:00:00-07:00 is due (59 min late): sending edition 2026-03-09",
        "run 2026-03-10T00:00:00-07:00 is due (9 min late): sending edition 2026-03-10",
        "edition 2026-03-10 (run 2026-03-10T01:00:00-07:00) was sent already: nothing to do",
        "next run 2026-03-10T02:00:00-07:00",
    ]


def test_a_failed_send_is_tried_again_within_grace_then_the_loop_goes_on() -> None:
    time_ = FakeTime(at("2026-03-09T08:00:00-07:00"), stop_at=at("2026-03-17T00:00:00-07:00"))
    letter = Newsletter(time_)
    letter.failing.add("2026-03-09")
    letter.run()
    tries = [(a, key, when.isoformat()) for a, key, when in letter.sent]
    assert tries[:3] == [
        (Action.SEND, "2026-03-09", "2026-03-09T09:00:00-07:00"),
        (Action.RESUME, "2026-03-09", "2026-03-09T09:05:00-07:00"),
        (Action.RESUME, "2026-03-09", "2026-03-09T09:10:00-07:00"),
    ]
    assert tries[-2:] == [
        (Action.RESUME, "2026-03-09", "2026-03-09T10:00:00-07:00"),  # the grace period's end
        (Action.SEND, "2026-03-16", "2026-03-16T09:00:00-07:00"),
    ]
    assert len(tries) == 1 + 12 + 1
    failed = letter.lines("failed")
    assert len(failed) == 13
    assert failed[0] == (
        "edition 2026-03-09 failed: https://blog.example/feed.xml: no answer within 10 s; "
        "check [source] location in digest.toml"
    )
    assert letter.lines("trying edition 2026-03-09 again")[0] == (
        "trying edition 2026-03-09 again at 2026-03-09T09:05:00-07:00"
    )
    assert letter.lines("next run 2026-03-16T09:00:00-07:00")


def test_a_send_that_fails_once_goes_out_on_the_next_try() -> None:
    time_ = FakeTime(at("2026-03-09T08:00:00-07:00"), stop_at=at("2026-03-10T00:00:00-07:00"))
    letter = Newsletter(time_)
    letter.failing.add("2026-03-09")
    original = letter.act

    def fail_once(decision: Decision) -> None:
        try:
            original(decision)
        finally:
            letter.failing.discard("2026-03-09")

    letter.act = fail_once  # type: ignore[method-assign]
    letter.run()
    assert [(a, key, when.isoformat()) for a, key, when in letter.sent] == [
        (Action.SEND, "2026-03-09", "2026-03-09T09:00:00-07:00"),
        (Action.RESUME, "2026-03-09", "2026-03-09T09:05:00-07:00"),
    ]
    assert letter.states["2026-03-09"] is EditionState.COMPLETE


@pytest.fixture
def far_off_schedule() -> Timetable:
    """A timetable whose next run is months away: the loop would wait for a long time."""
    return Timetable.parse("0 9 1 1 *", "UTC", GRACE)


def run_until_stopped(timetable: Timetable, stop: threading.Event) -> tuple[float, list[str]]:
    log: list[str] = []
    started = time.monotonic()
    run_forever(
        timetable,
        state_of=lambda key: EditionState.COMPLETE,
        act=lambda decision: pytest.fail("nothing is due"),
        clock=lambda: datetime.now(UTC),
        stop=stop,
        log=log.append,
    )
    return time.monotonic() - started, log


def test_setting_the_stop_flag_during_the_wait_ends_the_loop_at_once(
    far_off_schedule: Timetable,
) -> None:
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    elapsed, log = run_until_stopped(far_off_schedule, stop)
    assert elapsed < 1.0  # the wait itself is up to 60 s
    assert log[-1].startswith("next run ")


def test_sigterm_during_the_wait_ends_the_loop_at_once(far_off_schedule: Timetable) -> None:
    stop = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGTERM)).start()
        elapsed, _ = run_until_stopped(far_off_schedule, stop)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert stop.is_set()
    assert elapsed < 1.0


def test_the_loop_ends_when_the_expression_names_no_later_time() -> None:
    time_ = FakeTime(at("9999-12-31T10:00:00+00:00"), stop_at=at("9999-12-31T23:00:00+00:00"))
    letter = Newsletter(time_)
    letter.states["9999-12-27"] = EditionState.COMPLETE
    letter.run()
    assert letter.log == [
        "edition 9999-12-27 (run 9999-12-27T09:00:00-08:00) was sent already: nothing to do",
        "'0 9 * * MON' names no later time: the schedule has ended",
    ]
    assert time_.waits == []


# --- signals ------------------------------------------------------------------------------

# Run in a child: with the fault, the child hangs for good, which the timeout turns into a
# failure instead of a stuck suite.
_SIGNAL_WHILE_THE_LOCK_IS_HELD = """
import os, signal, threading
from digest.schedule import stopped_by_signals
stop = threading.Event()
with stopped_by_signals(stop) as caught:
    # As when the signal comes while the main thread is inside stop.wait(), holding the
    # lock stop.set() needs.
    with stop._cond:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):
            pass  # the handler runs here, between two bytecodes
    assert stop.wait(10), "the stop was never set"
print(caught)
"""


def test_a_signal_that_comes_while_the_main_thread_holds_the_stops_lock_still_stops() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SIGNAL_WHILE_THE_LOCK_IS_HELD],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['SIGTERM']"
