"""Storing batches of mentions: the raw sqlite3 hot path writes exactly what SQLAlchemy Core
writes, and batches thread, dedupe and reopen the way a webcare team expects."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.state_machine import customer_return
from bot.core.config import WebcareConfig
from bot.intake.ingest import Ingestor
from bot.intake.mentions import parse_mentions
from storage.db import close_unit_of_work, create_engine, unit_of_work
from storage.intake.rows import Stored
from storage.intake.store import store_incoming
from storage.migrate import upgrade
from storage.sqlite_codec import sqlite_datetime
from storage.tables import MENTIONS
from tests.conftest import mention

NOW = datetime(2026, 11, 27, 9, 30, 0, 123456, tzinfo=UTC)
TABLES = ("cases", "mentions", "case_events", "outbox")


class StoppedClock:
    """The ingest clock at NOW, not running on: both stores must compute the same deadlines."""

    def now(self) -> datetime:
        return NOW


class Store:
    """One SQLite database fed through one of the two writers."""

    def __init__(self, engine: AsyncEngine, ingestor: Ingestor, fast: bool) -> None:
        self.engine, self.ingestor, self.fast = engine, ingestor, fast

    async def put(self, *bodies: dict[str, Any], now: datetime = NOW) -> list[Stored]:
        items = [self.ingestor.plan(m) for m in parse_mentions(list(bodies))]
        return await unit_of_work(self.engine).run(
            lambda conn: store_incoming(
                conn,
                items=items,
                now=now,
                reopen_after=now - timedelta(days=7),
                returned=customer_return,
                fast=self.fast,
            )
        )

    async def sql(self, statement: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(statement))

    def dump(self, path: Path) -> dict[str, list[tuple[Any, ...]]]:
        return {t: self.query(path, f"SELECT * FROM {t} ORDER BY id") for t in TABLES}

    @staticmethod
    def query(path: Path, statement: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(path) as db:
            return db.execute(statement).fetchall()


@pytest.fixture
async def stores(tmp_path: Path, config: WebcareConfig) -> AsyncIterator[list[tuple[Store, Path]]]:
    made = []
    for fast in (True, False):
        path = tmp_path / f"{'fast' if fast else 'core'}.db"
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        # Stopped at NOW: a late mention's deadline counts from arrival, the same on both.
        ingestor = Ingestor(engine=engine, config=config, clock=StoppedClock())
        made.append((Store(engine, ingestor, fast), path))
    yield made
    for store, _ in made:
        close_unit_of_work(store.engine)
        await store.engine.dispose()


async def both(stores: list[tuple[Store, Path]], *bodies: dict[str, Any]) -> list[Stored]:
    fast, core = [await store.put(*bodies) for store, _ in stores]
    assert fast == core
    return fast


async def test_the_fast_path_stores_the_same_rows_as_sqlalchemy(
    stores: list[tuple[Store, Path]],
) -> None:
    anna = {"handle": "Anna", "name": "Anna", "followers": 3, "url": "https://x.com/anna"}
    # New cases, a duplicate inside the batch, two mentions of one author, a future timestamp.
    await both(
        stores,
        mention("1", author=anna, language="nl-NL", in_reply_to="0"),
        mention("1", author=anna),
        mention("2", author=anna, created_at="2030-01-01T00:00:00Z"),
        mention("3", author={"handle": "bob"}, text="Mijn factuur!", url=None),
        mention("4", source="facebook", author={"handle": "anna"}, private=True),
    )
    # Anna's case is claimed, Bob's resolved yesterday, and both write again (and a duplicate).
    for store, _ in stores:
        await store.sql("UPDATE cases SET status = 'claimed', owner_id = 'U0ANNA' WHERE id = 1")
        resolved = sqlite_datetime(NOW - timedelta(days=1))
        await store.sql(
            f"UPDATE cases SET status = 'resolved', owner_id = 'U0BOB', resolved_at = '{resolved}'"
            " WHERE id = 2"
        )
    results = await both(
        stores,
        mention("5", author=anna),
        mention("6", author={"handle": "bob"}),
        mention("7", author={"handle": "bob"}, text="Nog steeds een storing"),
        mention("3", author={"handle": "bob"}),
    )
    assert [r.case_id for r in results] == [1, 2, 2, 2]
    assert [r.duplicate for r in results] == [False, False, False, True]

    (fast, fast_path), (core, core_path) = stores
    fast_rows, core_rows = fast.dump(fast_path), core.dump(core_path)
    for table in TABLES:
        assert fast_rows[table] == core_rows[table], table
    assert len(fast_rows["outbox"]) == 9  # 3 cards, 1 + 3 thread lines, 2 card refreshes


async def test_two_mentions_of_a_new_customer_in_one_batch_share_one_case(
    stores: list[tuple[Store, Path]],
) -> None:
    results = await both(
        stores,
        mention("1", author={"handle": "carla"}, text="Mijn factuur klopt niet"),
        mention("2", author={"handle": "@Carla"}, text="Er is een storing"),
    )
    assert [(r.case_id, r.new_case) for r in results] == [(1, True), (1, False)]
    fast, path = stores[0]
    cases = fast.query(path, "SELECT id, mention_count, slack_channel FROM cases")
    assert cases == [(1, 2, "CBILLING1")]
    # The second mention follows the new card to billing, not to the outage channel.
    assert fast.query(path, "SELECT kind, channel FROM outbox ORDER BY id") == [
        ("post_card", "CBILLING1"),
        ("post_mention", "CBILLING1"),
    ]


async def test_a_batch_of_only_known_mentions_stores_nothing(
    stores: list[tuple[Store, Path]],
) -> None:
    first = await both(stores, mention("1"), mention("2", author={"handle": "bob"}))
    again = await both(stores, mention("2", author={"handle": "bob"}), mention("1"))
    assert [(r.case_id, r.duplicate) for r in again] == [
        (first[1].case_id, True),
        (first[0].case_id, True),
    ]
    fast, path = stores[0]
    assert len(fast.dump(path)["mentions"]) == 2


@pytest.mark.parametrize(
    "moment",
    [
        NOW,
        datetime(2026, 3, 29, 3, 0, tzinfo=UTC),
        datetime(2026, 6, 1, 12, 0, tzinfo=UTC).astimezone(
            datetime(2026, 6, 1, tzinfo=UTC).astimezone().tzinfo
        ),
        datetime(999, 1, 2, 3, 4, 5, 0, tzinfo=UTC),
    ],
)
def test_datetimes_are_stored_as_sqlalchemy_stores_them(moment: datetime) -> None:
    column_type: Any = MENTIONS.c.created_at.type
    process = column_type._cached_bind_processor(sqlite_dialect.dialect())
    assert sqlite_datetime(moment) == process(moment)


async def test_a_later_addressed_sighting_upgrades_mention_and_case_on_both_paths(
    stores: list[tuple[Store, Path]],
) -> None:
    await both(stores, mention("1", addressed=False), mention("2", author={"handle": "bob"}))
    results = await both(
        stores,
        mention("1", addressed=True, private=True),  # the same post, now as a direct mention
        mention("2", author={"handle": "bob"}, addressed=False),  # never downgraded
    )
    assert [r.duplicate for r in results] == [True, True]
    (fast, fast_path), (core, core_path) = stores
    fast_rows, core_rows = fast.dump(fast_path), core.dump(core_path)
    for table in TABLES:
        assert fast_rows[table] == core_rows[table], table
    assert fast.query(fast_path, "SELECT addressed, private FROM mentions ORDER BY id") == [
        (1, 1),
        (1, 0),
    ]
    assert fast.query(fast_path, "SELECT reactive, private FROM cases ORDER BY id") == [
        (1, 1),
        (1, 0),
    ]
    kinds = fast.query(fast_path, "SELECT kind FROM case_events ORDER BY id")
    assert kinds[-1] == ("mention_upgraded",)
    refresh = fast.query(fast_path, "SELECT case_id FROM outbox WHERE kind = 'update_card'")
    assert refresh == [(1,)]


async def test_a_late_mention_gets_its_deadline_from_arrival_on_both_paths(
    stores: list[tuple[Store, Path]],
) -> None:
    posted = NOW - timedelta(hours=5)  # a first poll's backfill
    await both(
        stores, mention("1", created_at=posted.isoformat()), mention("2", author={"handle": "bob"})
    )
    (fast, fast_path), (core, core_path) = stores
    assert fast.dump(fast_path) == core.dump(core_path)
    (opened, due), _ = fast.query(fast_path, "SELECT opened_at, sla_due_at FROM cases ORDER BY id")
    assert opened == sqlite_datetime(posted) and due > sqlite_datetime(NOW)


async def test_proactive_cases_without_a_deadline_and_their_later_ones_on_both_paths(
    stores: list[tuple[Store, Path]],
) -> None:
    news = {"handle": "nieuws.example.nl"}
    await both(
        stores,
        mention("1", author=news, addressed=False),  # proactive: no deadline
        mention("2", author={"handle": "karin"}, addressed=False),  # upgraded below
        mention("3", author={"handle": "jan"}, addressed=False),  # joined below
        mention("4", author={"handle": "bob"}, addressed=False),  # resolved, then back
        mention("5", author={"handle": "piet"}),  # reactive: resolved, back unaddressed
    )
    resolved = sqlite_datetime(NOW - timedelta(days=1))
    for store, _ in stores:
        await store.sql(
            f"UPDATE cases SET status = 'resolved', resolved_at = '{resolved}' WHERE id IN (4, 5)"
        )
    # Later (the stores' clock stands still at NOW: this batch comes half an hour after the
    # posts, so every deadline counts from NOW, like the upgrade's).
    await both(
        stores,
        mention("2", author={"handle": "karin"}),  # the same post, now addressed
        mention("6", author={"handle": "jan"}),  # addressed, joins the proactive case
        mention("7", author={"handle": "bob"}, addressed=False),
        mention("8", author={"handle": "piet"}, addressed=False),
        mention("9", author=news, addressed=False),
    )
    (fast, fast_path), (core, core_path) = stores
    fast_rows, core_rows = fast.dump(fast_path), core.dump(core_path)
    for table in TABLES:
        assert fast_rows[table] == core_rows[table], table
    rows = fast.query(
        fast_path, "SELECT author_handle, reactive, status, sla_due_at FROM cases ORDER BY id"
    )
    an_hour_later = sqlite_datetime(NOW + timedelta(minutes=60))  # webcare: 60 minutes
    assert rows == [
        ("nieuws.example.nl", 0, "new", None),  # news again: still none
        ("karin", 1, "new", an_hour_later),  # counted from the upgrade
        ("jan", 1, "new", an_hour_later),  # from the addressed message
        ("bob", 0, "reopened", None),  # a reopened proactive case stays without
        ("piet", 1, "reopened", an_hour_later),  # a reopened reactive case gets one again
    ]


async def test_a_deadline_is_not_given_to_a_case_already_answered(
    stores: list[tuple[Store, Path]],
) -> None:
    await both(stores, mention("1", addressed=False))
    for store, _ in stores:
        answered = sqlite_datetime(NOW)
        await store.sql(
            f"UPDATE cases SET status = 'replied', first_response_at = '{answered}' WHERE id = 1"
        )
    await both(stores, mention("1"), mention("2"))  # upgraded, and addressed again
    (fast, fast_path), (core, core_path) = stores
    assert fast.dump(fast_path) == core.dump(core_path)
    assert fast.query(fast_path, "SELECT reactive, sla_due_at FROM cases") == [(1, None)]
