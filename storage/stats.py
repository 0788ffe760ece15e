"""Where the team stands: the queries behind /webcare status, mine and the App Home.

Every query reads only open cases (or the latest answered ones) through an index, so they stay
fast however many resolved cases the database holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.sla import WAITING
from storage.statuses import (
    OPEN_STATUSES,
    UNCLAIMED_STATUSES,
    TaskKind,
    TaskStatus,
)
from storage.tables import CASES, TASKS

_CARD = (
    CASES.c.id,
    CASES.c.department,
    CASES.c.source,
    CASES.c.author_handle,
    CASES.c.status,
    CASES.c.sla_due_at,
    CASES.c.slack_channel,
    CASES.c.slack_ts,
    CASES.c.digest_channel,
    CASES.c.digest_ts,
    CASES.c.owner_id,
)


async def open_counts(
    conn: AsyncConnection, *, departments: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Department → status → number of open cases."""
    rows = await conn.execute(
        select(CASES.c.department, CASES.c.status, func.count())
        .where(CASES.c.status.in_(OPEN_STATUSES), CASES.c.department.in_(departments))
        .group_by(CASES.c.department, CASES.c.status)
    )
    counts: dict[str, dict[str, int]] = {d: {} for d in departments}
    for department, status, count in rows:
        counts[department][status] = count
    return counts


async def oldest_unclaimed(
    conn: AsyncConnection, *, departments: Sequence[str]
) -> dict[str, datetime]:
    rows = await conn.execute(
        select(CASES.c.department, func.min(CASES.c.opened_at))
        .where(CASES.c.status.in_(UNCLAIMED_STATUSES), CASES.c.department.in_(departments))
        .group_by(CASES.c.department)
    )
    return {department: _aware(oldest) for department, oldest in rows if oldest is not None}


async def due_before(
    conn: AsyncConnection,
    *,
    departments: Sequence[str],
    now: datetime,
    moment: datetime,
    per_department: int = 5,
) -> tuple[list[Row[Any]], dict[tuple[str, bool], int]]:
    """Cases still waiting for a first answer whose deadline falls before `moment` (a
    proactive case without a deadline is never overdue): the first `per_department` of each
    department, overdue (deadline before `now`) and not yet, soonest first; and how many
    there are of each, by (department, overdue). In a storm one department's hundreds must
    not hide another's few."""
    waiting = (
        WAITING,
        CASES.c.sla_due_at.is_not(None),
        CASES.c.sla_due_at <= moment,
        CASES.c.answered_at.is_(None),
        CASES.c.department.in_(departments),
    )
    overdue = CASES.c.sla_due_at <= now
    counted = await conn.execute(
        select(CASES.c.department, overdue.label("overdue"), func.count())
        .where(*waiting)
        .group_by(CASES.c.department, overdue)
    )
    counts = {(department, bool(late)): count for department, late, count in counted}
    place = (
        func.row_number()
        .over(partition_by=(CASES.c.department, overdue), order_by=(CASES.c.sla_due_at, CASES.c.id))
        .label("place")
    )
    ranked = select(*_CARD, place).where(*waiting).subquery()
    result = await conn.execute(
        select(*(ranked.c[column.name] for column in _CARD))
        .where(ranked.c.place <= per_department)
        .order_by(ranked.c.sla_due_at, ranked.c.id)
    )
    return list(result), counts


async def follow_ups_due(
    conn: AsyncConnection, *, departments: Sequence[str], until: datetime
) -> dict[str, int]:
    rows = await conn.execute(
        select(CASES.c.department, func.count())
        .select_from(TASKS.join(CASES, TASKS.c.case_id == CASES.c.id))
        .where(
            TASKS.c.status == TaskStatus.PENDING,
            TASKS.c.kind == TaskKind.FOLLOW_UP,
            TASKS.c.due_at <= until,
            CASES.c.department.in_(departments),
        )
        .group_by(CASES.c.department)
    )
    return {department: count for department, count in rows}


async def owned_by(
    conn: AsyncConnection, *, user: str, limit: int = 30
) -> tuple[list[Row[Any]], int]:
    """A person's open cases, most urgent first (at most `limit`), and how many they have."""
    owned = (
        CASES.c.owner_id.is_not(None),
        CASES.c.owner_id == user,
        CASES.c.status.in_(OPEN_STATUSES),
    )
    result = await conn.execute(
        select(*_CARD)
        .where(*owned)
        # Cases without a deadline (proactive) last, on SQLite as on PostgreSQL.
        .order_by(CASES.c.sla_due_at.asc().nulls_last(), CASES.c.id)
        .limit(limit)
    )
    rows = list(result)
    if len(rows) < limit:
        return rows, len(rows)
    total = await conn.scalar(select(func.count()).select_from(CASES).where(*owned))
    return rows, max(int(total or 0), len(rows))  # a case claimed between the two reads


async def latest_first_responses(
    conn: AsyncConnection, *, department: str | None, limit: int = 20
) -> list[tuple[str, datetime, datetime]]:
    """(department, opened, first answered) of the latest answered cases."""
    query = select(CASES.c.department, CASES.c.opened_at, CASES.c.first_response_at).where(
        CASES.c.first_response_at.is_not(None)
    )
    if department is not None:
        query = query.where(CASES.c.department == department)
    rows = await conn.execute(query.order_by(CASES.c.first_response_at.desc()).limit(limit))
    return [(d, _aware(o), _aware(f)) for d, o, f in rows]


def _aware(moment: datetime) -> datetime:
    # Aggregates (min) bypass the column type, so SQLite hands back naive UTC or a string.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
