"""The shared Slack budget's storage: token buckets in a table, and deferring a card refresh.

Synchronous: each call runs inside a unit of work (storage.db.unit_of_work). PostgreSQL locks
the tier's row for the transaction (replicas take turns); SQLite has one writer anyway.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from storage import outbox
from storage.outbox_job import Job
from storage.tables import BUDGETS


def take(
    conn: Connection,
    *,
    tier: str,
    rate: float,
    capacity: float,
    keep: float,
    now: datetime,
) -> float:
    """Take one token from `tier`'s bucket (`rate` tokens/s, at most `capacity`) if more than
    `keep` would be left over; 0.0 when taken, else the seconds until one would be."""
    row = conn.execute(
        select(BUDGETS.c.tokens, BUDGETS.c.updated_at)
        .where(BUDGETS.c.tier == tier)
        .with_for_update()
    ).first()
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(BUDGETS).values(tier=tier, tokens=capacity, updated_at=now))
        except IntegrityError:
            pass  # another replica made it just now
        return take(conn, tier=tier, rate=rate, capacity=capacity, keep=keep, now=now)
    elapsed = max(0.0, (now - row.updated_at).total_seconds())
    tokens = min(capacity, row.tokens + elapsed * rate)
    if tokens < 1 + keep:
        wait = (1 + keep - tokens) / rate
    else:
        tokens, wait = tokens - 1, 0.0
    # A clock behind another replica's never moves the stamp back (no tokens made twice).
    stamp = max(now, row.updated_at)
    conn.execute(
        update(BUDGETS).where(BUDGETS.c.tier == tier).values(tokens=tokens, updated_at=stamp)
    )
    return wait


def defer_card_update(conn: Connection, *, job: Job, not_before: datetime) -> None:
    """Put a card refresh (in flight) at the back of its channel's queue, due at `not_before`.

    A refresh shows the case as it is when sent, so a later one says the same: new cards and
    thread lines queued meanwhile go first. When a refresh for the case is waiting already,
    that one will do.
    """
    outbox.mark_skipped(conn, job_id=job.id, reason="deferred: Slack budget short")
    assert job.case_id is not None
    outbox.enqueue_card_update(conn, case_id=job.case_id, channel=job.channel, now=not_before)
