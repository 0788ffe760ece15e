"""Polled sources' cursors: what was seen and how the last polls went."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.tables import CURSORS


async def get_cursor(conn: AsyncConnection, *, name: str) -> Row[Any] | None:
    return (await conn.execute(select(CURSORS).where(CURSORS.c.name == name))).first()


async def all_cursors(conn: AsyncConnection) -> dict[str, Row[Any]]:
    return {row.name: row for row in await conn.execute(select(CURSORS))}


async def save_success(
    conn: AsyncConnection,
    *,
    name: str,
    now: datetime,
    etag: str | None,
    last_modified: str | None,
    newest_seen_at: datetime | None,
    items: int,
) -> None:
    await _ensure(conn, name)
    values: dict[str, Any] = {
        "etag": etag,
        "last_modified": last_modified,
        "last_success_at": now,
        "failures": 0,
        "items_seen": CURSORS.c.items_seen + items,
    }
    if newest_seen_at is not None:
        values["newest_seen_at"] = newest_seen_at
    await conn.execute(update(CURSORS).where(CURSORS.c.name == name).values(**values))


async def save_failure(conn: AsyncConnection, *, name: str, now: datetime, error: str) -> int:
    """Record a failed poll; returns how many failed in a row."""
    await _ensure(conn, name)
    await conn.execute(
        update(CURSORS)
        .where(CURSORS.c.name == name)
        .values(last_error_at=now, last_error=error[:500], failures=CURSORS.c.failures + 1)
    )
    return (await get_cursor(conn, name=name)).failures  # type: ignore[union-attr]


async def _ensure(conn: AsyncConnection, name: str) -> None:
    if await get_cursor(conn, name=name) is None:
        try:
            async with conn.begin_nested():
                await conn.execute(CURSORS.insert().values(name=name))
        except IntegrityError:
            pass  # another replica made it
