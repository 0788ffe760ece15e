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
