"""Where the team stands: open work per department, what is (nearly) overdue, and the expected
reply time the team can publish."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.business_time import BusinessCalendar
from bot.core.config import WebcareConfig
from bot.core.config.departments import Department
from storage import stats

# A deadline this close counts as "near" on the status overview.
NEAR = timedelta(minutes=30)
SAMPLE = 20  # first responses the expected reply time is the median of
LISTED = 5  # (nearly) overdue cases named per department; the rest are counted


@dataclass
class DepartmentStatus:
    department: Department
    counts: dict[str, int]
    oldest_unclaimed: datetime | None
    overdue: list[Row[Any]] = field(default_factory=list)  # the first few, soonest first
    near: list[Row[Any]] = field(default_factory=list)
    overdue_count: int = 0  # all of them
    near_count: int = 0
    follow_ups_today: int = 0
    expected_reply_minutes: float | None = None


def find_department(config: WebcareConfig, name: str) -> Department | None:
    """A department by key or name, ignoring case."""
    wanted = name.strip().casefold()
    return next(
        (d for d in config.departments if wanted in (d.key.casefold(), d.name.casefold())), None
    )


async def team_status(
    engine: AsyncEngine, *, config: WebcareConfig, now: datetime, only: Department | None = None
) -> list[DepartmentStatus]:
    departments = [only] if only else list(config.departments)
    keys = [d.key for d in departments]
    local = now.astimezone(ZoneInfo(config.business_hours.timezone))
    end_of_day = local.replace(hour=23, minute=59, second=59)  # the team's day, not UTC's
    async with engine.connect() as conn:
        counts = await stats.open_counts(conn, departments=keys)
        oldest = await stats.oldest_unclaimed(conn, departments=keys)
        due, due_counts = await stats.due_before(
            conn, departments=keys, now=now, moment=now + NEAR, per_department=LISTED
        )
        follow_ups = await stats.follow_ups_due(conn, departments=keys, until=end_of_day)
        # Each department's own latest answers: a quiet department's reply time is not
        # crowded out by a busy one's.
        answered = {
            key: await stats.latest_first_responses(conn, department=key, limit=SAMPLE)
            for key in keys
        }
    result = []
    for department in departments:
        status = DepartmentStatus(
            department=department,
            counts=counts[department.key],
            oldest_unclaimed=oldest.get(department.key),
            follow_ups_today=follow_ups.get(department.key, 0),
            expected_reply_minutes=_median_reply(answered[department.key], config),
            overdue_count=due_counts.get((department.key, True), 0),
            near_count=due_counts.get((department.key, False), 0),
        )
        for case in due:
            if case.department == department.key:
                (status.overdue if case.sla_due_at <= now else status.near).append(case)
        result.append(status)
    return result


async def expected_reply_minutes(
    engine: AsyncEngine, *, config: WebcareConfig, department: Department | None = None
) -> float | None:
    """Median business minutes to the first answer over the latest answered cases."""
    async with engine.connect() as conn:
        answered = await stats.latest_first_responses(
            conn, department=department.key if department else None, limit=SAMPLE
        )
    return _median_reply(answered, config)


_CALENDARS: dict[tuple[int, str], BusinessCalendar] = {}


def calendar_for(config: WebcareConfig, department: str) -> BusinessCalendar:
    """The department's business calendar, built once (it caches its days)."""
    key = (id(config), department)
    if key not in _CALENDARS:
        _CALENDARS[key] = BusinessCalendar(config.hours_for(config.department(department)))
    return _CALENDARS[key]


def _median_reply(
    answered: list[tuple[str, datetime, datetime]], config: WebcareConfig
) -> float | None:
    if not answered:
        return None
    minutes = [
        calendar_for(config, key).minutes_between(opened, first) for key, opened, first in answered
    ]
    return statistics.median(minutes)
