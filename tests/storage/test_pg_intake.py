"""PostgreSQL's hot path (storage.intake.postgres: one array per column through asyncpg)
writes exactly the rows SQLAlchemy Core writes, for every kind of batch the webhook meets."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.cases.state_machine import customer_return
from bot.core.config import WebcareConfig
from bot.intake.ingest import Ingestor
from bot.intake.mentions import parse_mentions
from storage.db import close_unit_of_work, create_engine, unit_of_work
from storage.intake.store import Stored, store_incoming
from storage.migrate import upgrade
from tests.conftest import PG_URL, mention
from tests.intake.test_intake import NOW, TABLES, StoppedClock

pytestmark = pytest.mark.skipif(not PG_URL, reason="set WEBCARE_TEST_DATABASE_URL")


class Store:
    def __init__(self, engine: AsyncEngine, config: WebcareConfig, fast: bool) -> None:
        self.engine, self.fast = engine, fast
        self.ingestor = Ingestor(engine=engine, config=config, clock=StoppedClock())

    async def put(self, *bodies: dict[str, Any]) -> list[Stored]:
        items = [self.ingestor.plan(m) for m in parse_mentions(list(bodies))]
        return await unit_of_work(self.engine).run(
            lambda conn: store_incoming(
                conn,
                items=items,
                now=NOW,
                reopen_after=NOW - timedelta(days=7),
                returned=customer_return,
                fast=self.fast,
            )
        )

    async def sql(self, statement: str, **params: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(statement), params)

    async def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        async with self.engine.connect() as conn:
            return {
                table: [
                    tuple(row)
                    for row in await conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))
                ]
                for table in TABLES
            }


@pytest.fixture
async def stores(config: WebcareConfig) -> AsyncIterator[tuple[Store, Store]]:
    assert PG_URL
    admin = create_async_engine(PG_URL)
    made, schemas = [], []
    for fast in (True, False):
        schema = f"t_{uuid.uuid4().hex[:12]}"
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = create_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
        await upgrade(engine)
        made.append(Store(engine, config, fast))
        schemas.append(schema)
    yield made[0], made[1]
    for store in made:
        close_unit_of_work(store.engine)
        await store.engine.dispose()
    async with admin.begin() as conn:
        for schema in schemas:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await admin.dispose()


async def _both(stores: tuple[Store, Store], *bodies: dict[str, Any]) -> list[Stored]:
    fast, core = [await store.put(*bodies) for store in stores]
    assert fast == core
    return fast


async def test_the_array_path_stores_the_same_rows_as_sqlalchemy(
    stores: tuple[Store, Store],
) -> None:
    anna = {"handle": "Anna", "name": "Anna", "followers": 3, "url": "https://x.com/anna"}
    await _both(
        stores,
        mention("1", author=anna, language="nl-NL", in_reply_to="0", addressed=False),
        mention("1", author=anna),
        mention("2", author=anna, created_at="2030-01-01T00:00:00Z"),
        mention("3", author={"handle": "bob"}, text="Mijn <b>factuur</b> &amp; meer", url=None),
        mention("4", source="facebook", author={"handle": "anna"}, private=True),
        mention("5", author={"handle": "carla"}, created_at=(NOW - timedelta(hours=5)).isoformat()),
    )
    for store in stores:
        await store.sql("UPDATE cases SET status = 'claimed', owner_id = 'U0ANNA' WHERE id = 1")
        await store.sql(
            "UPDATE cases SET status = 'resolved', owner_id = 'U0BOB', resolved_at = :at"
            " WHERE id = 2",
            at=NOW - timedelta(days=1),
        )
    results = await _both(
        stores,
        mention("6", author=anna),
        mention("7", author={"handle": "bob"}),
        mention("8", author={"handle": "bob"}, text="Nog steeds een storing"),
        mention("3", author={"handle": "bob"}),
        mention("1", author=anna, addressed=True),  # seen again, now addressed: an upgrade
    )
    assert [r.case_id for r in results] == [1, 2, 2, 2, 1]
    assert [r.duplicate for r in results] == [False, False, False, True, True]
    fast, core = stores
    fast_rows, core_rows = await fast.dump(), await core.dump()
    for table in TABLES:
        assert fast_rows[table] == core_rows[table], table
    assert len(fast_rows["mentions"]) == 8 and len(fast_rows["cases"]) == 4
