"""SLA deadlines for a stream of mentions are exactly the business calendar's, every time."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.business_time import BusinessCalendar
from bot.core.config.hours import BusinessHours
from bot.intake.deadlines import Deadlines

WEEK = {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")}
HOURS = [
    {"timezone": "Europe/Amsterdam", "hours": WEEK, "holidays": "NL"},
    {"timezone": "Europe/Amsterdam", "hours": {**WEEK, "sat": "00:00-23:59", "sun": "00:30-23:59"}},
    {"timezone": "America/New_York", "hours": {"mon": "08:00-20:00"}, "holidays": "US"},
    {"timezone": "Europe/Amsterdam", "hours": WEEK, "clock_runs_outside_hours": True},
]


def _starts(seed: int) -> list[datetime]:
    """Mention times as they come in: mostly a little later than the last one, at times a
    jump (back or ahead), across weekends, holidays and both DST changes of 2026."""
    rng = random.Random(seed)
    moments, now = [], datetime(2026, 3, 27, 6, 0, tzinfo=UTC)
    while now < datetime(2026, 4, 8, tzinfo=UTC) or len(moments) < 6000:
        roll = rng.random()
        if roll < 0.9:
            now += timedelta(seconds=rng.randint(0, 900), microseconds=rng.randint(0, 999_999))
        elif roll < 0.95:
            now -= timedelta(minutes=rng.randint(1, 600))
        else:
            now += timedelta(hours=rng.randint(1, 30))
        moments.append(now)
        if len(moments) == 3000:
            now = datetime(2026, 10, 23, 6, 0, tzinfo=UTC)  # to the autumn DST change
    return moments


@pytest.mark.parametrize("hours", HOURS)
@pytest.mark.parametrize(("due", "warn"), [(60, 48), (15, 12.0), (30, 5.6), (600, 480)])
def test_deadlines_are_the_calendars_for_every_start(
    hours: dict[str, object], due: float, warn: float
) -> None:
    calendar = BusinessCalendar(BusinessHours.model_validate(hours))
    reference = BusinessCalendar(BusinessHours.model_validate(hours))
    deadlines = Deadlines(calendar, due, warn)
    for start in _starts(seed=due):
        expected = (reference.add(start, due), reference.add(start, warn))
        assert deadlines(start) == expected, start
        assert deadlines(start)[0].tzinfo is UTC


def test_a_start_in_another_time_zone_gets_utc_deadlines() -> None:
    calendar = BusinessCalendar(BusinessHours.model_validate(HOURS[0]))
    deadlines = Deadlines(calendar, 60, 48)
    start = datetime(2026, 6, 2, 11, 0, tzinfo=UTC).astimezone()
    for _ in range(3):
        due, warn = deadlines(start)
        assert (due, warn) == (calendar.add(start, 60), calendar.add(start, 48))
        assert due.tzinfo is UTC
