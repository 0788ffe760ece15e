"""Time, injected: the app asks a clock, tests set one."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class PinnedClock:
    """A clock that starts at a chosen instant and runs on at real speed from there.

    Tests and benchmarks pin it, so what they see never depends on the calendar date they run
    on. It measures the time that passes with `time.monotonic()`, never with the wall clock,
    so the real date cannot leak in (and a moved system clock cannot move it).
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a pinned clock needs an aware datetime")
        self._start = start.astimezone(UTC)
        self._since = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._since)

    def advance(self, **delta: float) -> None:
        """Jump ahead, e.g. to when a follow-up is due."""
        self._start += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        """Make `now()` read `moment` (and go on from there)."""
        if moment.tzinfo is None:
            raise ValueError("a pinned clock needs an aware datetime")
        self._start, self._since = moment.astimezone(UTC), time.monotonic()
