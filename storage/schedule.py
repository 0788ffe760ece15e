"""Scheduled tasks: added with a case change, fired once when due.

The writing functions are synchronous and run inside a case change's unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.outbox import enqueue
from storage.statuses import JobKind, TaskKind, TaskStatus
from storage.tables import TASKS


def add_task(
    conn: Connection,
    *,
    kind: str,
    case_id: int,
    due_at: datetime,
    notify: str,
    created_by: str,
    now: datetime,
) -> int:
    """Schedule a task, replacing a pending one of the same kind for the case."""
    cancel_tasks(conn, case_id=case_id, kind=kind)
    result = conn.execute(
        insert(TASKS)
        .values(
            kind=kind,
            case_id=case_id,
            status=TaskStatus.PENDING,
            due_at=due_at,
            notify=notify,
            created_by=created_by,
            created_at=now,
        )
        .returning(TASKS.c.id)
    )
    return result.scalar_one()


def cancel_tasks(conn: Connection, *, case_id: int, kind: str | None = None) -> None:
    waiting = (TaskStatus.PENDING, TaskStatus.HELD)
    condition = (TASKS.c.case_id == case_id) & TASKS.c.status.in_(waiting)
    if kind is not None:
        condition &= TASKS.c.kind == kind
    conn.execute(update(TASKS).where(condition).values(status=TaskStatus.CANCELLED))


def take_due_task(conn: Connection, *, now: datetime) -> Row[Any] | None:
    """Fire the oldest due task in one statement, so it fires exactly once.

    On PostgreSQL concurrent schedulers skip a row another one is firing (SKIP LOCKED);
    SQLite ignores the lock clause and serialises writers anyway.
    """
    oldest_due = (
        select(TASKS.c.id)
        .where(TASKS.c.status == TaskStatus.PENDING, TASKS.c.due_at <= now)
        .order_by(TASKS.c.due_at, TASKS.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    fired = conn.execute(
        update(TASKS)
        .where(TASKS.c.id == oldest_due, TASKS.c.status == TaskStatus.PENDING)
        .values(status=TaskStatus.FIRED, fired_at=now)
        .returning(*TASKS.c)
    )
    return fired.first()


def hold(conn: Connection, *, task_id: int) -> None:
    """Keep a fired follow-up for later: its case is forwarded (see release_held)."""
    conn.execute(update(TASKS).where(TASKS.c.id == task_id).values(status=TaskStatus.HELD))


def follow_up_planned(conn: Connection, *, case_id: int) -> bool:
    """Whether the case has a follow-up to come, or one that came due while it was forwarded."""
    waiting = (TaskStatus.PENDING, TaskStatus.HELD)
    return (
        conn.scalar(
            select(TASKS.c.id)
            .where(
                TASKS.c.case_id == case_id,
                TASKS.c.kind == TaskKind.FOLLOW_UP,
                TASKS.c.status.in_(waiting),
            )
            .limit(1)
        )
        is not None
    )


def release_held(conn: Connection, *, case_id: int, now: datetime) -> None:
    """The forward is answered: a follow-up held meanwhile is due now (asked at once)."""
    conn.execute(
        update(TASKS)
        .where(TASKS.c.case_id == case_id, TASKS.c.status == TaskStatus.HELD)
        .values(status=TaskStatus.PENDING, due_at=now, fired_at=None)
    )


async def next_task_due(conn: AsyncConnection) -> datetime | None:
    return await conn.scalar(
        select(TASKS.c.due_at)
        .where(TASKS.c.status == TaskStatus.PENDING)
        .order_by(TASKS.c.due_at)
        .limit(1)
    )


async def pending_follow_up(conn: AsyncConnection, *, case_id: int) -> datetime | None:
    return await conn.scalar(
        select(TASKS.c.due_at).where(
            TASKS.c.case_id == case_id,
            TASKS.c.status == TaskStatus.PENDING,
            TASKS.c.kind == "follow_up",
        )
    )


def enqueue_dm(
    conn: Connection, *, user: str, case_id: int, payload: dict[str, Any], now: datetime
) -> None:
    """Queue a direct message to `user` (posted to their user id, which opens the DM)."""
    enqueue(conn, kind=JobKind.POST_DM, channel=user, case_id=case_id, payload=payload, now=now)


def enqueue_note(
    conn: Connection, *, case_id: int, channel: str, note: Mapping[str, Any], now: datetime
) -> None:
    """Queue a line in the case card's thread."""
    enqueue(conn, kind=JobKind.POST_NOTE, channel=channel, case_id=case_id, payload=note, now=now)


def enqueue_alert(conn: Connection, *, channel: str, alert_id: int, now: datetime) -> None:
    """Queue a spike alert for the alert channel (an outbox job without a case)."""
    enqueue(conn, kind=JobKind.POST_ALERT, channel=channel, payload={"alert_id": alert_id}, now=now)
