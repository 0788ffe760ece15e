"""The counts behind spike detection: mentions per department in a window of time.

Synchronous, run inside the scheduler's unit of work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select
from sqlalchemy.engine import Connection

from storage.tables import ALERTS, CASES, MENTIONS


def mentions_per_department(
    conn: Connection, *, since: datetime, until: datetime
) -> dict[str, int]:
    rows = conn.execute(
        select(CASES.c.department, func.count())
        .select_from(MENTIONS.join(CASES, CASES.c.id == MENTIONS.c.case_id))
        .where(MENTIONS.c.created_at >= since, MENTIONS.c.created_at < until)
        .group_by(CASES.c.department)
    )
    return {department: count for department, count in rows}


def mention_sample(
    conn: Connection,
    *,
    since: datetime,
    until: datetime,
    department: str | None,
    limit: int = 2000,
) -> list[Row[Any]]:
    """(source, text) of mentions in the window: what the alert says the surge is about."""
    query = (
        select(MENTIONS.c.source, MENTIONS.c.text)
        .select_from(MENTIONS.join(CASES, CASES.c.id == MENTIONS.c.case_id))
        .where(MENTIONS.c.created_at >= since, MENTIONS.c.created_at < until)
        .limit(limit)
    )
    if department is not None:
        query = query.where(CASES.c.department == department)
    return list(conn.execute(query))


def last_alerts(conn: Connection) -> dict[str, datetime]:
    rows = conn.execute(
        select(ALERTS.c.scope, func.max(ALERTS.c.detected_at)).group_by(ALERTS.c.scope)
    )
    return {scope: _aware(at) for scope, at in rows}


def record_alert(
    conn: Connection,
    *,
    scope: str,
    now: datetime,
    mentions: int,
    baseline: float,
    details: dict[str, Any],
) -> int:
    return conn.execute(
        insert(ALERTS)
        .values(scope=scope, detected_at=now, mentions=mentions, baseline=baseline, details=details)
        .returning(ALERTS.c.id)
    ).scalar_one()


def read_alert(conn: Connection, *, alert_id: int) -> Row[Any]:
    return conn.execute(select(ALERTS).where(ALERTS.c.id == alert_id)).one()


def _aware(moment: Any) -> datetime:
    from datetime import UTC

    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
