"""When to ask the customer's owner whether the problem is solved: in business time, never at
night or on a holiday."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.business_time import BusinessCalendar

# "Still open" asks again this many days later.
SNOOZE_DAYS = 1


def due_after_days(calendar: BusinessCalendar, now: datetime, days: int) -> datetime:
    """The same time `days` later, moved to the next business morning when that is closed."""
    return calendar.next_open(now + timedelta(days=days))


def due_at(choice: int | datetime, *, calendar: BusinessCalendar, now: datetime) -> datetime:
    """When to ask, for a choice of days from now or a moment (moved into business hours)."""
    if isinstance(choice, datetime):
        return calendar.next_open(choice)
    return due_after_days(calendar, now, choice)


def snooze_until(calendar: BusinessCalendar, now: datetime) -> datetime:
    """When to ask again after "still open"."""
    return due_after_days(calendar, now, SNOOZE_DAYS)
