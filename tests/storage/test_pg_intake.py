"""PostgreSQL's hot path (storage.intake.postgres: one array per column through asyncpg)
writes exactly the rows SQLAlchemy Core writes, for every kind of batch the webhook meets."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.cases.state_machine import customer_return
from bot.core import background
from bot.core.config import WebcareConfig
from bot.intake.ingest import Ingestor
from bot.intake.mentions import parse_mentions
from storage.db import close_unit_of_work, create_engine, unit_of_work
from storage.intake.rows import Stored
from storage.intake.store import store_incoming
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
        mention("9", author={"handle": "dora"}, text="Grote storing, niets werkt"),  # urgent
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
    assert len(fast_rows["mentions"]) == 9 and len(fast_rows["cases"]) == 5
    async with fast.engine.connect() as conn:  # the urgent case's card may jump the queue
        ranked = await conn.execute(text("SELECT case_id, rank FROM outbox WHERE rank IS NOT NULL"))
        assert ranked.all() == [(5, 1)]


async def test_an_upgrade_and_a_return_in_one_batch_as_sqlalchemy_stores_them(
    stores: tuple[Store, Store],
) -> None:
    # The lookups read the batch's cases before its upgrades are written: a proactive case
    # made reactive by an upgrade in the batch must reopen as a reactive case does.
    await _both(
        stores,
        mention("1", author={"handle": "karin"}, addressed=False),
        mention("2", author={"handle": "jan"}, addressed=False),
        mention("3", author={"handle": "piet"}),
    )
    for store in stores:
        await store.sql(
            "UPDATE cases SET status = 'resolved', resolved_at = :at WHERE id IN (1, 2)",
            at=NOW - timedelta(days=1),
        )
    results = await _both(
        stores,
        mention("1", author={"handle": "karin"}),  # now addressed: upgraded
        mention("4", author={"handle": "karin"}, addressed=False),  # reopens karin's case
        mention("5", author={"handle": "jan"}, addressed=False),  # reopens, stays proactive
        mention("3", author={"handle": "piet"}, private=True),  # upgraded to private
        mention("6", author={"handle": "piet"}),
        mention("7", author={"handle": "nieuw"}),
        mention("7", author={"handle": "nieuw"}),  # twice in one batch
        # A new customer writing twice in one batch: about us, then to us (the case is
        # opened and changed in the same statement).
        mention("8", author={"handle": "sanne"}, addressed=False),
        mention("9", author={"handle": "sanne"}, created_at="2026-11-27T09:10:00.5Z"),
    )
    assert [(r.case_id, r.duplicate, r.new_case) for r in results] == [
        (1, True, False),
        (1, False, False),
        (2, False, False),
        (3, True, False),
        (3, False, False),
        (4, False, True),
        (4, True, False),
        (5, False, True),
        (5, False, False),
    ]
    fast_rows, core_rows = [await store.dump() for store in stores]
    for table in TABLES:
        assert fast_rows[table] == core_rows[table], table
    async with stores[0].engine.connect() as conn:
        cases = (
            await conn.execute(
                text("SELECT author_handle, status, reactive, sla_due_at FROM cases ORDER BY id")
            )
        ).all()
    an_hour_later = NOW + timedelta(minutes=60)
    assert [tuple(c) for c in cases] == [
        ("karin", "reopened", True, an_hour_later),
        ("jan", "reopened", False, None),
        ("piet", "new", True, cases[2][3]),
        ("nieuw", "new", True, an_hour_later),
        ("sanne", "new", True, an_hour_later),
    ]


async def test_concurrent_batches_store_each_mention_once_in_its_customers_case(
    config: WebcareConfig,
) -> None:
    # On PostgreSQL two transactions store batches at once: requests that share a customer
    # or a mention wait for each other, so a customer keeps one case and the order of their
    # messages, and a mention sent twice at once is stored once.
    assert PG_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
    try:
        await upgrade(engine)
        ingestor = Ingestor(engine=engine, config=config, clock=StoppedClock())
        customers = [f"klant{n}" for n in range(6)]
        # Requests big enough for a second transaction (SECOND_WRITER_AT), each from two
        # customers: the next request shares one of them, the one after that neither.
        requests = [
            [mention(f"{r}-{k}", author={"handle": customers[(r + k % 2) % 6]}) for k in range(30)]
            for r in range(80)
        ]
        requests += [[mention("0-0", author={"handle": customers[0]})]] * 3  # sent again
        sending = []
        for bodies in requests:  # one after another, while earlier batches are being written
            sending.append(asyncio.create_task(ingestor.ingest(parse_mentions(bodies))))
            await asyncio.sleep(0.001)
        answers = await asyncio.gather(*sending)
        assert sum(a.accepted for a in answers) == sum(len(r) for r in requests) - 3
        assert [a.duplicates for a in answers[-3:]] == [1, 1, 1]
        async with engine.connect() as conn:
            cases = (
                await conn.execute(text("SELECT author_handle, mention_count FROM cases"))
            ).all()
            mentions = (
                await conn.execute(
                    text("SELECT author_handle, external_id FROM mentions ORDER BY id")
                )
            ).all()
            cards = (
                await conn.execute(text("SELECT count(*) FROM outbox WHERE kind = 'post_card'"))
            ).scalar_one()
        assert sorted(handle for handle, _ in cases) == customers and cards == 6
        stored = sum(len(r) for r in requests[:80])
        assert sum(count for _, count in cases) == len(mentions) == stored
        for customer in customers:  # each customer's messages in the order they were sent
            sent = [
                m["external_id"]
                for bodies in requests[:80]
                for m in bodies
                if m["author"]["handle"] == customer
            ]
            assert [e for handle, e in mentions if handle == customer] == sent
    finally:
        await background.drain()  # the ANALYZE the ingestor starts after 1,000 mentions
        close_unit_of_work(engine)
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
