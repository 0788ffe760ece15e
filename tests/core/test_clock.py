"""The clock tests run the bot on, and the guard that no test reads the real date."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from bot.core.clock import PinnedClock
from tests.conftest import MOVED_SYSTEM_CLOCK, TEST_START, pinned_clock


async def test_a_pinned_clock_starts_where_it_was_pinned_and_runs_on() -> None:
    clock = pinned_clock()
    first = clock.now()
    assert timedelta(0) <= first - TEST_START < timedelta(seconds=1)
    await asyncio.sleep(0.05)
    assert clock.now() - first >= timedelta(seconds=0.05)
    clock.advance(days=2)
    assert clock.now() - TEST_START >= timedelta(days=2)
    moment = datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    clock.set(moment)
    assert timedelta(0) <= clock.now() - moment < timedelta(seconds=1)


def test_a_pinned_clock_does_not_follow_the_system_clock() -> None:
    clock = PinnedClock(TEST_START)
    with time_machine.travel(datetime(2031, 7, 4, 12, 0, tzinfo=UTC), tick=False):
        assert clock.now() - TEST_START < timedelta(seconds=1)


def test_a_pinned_clock_refuses_a_naive_moment() -> None:
    with pytest.raises(ValueError, match="aware"):
        PinnedClock(datetime(2026, 11, 27, 10, 0))


@pytest.mark.skipif(not MOVED_SYSTEM_CLOCK, reason="only when CI moves the system clock")
def test_the_system_clock_is_moved_when_ci_asks() -> None:
    """The one test that reads the real date: it checks that the moved-clock runs really run
    at the moved date, so a green run there means something."""
    assert MOVED_SYSTEM_CLOCK is not None
    moved_to = datetime.fromisoformat(MOVED_SYSTEM_CLOCK)
    assert timedelta(0) <= datetime.now(UTC) - moved_to < timedelta(hours=1)
