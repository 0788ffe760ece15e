"""PostgreSQL's hot paths write exactly the rows SQLAlchemy Core writes, for every kind of batch
the webhook meets: one array per column through asyncpg (storage.intake.postgres), and new
customers' first mentions in one statement with the rest after it, as the ingestor stores a
batch (storage.intake.first_mentions)."""

from __future__ import annotations

import asyncio
import contextlib
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
from storage.intake.first_mentions import store_first_mentions
from storage.intake.rows import Stored
from storage.intake.store import store_incoming
from storage.migrate import upgrade
from tests.conftest import PG_URL, mention
from tests.intake.test_intake import NOW, TABLES, StoppedClock

pytestmark = pytest.mark.skipif(not PG_URL, reason="set WEBCARE_TEST_DATABASE_URL")


class Store:
    """Stores batches one way: "arrays" (store_incoming's fast path), "core" (SQLAlchemy
    Core), or "ingest" (as the ingestor does: first mentions in one statement, then the rest)."""

    def __init__(self, engine: AsyncEngine, config: WebcareConfig, way: str) -> None:
        self.engine, self.way = engine, way
        self.ingestor = Ingestor(engine=engine, config=config, clock=StoppedClock())
        assert config.reopen_window_days == 7  # as the other ways are given it below

    async def put(self, *bodies: dict[str, Any]) -> list[Stored]:
        items = [self.ingestor.plan(m) for m in parse_mentions(list(bodies))]
        if self.way == "ingest":
            return await self.ingestor._store(items)
        return await unit_of_work(self.engine).run(
            lambda conn: store_incoming(
                conn,
                items=items,
                now=NOW,
                reopen_after=NOW - timedelta(days=7),
                returned=customer_return,
                fast=self.way == "arrays",
            )
        )

    async def sql(self, statement: str, **params: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(statement), params)

    async def keys(self) -> dict[int, tuple[str, str]]:
        """Each case by its first mention (source, external_id), whatever its id."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT DISTINCT ON (case_id) case_id, source, external_id FROM mentions"
                    " ORDER BY case_id, id"
                )
            )
            return {row[0]: (row[1], row[2]) for row in rows}

    async def dump_unnumbered(self) -> dict[str, list[tuple[Any, ...]]]:
        """The rows with every id replaced by what it stands for (a mention by its source and
        id, a case by its first mention), sorted: the rows as a batch stores them, whatever
        order it gives them ids in."""
        cases = await self.keys()
        async with self.engine.connect() as conn:
            mentions = {
                row[0]: (row[1], row[2])
                for row in await conn.execute(text("SELECT id, source, external_id FROM mentions"))
            }
            found = {}
            for table in TABLES:
                result = await conn.execute(text(f"SELECT * FROM {table}"))
                rows = []
                for row in result.mappings():
                    values = dict(row)
                    if table == "cases":
                        values["id"] = cases[values["id"]]
                    elif table == "mentions":
                        values["id"], values["case_id"] = (
                            mentions[values["id"]],
                            cases[values["case_id"]],
                        )
                    else:
                        del values["id"]
                        values["case_id"] = cases[values["case_id"]]
                        for name in ("detail", "payload"):
                            data = values.get(name)  # decoded by SQLAlchemy's asyncpg codecs
                            if data and "mention_id" in data:
                                data["mention_id"] = mentions[data["mention_id"]]
                            values[name] = data
                        if values.get("mention_id"):
                            values["mention_id"] = mentions[values["mention_id"]]
                        if values.get("dedupe_key"):
                            kind, _, number = values["dedupe_key"].partition(":")
                            values["dedupe_key"] = (kind, cases[int(number)])
                    rows.append(repr(sorted(values.items())))
                found[table] = sorted(rows)
            return found

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
async def stores(config: WebcareConfig) -> AsyncIterator[tuple[Store, Store, Store]]:
    assert PG_URL
    admin = create_async_engine(PG_URL)
    made, schemas = [], []
    for way in ("arrays", "core", "ingest"):
        schema = f"t_{uuid.uuid4().hex[:12]}"
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = create_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
        await upgrade(engine)
        made.append(Store(engine, config, way))
        schemas.append(schema)
    yield made[0], made[1], made[2]
    for store in made:
        close_unit_of_work(store.engine)
        await store.engine.dispose()
    async with admin.begin() as conn:
        for schema in schemas:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await admin.dispose()


async def _all_ways(stores: tuple[Store, ...], *bodies: dict[str, Any]) -> list[Stored]:
    """Store a batch every way; the same results, up to the numbering (the ingestor stores a
    batch's new customers first: their cases may come before another's from the same batch)."""
    answers = [await store.put(*bodies) for store in stores]
    fast, core = answers[0], answers[1]
    assert fast == core
    for store, answer in zip(stores[2:], answers[2:], strict=True):
        mine, theirs = await store.keys(), await stores[1].keys()
        assert [(mine[r.case_id], *r[1:]) for r in answer] == [
            (theirs[r.case_id], *r[1:]) for r in core
        ]
    return fast


async def _same_rows(stores: tuple[Store, ...]) -> dict[str, list[tuple[Any, ...]]]:
    """Every way stored the same rows; the ingestor's up to the numbering."""
    core_rows = await stores[1].dump()
    assert await stores[0].dump() == core_rows
    core_unnumbered = await stores[1].dump_unnumbered()
    for store in stores[2:]:
        mine = await store.dump_unnumbered()
        assert mine == core_unnumbered, store.way
    return core_rows


async def test_the_array_path_stores_the_same_rows_as_sqlalchemy(
    stores: tuple[Store, Store, Store],
) -> None:
    anna = {"handle": "Anna", "name": "Anna", "followers": 3, "url": "https://x.com/anna"}
    await _all_ways(
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
        # Anna's case on x (id 1, where the batch is stored in order) and Bob's (id 2).
        await store.sql(
            "UPDATE cases SET status = 'claimed', owner_id = 'U0ANNA'"
            " WHERE source = 'x' AND author_handle = 'anna'"
        )
        await store.sql(
            "UPDATE cases SET status = 'resolved', owner_id = 'U0BOB', resolved_at = :at"
            " WHERE author_handle = 'bob'",
            at=NOW - timedelta(days=1),
        )
    results = await _all_ways(
        stores,
        mention("6", author=anna),
        mention("7", author={"handle": "bob"}),
        mention("8", author={"handle": "bob"}, text="Nog steeds een storing"),
        mention("3", author={"handle": "bob"}),
        mention("1", author=anna, addressed=True),  # seen again, now addressed: an upgrade
    )
    assert [r.case_id for r in results] == [1, 2, 2, 2, 1]
    assert [r.duplicate for r in results] == [False, False, False, True, True]
    fast_rows = await _same_rows(stores)
    assert len(fast_rows["mentions"]) == 9 and len(fast_rows["cases"]) == 5
    pinged = [row for row in fast_rows["outbox"] if "U0ANNA" in repr(row)]
    assert len(pinged) == 1  # Anna's owner, in the thread of her claimed case
    async with stores[0].engine.connect() as conn:  # the urgent case's card may jump the queue
        ranked = await conn.execute(text("SELECT case_id, rank FROM outbox WHERE rank IS NOT NULL"))
        assert ranked.all() == [(5, 1)]


async def test_an_upgrade_and_a_return_in_one_batch_as_sqlalchemy_stores_them(
    stores: tuple[Store, Store, Store],
) -> None:
    # The lookups read the batch's cases before its upgrades are written: a proactive case
    # made reactive by an upgrade in the batch must reopen as a reactive case does.
    await _all_ways(
        stores,
        mention("1", author={"handle": "karin"}, addressed=False),
        mention("2", author={"handle": "jan"}, addressed=False),
        mention("3", author={"handle": "piet"}),
    )
    for store in stores:
        await store.sql(
            "UPDATE cases SET status = 'resolved', resolved_at = :at"
            " WHERE author_handle IN ('karin', 'jan')",
            at=NOW - timedelta(days=1),
        )
    results = await _all_ways(
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
    await _same_rows(stores)
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


@contextlib.asynccontextmanager
async def _schema(engines: int) -> AsyncIterator[tuple[AsyncEngine, ...]]:
    """A migrated schema of its own and `engines` engines on it (replicas, when more than one)."""
    assert PG_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    made = tuple(
        create_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
        for _ in range(engines)
    )
    try:
        await upgrade(made[0])
        yield made
    finally:
        await background.drain()  # the ANALYZE an ingestor starts after 1,000 mentions
        for engine in made:
            close_unit_of_work(engine)
            await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def test_concurrent_batches_store_each_mention_once_in_its_customers_case(
    config: WebcareConfig,
) -> None:
    # On PostgreSQL two transactions store batches at once: requests that share a customer
    # or a mention wait for each other, so a customer keeps one case and the order of their
    # messages, and a mention sent twice at once is stored once.
    async with _schema(1) as (engine,):
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


async def test_the_one_statement_opens_cases_only_for_new_customers_and_new_mentions(
    stores: tuple[Store, Store, Store],
) -> None:
    ingest = stores[2]
    await ingest.put(mention("1", author={"handle": "eva"}), mention("5", author={"handle": "rik"}))
    await ingest.sql("UPDATE cases SET status = 'resolved', resolved_at = :at", at=NOW)
    await ingest.sql(
        "UPDATE cases SET resolved_at = :at WHERE author_handle = 'rik'",
        at=NOW - timedelta(days=8),  # resolved before the reopen window
    )
    bodies = [
        mention("2", author={"handle": "eva"}),  # back within the window: reopens her case
        mention("1", author={"handle": "nina"}),  # stored before (as eva's): a duplicate
        mention("3", author={"handle": "otto"}),
        mention("6", author={"handle": "rik"}),  # back after the window: a case of his own
    ]
    items = [ingest.ingestor.plan(m) for m in parse_mentions(bodies)]
    autocommit = ingest.engine.execution_options(isolation_level="AUTOCOMMIT")
    async with autocommit.connect() as conn:
        stored = await store_first_mentions(conn, items, NOW, NOW - timedelta(days=7))
    assert sorted(stored) == [2, 3]
    assert all(s.new_case and not s.duplicate for s in stored.values())
    # What it left is stored as before: the return reopens Eva's case, the duplicate is one.
    results = await ingest.ingestor._store(items[:2])
    assert [(r.duplicate, r.new_case) for r in results] == [(False, False), (True, False)]
    again = await ingest.ingestor._store(items[2:])  # a sender's retry: stored once
    assert [(r.case_id, r.duplicate) for r in again] == [
        (stored[2].case_id, True),
        (stored[3].case_id, True),
    ]
    async with ingest.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT author_handle, status, mention_count FROM cases ORDER BY id")
        )
        assert [tuple(r) for r in rows] == [
            ("eva", "reopened", 2),
            ("rik", "resolved", 1),
            ("otto", "new", 1),
            ("rik", "new", 1),
        ]
        cards = await conn.execute(text("SELECT count(*) FROM outbox WHERE kind = 'post_card'"))
        assert cards.scalar_one() == 4


async def test_two_replicas_storing_the_same_new_mentions_at_once_store_each_once(
    config: WebcareConfig,
) -> None:
    # Two replicas get the same storm (a sender retrying at both, say): each new customer
    # gets one case and one card, every mention is accepted once, and the rest are duplicates.
    async with _schema(2) as engines:
        replicas = [Ingestor(engine=e, config=config, clock=StoppedClock()) for e in engines]
        rounds, size = 20, 25
        answers = []
        for r in range(rounds):
            bodies = [mention(f"{r}-{k}", author={"handle": f"klant{r}-{k}"}) for k in range(size)]
            answers += await asyncio.gather(
                *(
                    replica.ingest(parse_mentions(bodies[start::3]))
                    for replica in replicas
                    for start in range(3)
                )
            )
        assert sum(a.accepted for a in answers) == rounds * size
        assert sum(a.duplicates for a in answers) == rounds * size
        async with engines[0].connect() as conn:
            counts = await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM mentions),"
                    " (SELECT count(*) FROM outbox WHERE kind = 'post_card'),"
                    " (SELECT count(*) FROM case_events WHERE kind = 'opened')"
                )
            )
            assert tuple(counts.one()) == (rounds * size,) * 4


async def test_requests_stored_before_the_rest_of_their_batch_failed_are_answered_as_stored(
    stores: tuple[Store, Store, Store],
) -> None:
    # A new customer's request and a returning customer's share a batch. The new customer's
    # mention is committed first, in a statement of its own; then storing the returning
    # customer's fails (here: a trigger refusing the update of her case). The first request is
    # answered as stored, not as a duplicate of itself; the second gets the error.
    ingest = stores[2]
    await ingest.put(mention("1", author={"handle": "eva"}))
    await ingest.sql(
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$"
        " LANGUAGE plpgsql"
    )
    await ingest.sql(
        "CREATE TRIGGER refuse BEFORE UPDATE ON cases FOR EACH ROW EXECUTE FUNCTION refuse()"
    )
    new, returning = await asyncio.gather(
        ingest.ingestor.ingest(parse_mentions([mention("2", author={"handle": "nina"})])),
        ingest.ingestor.ingest(parse_mentions([mention("3", author={"handle": "eva"})])),
        return_exceptions=True,
    )
    assert isinstance(returning, Exception) and "refused" in str(returning)
    assert not isinstance(new, BaseException)
    assert (new.accepted, new.duplicates, new.new_cases) == (1, 0, 1)
    async with ingest.engine.connect() as conn:
        rows = await conn.execute(text("SELECT author_handle FROM mentions ORDER BY id"))
        assert [r[0] for r in rows] == ["eva", "nina"]
