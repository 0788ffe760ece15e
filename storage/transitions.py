"""Changing a case: lock it, then write the change, its audit event and the Slack refresh.

Synchronous: run inside a unit of work (storage.db.unit_of_work), one transaction each.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.engine import Connection

from storage.models import JobKind
from storage.outbox import enqueue_card_update
from storage.schedule import enqueue_note
from storage.tables import CASES, EVENTS, OUTBOX


def lock_case(conn: Connection, *, case_id: int) -> Row[Any] | None:
    """Read a case and hold it until the transaction ends: concurrent changes queue up.

    PostgreSQL locks the row; SQLite has no row locks, so a no-op write takes the database's
    write lock first (reading first and writing later could fail instead of waiting).
    """
    query = select(CASES).where(CASES.c.id == case_id)
    if conn.dialect.name == "sqlite":
        conn.execute(update(CASES).where(CASES.c.id == case_id).values(id=CASES.c.id))
    else:
        query = query.with_for_update()
    return (conn.execute(query)).first()


def apply_change(
    conn: Connection,
    *,
    case: Row[Any],
    values: Mapping[str, Any],
    event: str,
    actor: str,
    now: datetime,
    note: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
) -> Row[Any]:
    """Write `values` to a locked case, log the event (`note` and `detail`), and queue the
    card refresh and the note's line in the thread."""
    changed = case
    if values:
        changed = (
            conn.execute(
                update(CASES).where(CASES.c.id == case.id).values(**values).returning(*CASES.c)
            )
        ).one()
    conn.execute(
        insert(EVENTS).values(
            case_id=case.id,
            kind=event,
            from_status=case.status,
            to_status=changed.status,
            actor=actor,
            at=now,
            detail={**(note or {}), **(detail or {})},
        )
    )
    if not changed.slack_ts:
        return changed  # no card yet: when it is posted, it shows the new state anyway
    if values:
        enqueue_card_update(conn, case_id=case.id, channel=changed.slack_channel, now=now)
    if note is not None:
        enqueue_note(conn, case_id=case.id, channel=changed.slack_channel, note=note, now=now)
    return changed


def move_case(
    conn: Connection,
    *,
    case: Row[Any],
    department: str,
    channel: str,
    actor: str,
    now: datetime,
    note: Mapping[str, Any],
) -> Row[Any]:
    """Move a locked case to another department: a new card there, the old one a pointer."""
    changed = (
        conn.execute(
            update(CASES)
            .where(CASES.c.id == case.id)
            .values(
                department=department,
                slack_channel=channel,
                slack_ts=None,
                status="new",
                owner_id=None,
                owner_name=None,
                claimed_at=None,
                forwarded_to=None,
                forward_due_at=None,
            )
            .returning(*CASES.c)
        )
    ).one()
    conn.execute(
        insert(EVENTS).values(
            case_id=case.id,
            kind="move",
            from_status=case.status,
            to_status="new",
            actor=actor,
            at=now,
            detail={**note, "from_department": case.department},
        )
    )
    job = {
        "case_id": case.id,
        "status": "pending",
        "attempts": 0,
        "not_before": now,
        "created_at": now,
    }
    conn.execute(
        insert(OUTBOX),
        [
            {
                **job,
                "kind": JobKind.MARK_MOVED,
                "channel": case.slack_channel,
                "payload": {
                    **note,
                    "old_channel": case.slack_channel,
                    "old_ts": case.slack_ts,
                    "to_channel": channel,
                },
            },
            {**job, "kind": JobKind.POST_CARD, "channel": channel, "payload": None},
            {**job, "kind": JobKind.POST_NOTE, "channel": channel, "payload": dict(note)},
        ],
    )
    return changed
