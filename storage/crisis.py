"""Crisis mode per department, and the alert it was started from. Synchronous (unit of work)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select
from sqlalchemy.engine import Connection

from storage.outbox import enqueue
from storage.statuses import JobKind
from storage.tables import ALERTS, CRISES


def active(conn: Connection, *, department: str) -> Row[Any] | None:
    return conn.execute(select(CRISES).where(CRISES.c.department == department)).first()


def start(
    conn: Connection,
    *,
    department: str,
    channel: str,
    topic: list[str],
    alert_id: int | None,
    actor: str,
    now: datetime,
) -> bool:
    """Put a department in crisis mode; False when it already is."""
    if active(conn, department=department) is not None:
        return False
    conn.execute(
        insert(CRISES).values(
            department=department,
            topic=topic,
            alert_id=alert_id,
            started_by=actor,
            started_at=now,
            slack_channel=channel,
        )
    )
    _queue(conn, JobKind.POST_CRISIS, channel, {"department": department}, now)
    return True


def end(conn: Connection, *, department: str, actor: str, now: datetime) -> Row[Any] | None:
    """End a department's crisis mode; returns it (None when there was none)."""
    crisis = active(conn, department=department)
    if crisis is not None:
        conn.execute(delete(CRISES).where(CRISES.c.department == department))
    return crisis


def alert(conn: Connection, *, alert_id: int) -> Row[Any] | None:
    return conn.execute(select(ALERTS).where(ALERTS.c.id == alert_id)).first()


def queue_alert_refresh(conn: Connection, *, alert_id: int, channel: str, now: datetime) -> None:
    _queue(conn, JobKind.UPDATE_ALERT, channel, {"alert_id": alert_id}, now)


def _queue(
    conn: Connection, kind: JobKind, channel: str, payload: dict[str, Any], now: datetime
) -> None:
    enqueue(conn, kind=kind, channel=channel, payload=payload, now=now)
