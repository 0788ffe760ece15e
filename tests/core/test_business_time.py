"""SLA deadlines in business time: nights, weekends and public holidays don't count."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.core.business_time import BusinessCalendar
from bot.core.config.hours import BusinessHours

AMS = ZoneInfo("Europe/Amsterdam")
WEEKDAYS = {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")}


def _calendar(**extra: object) -> BusinessCalendar:
    return BusinessCalendar(BusinessHours.model_validate({"hours": WEEKDAYS, **extra}))


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=AMS)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        (_at(2026, 11, 27, 16, 45), 30, _at(2026, 11, 30, 9, 15)),  # Friday → Monday
        (_at(2026, 11, 25, 10, 0), 30, _at(2026, 11, 25, 10, 30)),  # inside hours
        (_at(2026, 11, 25, 22, 0), 60, _at(2026, 11, 26, 10, 0)),  # at night → next morning
        (_at(2026, 11, 28, 12, 0), 15, _at(2026, 11, 30, 9, 15)),  # Saturday
        (_at(2026, 12, 24, 16, 45), 30, _at(2026, 12, 28, 9, 15)),  # over Christmas
        (_at(2026, 4, 24, 16, 0), 120, _at(2026, 4, 28, 10, 0)),  # King's Day (Monday 27 April)
        (_at(2026, 11, 25, 9, 0), 8 * 60, _at(2026, 11, 25, 17, 0)),  # exactly one day
    ],
)
def test_deadlines_skip_closed_time(start: datetime, minutes: int, due: datetime) -> None:
    assert _calendar().add(start, minutes) == due


def test_business_minutes_between_two_moments() -> None:
    calendar = _calendar()
    assert calendar.minutes_between(_at(2026, 11, 27, 16, 45), _at(2026, 11, 30, 9, 15)) == 30
    assert calendar.minutes_between(_at(2026, 11, 30, 9, 15), _at(2026, 11, 27, 16, 45)) == 0


def test_no_holidays_and_a_clock_that_always_runs() -> None:
    assert _calendar(holidays=None).add(_at(2026, 12, 25, 9, 0), 30) == _at(2026, 12, 25, 9, 30)
    always = _calendar(clock_runs_outside_hours=True)
    assert always.add(_at(2026, 11, 28, 23, 50), 30) == _at(2026, 11, 29, 0, 20)


def test_daylight_saving_time_does_not_shift_opening_hours() -> None:
    # Summer time ends on Sunday 25 October 2026: Friday 16:30 + 60 min is Monday 09:30 CET.
    due = _calendar().add(_at(2026, 10, 23, 16, 30), 60)
    assert due.astimezone(AMS).hour == 9 and due.astimezone(AMS).minute == 30
    assert due.astimezone(AMS).utcoffset().total_seconds() == 3600  # type: ignore[union-attr]


ROUND_THE_CLOCK = {day: "00:00-23:59" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.mark.parametrize(
    ("opened", "answered", "minutes"),
    [
        # Clocks go forward at 02:00 on 29 March 2026: 00:30 to 03:30 is two real hours.
        (_at(2026, 3, 29, 0, 30), _at(2026, 3, 29, 3, 30), 120),
        # And back at 03:00 on 25 October 2026: 01:30 to 03:30 is three.
        (_at(2026, 10, 25, 1, 30), _at(2026, 10, 25, 3, 30), 180),
    ],
)
def test_business_minutes_are_real_minutes_on_the_nights_the_clocks_change(
    opened: datetime, answered: datetime, minutes: int
) -> None:
    """A team open round the clock answered in 2 hours, not 3 (the wall clock was counted)."""
    calendar = _calendar(hours=ROUND_THE_CLOCK, holidays=None)
    assert calendar.minutes_between(opened, answered) == minutes
    assert calendar.add(opened, minutes) == answered


def test_a_case_opened_before_2020_is_counted_not_refused() -> None:
    """An old thread taken in (dated 2019) answered on a Monday morning: its business minutes
    are counted (the calendar refused days before 2020, and took status and reports down)."""
    calendar = _calendar(holidays=None)
    opened, answered = _at(2019, 12, 27, 16, 0), _at(2020, 1, 3, 10, 0)
    # Friday 27 Dec 16-17, the four weekdays 30 Dec to 2 Jan, Friday 3 Jan 9-10.
    assert calendar.minutes_between(opened, answered) == 60 + 4 * 8 * 60 + 60
    assert calendar.minutes_between(_at(2019, 6, 3, 9, 0), _at(2019, 6, 3, 12, 0)) == 180
