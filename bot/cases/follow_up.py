"""Follow-up: asking the case's owner, at a chosen time, whether the customer's problem is
solved; when to ask is business time, never at night or on a holiday."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.state_machine import FOLLOW_UP_OUTCOMES, Action, Actor, transition
from bot.core.business_time import BusinessCalendar
from storage import schedule
from storage.case_row import CaseRow
from storage.db import unit_of_work
from storage.statuses import TaskKind
from storage.transitions.core import lock_case

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


async def schedule_follow_up(
    engine: AsyncEngine, *, case_id: int, actor: Actor, due_at: datetime, now: datetime
) -> CaseRow:
    """Ask the owner (or `actor`, who then owns the case) at `due_at` whether it is solved."""

    def work(conn: Connection) -> Any:
        case = lock_case(conn, case_id=case_id)
        changed = transition(
            conn,
            Action.FOLLOW_UP,
            case=case,
            actor=actor,
            now=now,
            note={"due_at": due_at.isoformat()},
        )
        schedule.add_task(
            conn,
            kind=TaskKind.FOLLOW_UP,
            case_id=case_id,
            due_at=due_at,
            notify=changed.owner_id,
            created_by=actor.id,
            now=now,
        )
        return changed

    return await unit_of_work(engine).run(work)


async def record_follow_up(
    engine: AsyncEngine,
    *,
    case_id: int,
    actor: Actor,
    outcome: Action,
    now: datetime,
    calendar_for: Callable[[str], BusinessCalendar],
) -> CaseRow:
    """Record the answer to a due follow-up: solved, still open (ask again a business day
    later, in the hours of the case's department: `calendar_for` a department key) or
    reopen."""
    if outcome not in FOLLOW_UP_OUTCOMES:
        raise ValueError(f"{outcome} is not a follow-up outcome")

    def work(conn: Connection) -> Any:
        case = lock_case(conn, case_id=case_id)
        still_open = outcome is Action.FOLLOW_UP_STILL_OPEN and case is not None
        snooze = snooze_until(calendar_for(case.department), now) if still_open else None
        note = {"due_at": snooze.isoformat()} if snooze else None
        changed = transition(conn, outcome, case=case, actor=actor, now=now, note=note)
        if snooze is not None:
            schedule.add_task(
                conn,
                kind=TaskKind.FOLLOW_UP,
                case_id=case_id,
                due_at=snooze,
                notify=case.owner_id or actor.id,
                created_by=actor.id,
                now=now,
            )
        else:
            schedule.cancel_tasks(conn, case_id=case_id, kind=TaskKind.FOLLOW_UP)
        return changed

    return await unit_of_work(engine).run(work)
