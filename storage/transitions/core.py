"""Changing a case: lock it, then write the change, its audit event and the Slack refresh.

Synchronous: run inside a unit of work (storage.db.unit_of_work), one transaction each.

Every click runs lock_case and apply_change: on SQLite (the unit of work's stdlib driver) they
go through the raw driver (storage.transitions.sqlite); elsewhere their statements are built
once, since building one per call, values inlined, cost more than running it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ClauseElement

from storage import digests
from storage.case_row import CaseRow
from storage.outbox import enqueue_card_update
from storage.schedule import enqueue_note
from storage.statuses import CARD_RANKS, JobKind
from storage.tables import CASES, EVENTS, OUTBOX
from storage.transitions import sqlite as fast

_LOCK_FOR_UPDATE = select(CASES).where(CASES.c.id == bindparam("case_id_")).with_for_update()
# The SET clause comes from the keys passed at execution (one compiled form per key set).
_UPDATE_CASE = update(CASES).where(CASES.c.id == bindparam("case_id_")).returning(*CASES.c)
_INSERT_EVENT = insert(EVENTS)


def lock_case(conn: Connection, *, case_id: int) -> CaseRow | None:
    """Read a case and hold it until the transaction ends: concurrent changes queue up.

    PostgreSQL locks the row; SQLite takes the database's write lock first (reading first and
    writing later could fail instead of waiting).
    """
    cur = fast.cursor(conn)
    if cur is not None:
        return fast.lock_case(cur, case_id)  # type: ignore[no-any-return]
    if conn.dialect.name == "sqlite":  # SQLite through another driver than the unit of work's
        statement = update(CASES).where(CASES.c.id == case_id)
        conn.execute(statement.values(mention_count=CASES.c.mention_count))
        return conn.execute(select(CASES).where(CASES.c.id == case_id)).first()
    return conn.execute(_LOCK_FOR_UPDATE, {"case_id_": case_id}).first()


def apply_change(
    conn: Connection,
    *,
    case: CaseRow,
    values: Mapping[str, Any],
    event: str,
    actor: str,
    now: datetime,
    note: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
) -> CaseRow:
    """Write `values` to a locked case, log the event (`note` and `detail`), and queue the
    card refresh and the note's line in the thread."""
    cur = fast.cursor(conn)
    if any(isinstance(value, ClauseElement) for value in values.values()):
        cur = None  # SQL expressions, not data: only SQLAlchemy can write them
    changed = case
    if values:
        changed = _update_case(conn, cur, case.id, values)
    event_row = {
        "case_id": case.id,
        "kind": event,
        "from_status": case.status,
        "to_status": changed.status,
        "actor": actor,
        "at": now,
        "detail": {**(note or {}), **(detail or {})},
    }
    if cur is None:
        conn.execute(_INSERT_EVENT, event_row)
    else:
        fast.insert_event(cur, **event_row)
    if not changed.slack_ts:
        if changed.digest_ts and values:  # work starts on a case shown in a storm digest
            _card_from_digest(conn, changed, note=note, now=now)
        return changed  # no card yet: when it is posted, it shows the new state anyway
    channel = changed.slack_channel
    if values and note is not None and cur is not None:
        fast.enqueue_card_update_and_note(cur, case_id=case.id, channel=channel, note=note, now=now)
        return changed
    if values:
        if cur is None:
            enqueue_card_update(conn, case_id=case.id, channel=channel, now=now)
        else:
            fast.enqueue_card_update(cur, case_id=case.id, channel=channel, now=now)
    if note is not None:
        if cur is None:
            enqueue_note(conn, case_id=case.id, channel=channel, note=note, now=now)
        else:
            fast.enqueue_note(cur, case_id=case.id, channel=channel, note=note, now=now)
    return changed


def _update_case(
    conn: Connection, cur: sqlite3.Cursor | None, case_id: int, values: Mapping[str, Any]
) -> CaseRow:
    if cur is not None:
        return fast.update_case(cur, case_id, values)  # type: ignore[no-any-return]
    if any(isinstance(value, ClauseElement) for value in values.values()):
        statement = update(CASES).where(CASES.c.id == case_id).values(**values)
        return conn.execute(statement.returning(*CASES.c)).one()
    return conn.execute(_UPDATE_CASE, {**values, "case_id_": case_id}).one()


def _card_from_digest(
    conn: Connection, case: CaseRow, *, note: Mapping[str, Any] | None, now: datetime
) -> None:
    """Post the case's own card where its digest row is (the row then points at it), the
    change's line in its thread after it, and show the change on the row meanwhile."""
    channel = case.digest_channel
    digests.queue_card(conn, case_id=case.id, priority=case.priority, channel=channel, now=now)
    if note is not None:
        enqueue_note(conn, case_id=case.id, channel=channel, note=note, now=now)
    digests.queue_refresh(conn, channel=channel, ts=case.digest_ts, now=now)


def move_case(
    conn: Connection,
    *,
    case: CaseRow,
    values: Mapping[str, Any],
    event: str,
    department: str,
    channel: str,
    actor: str,
    now: datetime,
    note: Mapping[str, Any],
) -> CaseRow:
    """Move a locked case to another department with the state machine's `values`: a new card
    there, the old one a pointer."""
    changed = (
        conn.execute(
            update(CASES)
            .where(CASES.c.id == case.id)
            .values(
                **values,
                department=department,
                slack_channel=channel,
                slack_ts=None,
                # Its storm digest row (if any) is not where it can be worked on any more.
                digest_channel=None,
                digest_ts=None,
            )
            .returning(*CASES.c)
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
                "rank": None,
                "payload": {
                    **note,
                    "old_channel": case.slack_channel,
                    "old_ts": case.slack_ts,
                    "to_channel": channel,
                },
            },
            {
                **job,
                "kind": JobKind.POST_CARD,
                "channel": channel,
                "payload": None,
                "rank": CARD_RANKS.get(changed.priority),
            },
        ],
    )
    if case.digest_ts:  # the old digest row goes (a click on it is refused from now)
        digests.queue_refresh(conn, channel=case.digest_channel, ts=case.digest_ts, now=now)
    followed = _follow_to(conn, case_id=case.id, channel=channel)
    if followed:  # after the new card (jobs of a channel go out in id order)
        conn.execute(insert(OUTBOX), followed)
    conn.execute(
        insert(OUTBOX).values(**job, kind=JobKind.POST_NOTE, channel=channel, payload=dict(note))
    )
    return changed


# Replies in the card's thread: queued for the old card but not sent yet, they would find no card
# (its ts is cleared by the move) and be parked dead.
_THREAD_JOBS = (JobKind.POST_NOTE, JobKind.POST_MENTION, JobKind.POST_DRAFT)


def _follow_to(conn: Connection, *, case_id: int, channel: str) -> list[dict[str, Any]]:
    """Take the case's unsent thread replies off the old channel's queue; returned to be queued
    again after the new card, in their order."""
    pending = (
        OUTBOX.c.case_id == case_id,
        OUTBOX.c.status == "pending",
        OUTBOX.c.kind.in_([str(kind) for kind in _THREAD_JOBS]),
    )
    rows = conn.execute(select(OUTBOX).where(*pending).order_by(OUTBOX.c.id)).all()
    if rows:
        conn.execute(delete(OUTBOX).where(OUTBOX.c.id.in_([row.id for row in rows])))
    keep = ("case_id", "mention_id", "kind", "payload", "attempts", "not_before", "created_at")
    keep += ("dedupe_key",)
    return [
        {**{k: getattr(row, k) for k in keep}, "status": "pending", "channel": channel}
        for row in rows
    ]
