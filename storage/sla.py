"""The SLA sweep: cases that reach their warning moment or deadline, each taken exactly once.

Synchronous, run inside the scheduler's unit of work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.engine import Connection

from storage.statuses import AWAITING_FIRST_ANSWER, OPEN_STATUSES
from storage.tables import CASES

_RETURNED = (
    CASES.c.id,
    CASES.c.department,
    CASES.c.slack_channel,
    CASES.c.sla_due_at,
    CASES.c.owner_id,
    CASES.c.slack_ts,
    CASES.c.digest_channel,
    CASES.c.digest_ts,
)
# The case is on show in Slack: its own card, or a row in a posted storm or crisis digest (the
# row's light turns orange, then red, as a card's does; the worker refreshes the digest).
_SHOWN = or_(CASES.c.slack_ts.is_not(None), CASES.c.digest_ts.is_not(None))
# Waiting for a first answer, or, answered once, written to again (answered_at is cleared then):
# not a case put on follow-up or marked replied without a public answer.
WAITING = and_(
    CASES.c.status.in_(OPEN_STATUSES),
    or_(CASES.c.status.in_(AWAITING_FIRST_ANSWER), CASES.c.first_response_at.is_not(None)),
)


def take_warnings(conn: Connection, *, now: datetime, limit: int) -> list[Row[Any]]:
    """Unanswered cases past their warning moment, marked warned (so never warned twice).

    Every one turns orange on its card or digest row; the unclaimed ones with a card also get
    a line in its thread.
    """
    due = (
        select(CASES.c.id)
        .where(
            WAITING,
            CASES.c.sla_warn_at.is_not(None),  # a proactive case without a deadline: never
            CASES.c.sla_warn_at <= now,
            CASES.c.sla_warned_at.is_(None),
            CASES.c.answered_at.is_(None),  # waiting for an answer (again)
            _SHOWN,
        )
        .limit(limit)
    )
    return list(
        conn.execute(
            update(CASES)
            .where(CASES.c.id.in_(due), CASES.c.sla_warned_at.is_(None))
            .values(sla_warned_at=now)
            .returning(*_RETURNED)
        )
    )


def take_breaches(conn: Connection, *, now: datetime, limit: int) -> list[Row[Any]]:
    """Cases past their deadline without a first answer, marked breached (escalated once)."""
    due = (
        select(CASES.c.id)
        .where(
            WAITING,
            CASES.c.sla_due_at.is_not(None),  # a proactive case without a deadline: never
            CASES.c.sla_due_at <= now,
            CASES.c.answered_at.is_(None),  # waiting for an answer (again)
            CASES.c.sla_breached_at.is_(None),
            _SHOWN,
        )
        .limit(limit)
    )
    return list(
        conn.execute(
            update(CASES)
            .where(CASES.c.id.in_(due), CASES.c.sla_breached_at.is_(None))
            .values(sla_breached_at=now)
            .returning(*_RETURNED)
        )
    )
