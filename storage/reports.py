"""The rows a period's report is computed from, each read through an index on time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Executable, Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.tables import CASES, EVENTS, MENTIONS

REPORTED_EVENTS = ("reopened", "reopen", "follow_up_outcome", "resolve")
# Rows turned into Python values at a time: a busy month is tens of thousands of cases, and
# converting them all in one go would keep webhooks and clicks waiting for a tenth of a second.
_PART = 500


async def _all(conn: AsyncConnection, query: Executable) -> list[Row[Any]]:
    """Every row of `query`, the event loop free to answer others between parts."""
    result, rows = await conn.execute(query), []
    for part in result.partitions(_PART):
        rows += part
        await asyncio.sleep(0)
    return rows


def _in(column: Any, since: datetime, until: datetime) -> Any:
    return (column >= since) & (column < until)


async def mention_counts(
    conn: AsyncConnection, *, since: datetime, until: datetime, department: str | None
) -> list[tuple[str, str, datetime, int]]:
    """(source, department, UTC hour, count) of the mentions written in the period.

    Counted in the database per hour: a busy week holds tens of thousands of mentions.
    """
    if conn.dialect.name == "sqlite":
        hour: Any = func.strftime("%Y-%m-%d %H", MENTIONS.c.created_at)
    else:
        hour = func.date_trunc("hour", MENTIONS.c.created_at)
    query = (
        select(MENTIONS.c.source, CASES.c.department, hour, func.count())
        .select_from(MENTIONS.join(CASES, CASES.c.id == MENTIONS.c.case_id))
        .where(_in(MENTIONS.c.created_at, since, until))
        .group_by(MENTIONS.c.source, CASES.c.department, hour)
    )
    if department:
        query = query.where(CASES.c.department == department)
    rows = await conn.execute(query)
    return [(source, dept, _utc_hour(at), count) for source, dept, at, count in rows]


def _utc_hour(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite: "2026-11-27 14"
        return datetime.strptime(value, "%Y-%m-%d %H").replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def answer_times(
    conn: AsyncConnection, *, since: datetime, until: datetime, department: str | None
) -> list[Row[Any]]:
    """(department, opened, deadline, first answer, resolved) of the cases opened in the
    period."""
    query = select(
        CASES.c.department,
        CASES.c.opened_at,
        CASES.c.sla_due_at,
        CASES.c.first_response_at,
        CASES.c.first_response_due_at,
        CASES.c.resolved_at,
    ).where(_in(CASES.c.opened_at, since, until))
    if department:
        query = query.where(CASES.c.department == department)
    return await _all(conn, query)


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
        CASES.c.first_response_due_at,
        CASES.c.resolved_at,
        CASES.c.mention_count,
    ).where(_in(CASES.c.opened_at, since, until))
    if department:
        query = query.where(CASES.c.department == department)
    return await _all(conn, query.order_by(CASES.c.opened_at))


async def cases_resolved_between(
    conn: AsyncConnection, *, since: datetime, until: datetime, department: str | None
) -> list[Row[Any]]:
    query = select(CASES.c.department, CASES.c.opened_at, CASES.c.resolved_at).where(
        CASES.c.resolved_at.is_not(None), _in(CASES.c.resolved_at, since, until)
    )
    if department:
        query = query.where(CASES.c.department == department)
    return await _all(conn, query)


async def event_counts(
    conn: AsyncConnection, *, since: datetime, until: datetime, department: str | None
) -> list[tuple[str, str | None, bool | None, int]]:
    """(kind, follow-up outcome, public close, count) of reopens, outcomes and resolutions."""
    action = EVENTS.c.detail["action"].as_string()
    public_close = EVENTS.c.detail["public_close"].as_boolean()
    query = (
        select(EVENTS.c.kind, action, public_close, func.count())
        .where(EVENTS.c.kind.in_(REPORTED_EVENTS), _in(EVENTS.c.at, since, until))
        .group_by(EVENTS.c.kind, action, public_close)
    )
    if department:
        query = query.select_from(EVENTS.join(CASES, CASES.c.id == EVENTS.c.case_id)).where(
            CASES.c.department == department
        )
    return [tuple(row) for row in await conn.execute(query)]  # type: ignore[misc]
