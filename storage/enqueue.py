"""Queueing an outbox job unless the same one is already waiting (its dedupe key), shared by
the outbox (card refreshes) and storm digests (digest refreshes, a digest case's own card), or
adding to the one waiting (the leads' escalations); the dedupe keys themselves, spelled once
for every path that writes them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from storage.statuses import JobKind, JobStatus
from storage.tables import OUTBOX


def card_update_key(case_id: int) -> str:
    """One waiting refresh of a case's card is enough: later changes show in it anyway."""
    return f"card:{case_id}"


# A case's card is posted once, whether by the ingest or from a storm digest row.
CARD_POST_PREFIX = "card-post:"


def card_post_key(case_id: int) -> str:
    return f"{CARD_POST_PREFIX}{case_id}"


def digest_update_key(channel: str, ts: str) -> str:
    return f"digest:{channel}:{ts}"


def escalation_key(target: str, channel: str) -> str:
    """The leads' waiting message about cases of one department channel."""
    key = f"sla-breach:{target}:{channel}"
    if len(key) > OUTBOX.c.dedupe_key.type.length:  # ids are short; a long one still fits
        key = "sla-breach:" + hashlib.sha256(key.encode()).hexdigest()[:40]
    return key


# Built once: these run inside every click's transaction, and building a statement with its
# values inlined costs more Python time than the database takes to run it.
_ENQUEUE_ONCE = {
    name: dialect_insert(OUTBOX).on_conflict_do_nothing(
        index_elements=["dedupe_key"], index_where=text("status = 'pending'")
    )
    for name, dialect_insert in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}


def enqueue_once(
    conn: Connection,
    *,
    kind: JobKind,
    channel: str,
    dedupe_key: str,
    now: datetime,
    not_before: datetime | None = None,
    case_id: int | None = None,
    payload: dict[str, Any] | None = None,
    rank: int | None = None,
) -> None:
    """Queue the job unless a pending one with `dedupe_key` is waiting already."""
    values: dict[str, Any] = {
        "kind": kind,
        "channel": channel,
        "status": JobStatus.PENDING,
        "attempts": 0,
        "not_before": not_before or now,
        "created_at": now,
        "dedupe_key": dedupe_key,
    }
    if case_id is not None:
        values["case_id"] = case_id
    if payload is not None:
        values["payload"] = payload
    if rank is not None:
        values["rank"] = rank
    conn.execute(_ENQUEUE_ONCE[conn.dialect.name], values)


def enqueue_escalation(
    conn: Connection, *, target: str, channel: str, cases: Sequence[list[Any]], now: datetime
) -> None:
    """Tell `target` (the leads) that `cases` of `channel` passed their response deadline, each
    [id, channel, ts] where it is shown: in a new message, or added to the one for the same
    leads and channel that is still waiting. A storm's breaches, found a hundred a sweep, so
    reach the leads as one message, as do those found before the worker got to it (a message
    tried once and waiting for a retry has given up its key: later cases get a new one)."""
    key = escalation_key(target, channel)
    # On PostgreSQL the row lock waits for a worker taking the job: then it is sending, and
    # these cases go in a message of their own.
    waiting = conn.execute(
        select(OUTBOX.c.id, OUTBOX.c.payload)
        .where(OUTBOX.c.dedupe_key == key, OUTBOX.c.status == JobStatus.PENDING)
        .with_for_update()
    ).first()
    earlier = (waiting.payload or {}).get("cases", []) if waiting is not None else []
    listed = {int(case[0]): list(case) for case in [*earlier, *cases]}
    # The channel as it was when they breached: the message says it, whatever moves after.
    payload = {
        "kind": "sla_breach",
        "channel": channel,
        "cases": [listed[n] for n in sorted(listed)],
    }
    first = min(listed)
    if waiting is not None:
        conn.execute(
            update(OUTBOX).where(OUTBOX.c.id == waiting.id).values(payload=payload, case_id=first)
        )
        return
    # A replica queueing the same message at the same moment breaks the unique index: this
    # sweep's transaction (the cases' breach marks with it) is undone and swept again.
    conn.execute(
        OUTBOX.insert().values(
            kind=JobKind.POST_DM,
            case_id=first,
            channel=target,
            status=JobStatus.PENDING,
            attempts=0,
            not_before=now,
            created_at=now,
            dedupe_key=key,
            payload=payload,
        )
    )
