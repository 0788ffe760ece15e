"""Business-time arithmetic: SLA deadlines that skip nights, weekends and public holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays

from bot.config import WEEKDAYS, BusinessHours

# A deadline further out than this many days means the calendar has no opening hours at all.
_MAX_DAYS = 366


class BusinessCalendar:
    """Opening hours in one time zone; all datetimes in and out are timezone-aware."""

    def __init__(self, hours: BusinessHours) -> None:
        self.hours = hours
        self.zone = ZoneInfo(hours.timezone)
        self.holidays = holidays.country_holidays(hours.holidays) if hours.holidays else {}
        if not any(hours.hours.values()) and not hours.clock_runs_outside_hours:
            raise ValueError("business hours must open on at least one weekday")

    def _opening(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's opening interval in local time, or None when closed all day."""
        span = self.hours.hours.get(WEEKDAYS[day.weekday()])
        if span is None or day in self.holidays:
            return None
        return (
            datetime.combine(day, span.opens, tzinfo=self.zone),
            datetime.combine(day, span.closes, tzinfo=self.zone),
        )

    def _intervals_from(self, start: datetime):  # type: ignore[no-untyped-def]
        day = start.astimezone(self.zone).date()
        for offset in range(_MAX_DAYS):
            interval = self._opening(day + timedelta(days=offset))
            if interval and interval[1] > start:
                yield max(interval[0], start), interval[1]

    def add(self, start: datetime, minutes: float) -> datetime:
        """The moment `minutes` of business time after `start`."""
        if self.hours.clock_runs_outside_hours:
            return start + timedelta(minutes=minutes)
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
            return (end - start).total_seconds() / 60
        total = timedelta()
        for opens, closes in self._intervals_from(start):
            if opens >= end:
                break
            total += min(closes, end) - opens
        return total.total_seconds() / 60

    def next_open(self, moment: datetime) -> datetime:
        """`moment` itself when open, else the next opening."""
        for opens, _closes in self._intervals_from(moment):
            return opens.astimezone(UTC)
        raise ValueError("no opening hours within a year")
