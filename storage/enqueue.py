"""Queueing an outbox job unless the same one is already waiting (its dedupe key), shared by
the outbox (card refreshes) and storm digests (digest refreshes, a digest case's own card);
the dedupe keys themselves, spelled once for every path that writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
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
