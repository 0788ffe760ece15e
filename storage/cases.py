"""Reading cases and their mentions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.case_row import CaseRow
from storage.statuses import TaskKind, TaskStatus
from storage.tables import CASES, CRISES, DRAFTS, MENTIONS, TASKS


async def get_case(conn: AsyncConnection, *, case_id: int) -> Row | None:
    return (await conn.execute(select(CASES).where(CASES.c.id == case_id))).first()


def places_of(
    conn: Connection, *, case_id: int
) -> tuple[tuple[str | None, str | None], tuple[str | None, str | None]] | None:
    """The case's card and its storm digest row in Slack ((channel, ts) each); None: no case."""
    row = conn.execute(
        select(
            CASES.c.slack_channel, CASES.c.slack_ts, CASES.c.digest_channel, CASES.c.digest_ts
        ).where(CASES.c.id == case_id)
    ).first()
    if row is None:
        return None
    return (row.slack_channel, row.slack_ts), (row.digest_channel, row.digest_ts)


async def first_mention(conn: AsyncConnection, *, case_id: int) -> Row | None:
    return (
        await conn.execute(
            select(MENTIONS).where(MENTIONS.c.case_id == case_id).order_by(MENTIONS.c.id).limit(1)
        )
    ).first()


async def customer_language(conn: AsyncConnection, *, case_id: int) -> tuple[str, bool] | None:
    """The language of the customer's latest message that has one, and whether the bot
    detected it (rather than the source saying it)."""
    row = (
        await conn.execute(
            select(MENTIONS.c.language, MENTIONS.c.language_detected)
            .where(MENTIONS.c.case_id == case_id, MENTIONS.c.language.is_not(None))
            .order_by(MENTIONS.c.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (row.language, bool(row.language_detected))


async def get_mention(conn: AsyncConnection, *, mention_id: int) -> Row | None:
    return (await conn.execute(select(MENTIONS).where(MENTIONS.c.id == mention_id))).first()


async def count_cases(conn: AsyncConnection) -> int:
    return await conn.scalar(select(func.count()).select_from(CASES)) or 0


async def went_private(conn: AsyncConnection, *, case_id: int) -> bool:
    """True when a conversation that started in public continued in private messages."""
    started_private = await conn.scalar(select(CASES.c.private).where(CASES.c.id == case_id))
    if started_private is None or started_private:
        return False
    private_mention = await conn.scalar(
        select(MENTIONS.c.id).where(MENTIONS.c.case_id == case_id, MENTIONS.c.private).limit(1)
    )
    return private_mention is not None


async def latest_external_id(conn: AsyncConnection, *, case_id: int) -> str | None:
    """The platform id of the customer's latest message: what a reply answers."""
    return await conn.scalar(
        select(MENTIONS.c.external_id)
        .where(MENTIONS.c.case_id == case_id)
        .order_by(MENTIONS.c.created_at.desc(), MENTIONS.c.id.desc())
        .limit(1)
    )


async def latest_mention(conn: AsyncConnection, *, case_id: int) -> Row[Any] | None:
    """The customer's latest message in the case (what a reply answers)."""
    return (
        await conn.execute(
            select(MENTIONS.c.source, MENTIONS.c.external_id, MENTIONS.c.url, MENTIONS.c.text)
            .where(MENTIONS.c.case_id == case_id)
            .order_by(MENTIONS.c.created_at.desc(), MENTIONS.c.id.desc())
            .limit(1)
        )
    ).first()


@dataclass(frozen=True, slots=True)
class JobContext:
    """Everything an outbox message is rendered from, read in one go."""

    case: CaseRow
    first: Row[Any] | None
    mention: Row[Any] | None
    follow_up_at: datetime | None
    draft: Row[Any] | None
    crisis: Row[Any] | None


def job_context(
    conn: Connection, *, case_id: int, mention_id: int | None, draft_id: int | None
) -> JobContext | None:
    """The case of an outbox job and what its message shows (None when the case is gone)."""
    case = conn.execute(select(CASES).where(CASES.c.id == case_id)).first()
    if case is None:
        return None
    first = conn.execute(
        select(MENTIONS).where(MENTIONS.c.case_id == case_id).order_by(MENTIONS.c.id).limit(1)
    ).first()
    mention = (
        conn.execute(select(MENTIONS).where(MENTIONS.c.id == mention_id)).first()
        if mention_id
        else None
    )
    draft = (
        conn.execute(select(DRAFTS).where(DRAFTS.c.id == draft_id)).first() if draft_id else None
    )
    follow_up_at = conn.scalar(
        select(TASKS.c.due_at).where(
            TASKS.c.case_id == case_id,
            TASKS.c.status == TaskStatus.PENDING,
            TASKS.c.kind == TaskKind.FOLLOW_UP,
        )
    )
    crisis = conn.execute(select(CRISES).where(CRISES.c.department == case.department)).first()
    return JobContext(case, first, mention, follow_up_at, draft, crisis)
