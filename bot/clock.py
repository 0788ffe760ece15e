"""Time, injected: the app asks a clock, tests set one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ShiftedClock:
    """Real time moved by an offset: lets tests jump ahead to when a follow-up is due."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        """Make `now()` read `moment` (and go on from there)."""
        self.offset = moment - datetime.now(UTC)
