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
