"""The rows a period's report is computed from, each read through an index on time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.tables import CASES, EVENTS, MENTIONS

REPORTED_EVENTS = ("reopened", "reopen", "follow_up_outcome", "resolve")


def _in(column: Any, since: datetime, until: datetime) -> Any:
    return (column >= since) & (column < until)


async def mentions_between(
    conn: AsyncConnection, *, since: datetime, until: datetime, department: str | None
) -> list[Row[Any]]:
    """(source, department, created_at) of every mention written in the period."""
    query = (
        select(MENTIONS.c.source, CASES.c.department, MENTIONS.c.created_at)
        .select_from(MENTIONS.join(CASES, CASES.c.id == MENTIONS.c.case_id))
        .where(_in(MENTIONS.c.created_at, since, until))
    )
    if department:
        query = query.where(CASES.c.department == department)
    return list(await conn.execute(query))


async def cases_opened_between(
    conn: AsyncConnection, *, since: datetime, until: datetime, department: str | None
) -> list[Row[Any]]:
    query = select(
        CASES.c.id,
        CASES.c.department,
        CASES.c.source,
        CASES.c.author_handle,
        CASES.c.status,
        CASES.c.priority,
        CASES.c.owner_id,
        CASES.c.opened_at,
        CASES.c.sla_due_at,
        CASES.c.first_response_at,
        CASES.c.resolved_at,
        CASES.c.mention_count,
    ).where(_in(CASES.c.opened_at, since, until))
    if department:
        query = query.where(CASES.c.department == department)
    return list(await conn.execute(query.order_by(CASES.c.opened_at)))


async def cases_resolved_between(
    conn: AsyncConnection, *, since: datetime, until: datetime, department: str | None
) -> list[Row[Any]]:
    query = select(CASES.c.department, CASES.c.opened_at, CASES.c.resolved_at).where(
        _in(CASES.c.resolved_at, since, until)
    )
    if department:
        query = query.where(CASES.c.department == department)
    return list(await conn.execute(query))


async def events_between(
    conn: AsyncConnection, *, since: datetime, until: datetime, department: str | None
) -> list[Row[Any]]:
    """Reopens, follow-up outcomes and resolutions in the period."""
    query = (
        select(EVENTS.c.kind, EVENTS.c.detail)
        .select_from(EVENTS.join(CASES, CASES.c.id == EVENTS.c.case_id))
        .where(EVENTS.c.kind.in_(REPORTED_EVENTS), _in(EVENTS.c.at, since, until))
    )
    if department:
        query = query.where(CASES.c.department == department)
    return list(await conn.execute(query))
