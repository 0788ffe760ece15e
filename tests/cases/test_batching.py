"""Claims that reach the database together share a transaction on SQLite, yet each click still
gets its own answer: a refused or failing claim takes nobody else's claim down with it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases import card_actions
from bot.cases.batching import batcher
from bot.cases.state_machine import Actor, InvalidTransition
from bot.core.config import WebcareConfig
from bot.intake.ingest import Ingestor
from bot.intake.mentions import parse_mentions
from storage.models import Case, CaseEvent
from tests.conftest import mention, pinned_clock

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
AGENTS = [Actor(f"U0AGENT{i:02d}", f"Agent {i}") for i in range(12)]


async def _cases(engine: AsyncEngine, config: WebcareConfig, count: int) -> None:
    ingestor = Ingestor(engine=engine, config=config, clock=pinned_clock(NOW))
    bodies = [mention(str(n), author={"handle": f"c{n}"}) for n in range(1, count + 1)]
    await ingestor.ingest(parse_mentions(bodies))


async def _owners(engine: AsyncEngine) -> dict[int, str | None]:
    async with engine.connect() as conn:
        return dict((await conn.execute(select(Case.id, Case.owner_id))).all())  # type: ignore[arg-type]


async def test_claims_at_once_on_several_cases_each_get_their_answer(
    engine: AsyncEngine, config: WebcareConfig
) -> None:
    await _cases(engine, config, 3)
    clicks = [(1 + i % 4, agent) for i, agent in enumerate(AGENTS)]  # case 4 does not exist
    results = await asyncio.gather(
        *(card_actions.claim(engine, case_id=case, actor=who, now=NOW) for case, who in clicks),
        return_exceptions=True,
    )
    owners = await _owners(engine)
    for (case, who), result in zip(clicks, results, strict=True):
        if isinstance(result, InvalidTransition):
            expected = "not_found" if case == 4 else "already_claimed"
            assert result.reason == expected
        else:
            assert owners[case] == who.id
    assert all(owners[case] for case in (1, 2, 3))
    async with engine.connect() as conn:
        claims = (await conn.execute(select(CaseEvent).where(CaseEvent.kind == "claim"))).all()
    assert sorted(c.case_id for c in claims) == [1, 2, 3]


async def test_a_change_that_breaks_its_batch_fails_alone(
    engine: AsyncEngine, config: WebcareConfig
) -> None:
    runner = batcher(engine, (InvalidTransition,))
    if runner is None:
        pytest.skip("batching is for SQLite's single writer")
    await _cases(engine, config, 2)

    def broken(conn: Connection) -> None:
        conn.execute(text("UPDATE cases SET owner_id = 'U0BROKEN' WHERE id = 2"))
        raise RuntimeError("the disk is full")

    claims = [card_actions.claim(engine, case_id=1, actor=AGENTS[0], now=NOW)]
    outcomes = await asyncio.gather(runner.run(broken), *claims, return_exceptions=True)
    assert isinstance(outcomes[0], RuntimeError)
    assert (await _owners(engine)) == {1: AGENTS[0].id, 2: None}
