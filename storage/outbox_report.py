"""What the outbox holds, for /healthz, /metrics, `/webcare status` and `webcare outbox`: counts,
jobs parked as dead (and sending one again), and how far behind each channel is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.engine import Connection

from storage.statuses import JobKind, JobStatus
from storage.tables import OUTBOX


def pending_count(conn: Connection) -> int:
    return (
        conn.scalar(
            select(func.count()).where(OUTBOX.c.status.in_((JobStatus.PENDING, JobStatus.SENDING)))
        )
        or 0
    )


def dead_count(conn: Connection) -> int:
    """Messages Slack refused for good: lost unless somebody resends them."""
    return conn.scalar(select(func.count()).where(OUTBOX.c.status == JobStatus.DEAD)) or 0


def dead_jobs(conn: Connection) -> list[Any]:
    """The parked jobs, oldest first, with why they were parked."""
    return list(
        conn.execute(
            select(OUTBOX.c.id, OUTBOX.c.kind, OUTBOX.c.channel, OUTBOX.c.last_error)
            .where(OUTBOX.c.status == JobStatus.DEAD)
            .order_by(OUTBOX.c.id)
        )
    )


def retry_dead(conn: Connection, *, job_id: int) -> bool:
    """Queue a parked job again, due at once; False when it is not parked (any more), or when
    the same message is already waiting to go (a newer refresh of the same card)."""
    waiting_twin = (
        select(OUTBOX.c.id)
        .where(
            OUTBOX.c.status == JobStatus.PENDING,
            OUTBOX.c.dedupe_key.is_not(None),
            OUTBOX.c.dedupe_key
            == select(OUTBOX.c.dedupe_key).where(OUTBOX.c.id == job_id).scalar_subquery(),
        )
        .exists()
    )
    done = conn.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == job_id, OUTBOX.c.status == JobStatus.DEAD, ~waiting_twin)
        .values(
            status=JobStatus.PENDING,
            attempts=0,
            not_before=OUTBOX.c.created_at,  # due since queued: at once, on any clock
            last_error=None,
            sending_since=None,
        )
    )
    return bool(done.rowcount)


def counts_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status))
    return {row[0]: row[1] for row in rows}


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits for one channel: jobs not yet accepted by Slack, new cards among them."""

    channel: str
    jobs: int
    cards: int
    oldest: datetime


def backlog(conn: Connection) -> list[Backlog]:
    """Per channel: waiting jobs, waiting new cards and when the oldest waiting job was queued."""
    waiting = OUTBOX.c.status.in_((JobStatus.PENDING, JobStatus.SENDING))
    cards = func.sum(case((OUTBOX.c.kind == JobKind.POST_CARD, 1), else_=0))
    rows = conn.execute(
        select(OUTBOX.c.channel, func.count(), cards, func.min(OUTBOX.c.created_at))
        .where(waiting)
        .group_by(OUTBOX.c.channel)
        .order_by(OUTBOX.c.channel)
    )
    return [Backlog(row[0], row[1], int(row[2] or 0), row[3]) for row in rows]
