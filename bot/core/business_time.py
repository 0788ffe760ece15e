"""Business-time arithmetic: SLA deadlines that skip nights, weekends and public holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays

from bot.core.config.base import WEEKDAYS
from bot.core.config.hours import BusinessHours

# A deadline further out than this many days means the calendar has no opening hours at all.
_MAX_DAYS = 366
# The day business minutes are counted from (earlier days count backwards from it).
_ANCHOR = date(2020, 1, 1)


class BusinessCalendar:
    """Opening hours in one time zone; all datetimes in and out are timezone-aware."""

    def __init__(self, hours: BusinessHours) -> None:
        self.hours = hours
        self.zone = ZoneInfo(hours.timezone)
        self.holidays = holidays.country_holidays(hours.holidays) if hours.holidays else {}
        self._openings: dict[date, tuple[datetime, datetime] | None] = {}
        self._cumulative: list[float] = [0.0]  # business minutes before _ANCHOR + index days
        self._backwards: list[float] = [0.0]  # business minutes from _ANCHOR - index days on
        if not any(hours.hours.values()) and not hours.clock_runs_outside_hours:
            raise ValueError("business hours must open on at least one weekday")

    def _opening(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's opening interval (its local opening hours, in UTC), or None when closed
        all day. In UTC because arithmetic on two times of one zone is done on the wall
        clock: the night clocks go forward would count an hour that never was."""
        if day in self._openings:
            return self._openings[day]
        span = self.hours.hours.get(WEEKDAYS[day.weekday()])
        opening = None
        if span is not None and day not in self.holidays:
            opening = (
                datetime.combine(day, span.opens, tzinfo=self.zone).astimezone(UTC),
                datetime.combine(day, span.closes, tzinfo=self.zone).astimezone(UTC),
            )
        self._openings[day] = opening
        return opening

    def _intervals_from(self, start: datetime):  # type: ignore[no-untyped-def]
        start = start.astimezone(UTC)
        day = start.astimezone(self.zone).date()
        for offset in range(_MAX_DAYS):
            interval = self._opening(day + timedelta(days=offset))
            if interval and interval[1] > start:
                yield max(interval[0], start), interval[1]

    def add(self, start: datetime, minutes: float) -> datetime:
        """The moment `minutes` of business time after `start`."""
        if self.hours.clock_runs_outside_hours:
            return start.astimezone(UTC) + timedelta(minutes=minutes)
        left = timedelta(minutes=minutes)
        for opens, closes in self._intervals_from(start):
            if opens + left <= closes:
                return (opens + left).astimezone(UTC)
            left -= closes - opens
        raise ValueError("no opening hours within a year of the start")

    def minutes_between(self, start: datetime, end: datetime) -> float:
        """Business minutes from `start` to `end` (0 when `end` is not after `start`)."""
        if end <= start:
            return 0.0
        if self.hours.clock_runs_outside_hours:
            return (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 60
        return max(0.0, self._position(end) - self._position(start))

    def _position(self, moment: datetime) -> float:
        """Business minutes from the calendar's anchor day up to `moment`.

        Reports ask this for every case of a period; cumulative day totals make each answer a
        lookup instead of a walk over the days in between.
        """
        moment = moment.astimezone(UTC)
        day = moment.astimezone(self.zone).date()
        before = self._minutes_before(day)
        interval = self._opening(day)
        if interval is None:
            return before
        opens, closes = interval
        inside = min(max(moment, opens), closes) - opens
        return before + inside.total_seconds() / 60

    def _minutes_before(self, day: date) -> float:
        """Business minutes on the days from the anchor up to (not including) `day`; for a
        day before the anchor (an old thread taken in), minus those from `day` to it."""
        index = (day - _ANCHOR).days
        if index < 0:
            while len(self._backwards) <= -index:
                first = _ANCHOR - timedelta(days=len(self._backwards))
                self._backwards.append(self._backwards[-1] + self._length(first))
            return -self._backwards[-index]
        while len(self._cumulative) <= index:
            last = _ANCHOR + timedelta(days=len(self._cumulative) - 1)
            self._cumulative.append(self._cumulative[-1] + self._length(last))
        return self._cumulative[index]

    def _length(self, day: date) -> float:
        interval = self._opening(day)
        return (interval[1] - interval[0]).total_seconds() / 60 if interval else 0.0

    def next_open(self, moment: datetime) -> datetime:
        """`moment` itself when open, else the next opening."""
        for opens, _closes in self._intervals_from(moment):
            return opens.astimezone(UTC)
        raise ValueError("no opening hours within a year")
