"""Reading cases and their mentions."""

from __future__ import annotations

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.tables import CASES, MENTIONS


async def get_case(conn: AsyncConnection, *, case_id: int) -> Row | None:
    return (await conn.execute(select(CASES).where(CASES.c.id == case_id))).first()


async def first_mention(conn: AsyncConnection, *, case_id: int) -> Row | None:
    return (
        await conn.execute(
            select(MENTIONS).where(MENTIONS.c.case_id == case_id).order_by(MENTIONS.c.id).limit(1)
        )
    ).first()


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
