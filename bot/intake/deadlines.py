"""SLA deadlines for a stream of mentions without walking the calendar for each one.

`Deadlines(calendar, due, warn)(start)` is `(calendar.add(start, due), calendar.add(start,
warn))`, exactly; it remembers what the calendar told it about the stretch of time around the
last start, which is where the next mention's start almost always is:

- closed (night, weekend, holiday): every start before the next opening gets the deadlines of
  that opening;
- open, with an hour and the deadline still inside the same local day: every start in it gets
  start + minutes (the calendar said so for the whole stretch).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.business_time import BusinessCalendar

# A mention that reaches the team more than this long after it was posted (a first poll's
# backfill, a feed hours late) starts its response clock when it arrives, not when posted:
# counting from the post would put it in breach the moment its card appears.
LATE_AFTER = timedelta(minutes=15)


def clock_start(posted: datetime, arrived: datetime) -> datetime:
    """When a mention's response time starts: when posted, or on arrival when it came late."""
    return arrived if arrived - posted > LATE_AFTER else min(posted, arrived)


def arrived_late(posted: datetime, arrived: datetime) -> bool:
    return arrived - posted > LATE_AFTER


# How far ahead of a start an open stretch is checked (beyond the deadline itself).
_STRETCH = timedelta(hours=1)
# After finding a start open but its deadline past closing time, look again this much later.
_RECHECK = timedelta(minutes=5)


class Deadlines:
    def __init__(self, calendar: BusinessCalendar, due_minutes: float, warn_minutes: float):
        self.calendar = calendar
        self.due_minutes, self.warn_minutes = due_minutes, warn_minutes
        # The same timedeltas BusinessCalendar.add builds, so sums come out identical.
        self.due, self.warn = timedelta(minutes=due_minutes), timedelta(minutes=warn_minutes)
        self._closed: tuple[datetime, datetime, datetime, datetime] | None = None
        self._open: tuple[datetime, datetime] | None = None
        self._quiet: tuple[datetime, datetime] | None = None  # [from, until): nothing to learn

    def __call__(self, start: datetime) -> tuple[datetime, datetime]:
        """(SLA due, SLA warning) for a mention that starts the clock at `start` (aware)."""
        if start.tzinfo is not UTC:
            start = start.astimezone(UTC)
        closed = self._closed
        if closed is not None and closed[0] <= start < closed[1]:
            return closed[2], closed[3]
        stretch = self._open
        if stretch is not None and stretch[0] <= start and start + self.due <= stretch[1]:
            return start + self.due, start + self.warn
        due = self.calendar.add(start, self.due_minutes)
        warn = self.calendar.add(start, self.warn_minutes)
        quiet = self._quiet
        if quiet is None or not quiet[0] <= start < quiet[1]:
            self._learn(start, due, warn)
        return due, warn

    def _learn(self, start: datetime, due: datetime, warn: datetime) -> None:
        if due == start + self.due:
            # Open now: check the stretch up to an hour past the deadline in one go. Within one
            # local day (one opening interval) with one UTC offset, "the deadline of that many
            # minutes is exactly that many minutes later" means the whole stretch is open.
            end = start + self.due + _STRETCH
            zone = self.calendar.zone
            first, last = start.astimezone(zone), end.astimezone(zone)
            minutes = (end - start) / timedelta(minutes=1)
            if (
                first.date() == last.date()
                and first.utcoffset() == last.utcoffset()
                and self.calendar.add(start, minutes) == end
            ):
                self._open = (start, end)
            else:
                self._quiet = (start, end)  # closing time is near: not worth asking again soon
            return
        opening = self.calendar.next_open(start)
        if opening > start:
            # Closed: no opening between here and `opening`, so the clock of every start in
            # between starts at `opening`, with the deadlines just computed.
            self._closed = (start, opening, due, warn)
        else:  # open, but the deadline falls after closing time
            self._quiet = (start, start + _RECHECK)
