"""Polled sources' cursors: what was seen and how the last polls went."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.tables import CURSORS, REPLY_TARGETS


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
    state: dict[str, Any] | None = None,
) -> None:
    await _ensure(conn, name)
    values: dict[str, Any] = {
        "etag": etag,
        "last_modified": last_modified,
        "last_success_at": now,
        "failures": 0,
        "failing_since": None,
        "first_success_at": func.coalesce(CURSORS.c.first_success_at, now),
        "items_seen": CURSORS.c.items_seen + items,
    }
    if state is not None:
        values["state"] = state
    if items:
        values["last_item_at"] = now
        # The first successful poll's items (the backfill) tell nothing of the usual pace.
        values["items_learned"] = case(
            (CURSORS.c.first_success_at.is_(None), CURSORS.c.items_learned),
            else_=CURSORS.c.items_learned + items,
        )
    if newest_seen_at is not None:
        values["newest_seen_at"] = newest_seen_at
    await conn.execute(update(CURSORS).where(CURSORS.c.name == name).values(**values))


async def save_failure(conn: AsyncConnection, *, name: str, now: datetime, error: str) -> int:
    """Record a failed poll; returns how many failed in a row."""
    await _ensure(conn, name)
    await conn.execute(
        update(CURSORS)
        .where(CURSORS.c.name == name)
        .values(
            last_error_at=now,
            last_error=error[:500],
            failures=CURSORS.c.failures + 1,
            failing_since=func.coalesce(CURSORS.c.failing_since, now),
        )
    )
    return (await get_cursor(conn, name=name)).failures  # type: ignore[union-attr]


async def _ensure(conn: AsyncConnection, name: str) -> None:
    if await get_cursor(conn, name=name) is None:
        try:
            async with conn.begin_nested():
                await conn.execute(CURSORS.insert().values(name=name, state={}))
        except IntegrityError:
            pass  # another replica made it


async def mark_down_alerted(conn: AsyncConnection, *, name: str, now: datetime) -> bool:
    """Claim the "source is down" alert; False when it was already posted (by any replica)."""
    result = await conn.execute(
        update(CURSORS)
        .where(CURSORS.c.name == name, CURSORS.c.down_alert_at.is_(None))
        .values(down_alert_at=now)
    )
    return result.rowcount == 1


async def mark_recovered(conn: AsyncConnection, *, name: str) -> bool:
    """Clear the alert; True once per recovery (the caller posts "recovered")."""
    result = await conn.execute(
        update(CURSORS)
        .where(CURSORS.c.name == name, CURSORS.c.down_alert_at.is_not(None))
        .values(down_alert_at=None)
    )
    return result.rowcount == 1


async def save_reply_targets(
    conn: AsyncConnection, *, source_name: str, targets: list[tuple[str, str, dict[str, Any]]]
) -> None:
    """Remember how to answer polled posts: (platform, external id, ref); known ones are kept."""
    if not targets:
        return
    dialect_insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    rows = [
        {"source": source, "external_id": external_id, "source_name": source_name, "ref": ref}
        for source, external_id, ref in targets
    ]
    await conn.execute(
        dialect_insert(REPLY_TARGETS)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
    )


async def reply_target(conn: AsyncConnection, *, source: str, external_id: str) -> Row[Any] | None:
    return (
        await conn.execute(
            select(REPLY_TARGETS).where(
                REPLY_TARGETS.c.source == source, REPLY_TARGETS.c.external_id == external_id
            )
        )
    ).first()
