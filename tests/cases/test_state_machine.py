"""The case state machine refuses every action that does not fit the case's status, and
writes nothing when it does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases import card_actions, follow_up
from bot.cases import state_machine as cases
from bot.cases.state_machine import TRANSITIONS, Action, Actor, InvalidTransition
from bot.core.business_time import BusinessCalendar
from bot.core.config import WebcareConfig
from bot.intake.ingest import Ingestor
from bot.intake.mentions import parse_mentions
from storage.models import Case, CaseEvent
from storage.statuses import CaseStatus
from tests.conftest import mention, pinned_clock

ANNA = Actor("U0ANNA", "Anna")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


async def _attempt(engine: AsyncEngine, action: Action, config: WebcareConfig) -> None:
    if action is Action.CLAIM:
        await card_actions.claim(engine, case_id=1, actor=ANNA, now=NOW)
    elif action is Action.UNCLAIM:
        await card_actions.unclaim(engine, case_id=1, actor=ANNA, now=NOW)
    elif action is Action.TAKE_OVER:
        await card_actions.take_over(
            engine, case_id=1, actor=ANNA, expected_owner="U0BRAM", now=NOW
        )
    elif action is Action.RESOLVE:
        await card_actions.resolve(engine, case_id=1, actor=ANNA, now=NOW)
    elif action is Action.REOPEN:
        await card_actions.reopen(engine, case_id=1, actor=ANNA, now=NOW)
    elif action is Action.FOLLOW_UP:
        await follow_up.schedule_follow_up(
            engine, case_id=1, actor=ANNA, due_at=NOW + timedelta(days=1), now=NOW
        )
    elif action in cases.FOLLOW_UP_OUTCOMES:
        await follow_up.record_follow_up(
            engine,
            case_id=1,
            actor=ANNA,
            outcome=action,
            now=NOW,
            calendar_for=lambda key: BusinessCalendar(config.hours_for(config.department(key))),
        )
    else:
        pytest.skip(f"{action} is exercised through its own module's tests")


@pytest.mark.parametrize("status", list(CaseStatus))
async def test_every_action_outside_the_table_is_refused_and_writes_nothing(
    engine: AsyncEngine, config: WebcareConfig, status: CaseStatus
) -> None:
    ingestor = Ingestor(engine=engine, config=config, clock=pinned_clock(NOW))
    await ingestor.ingest(parse_mentions([mention("1")]))
    async with engine.begin() as conn:
        await conn.execute(update(Case).values(status=status, owner_id="U0BRAM"))
    simple = (
        Action.CLAIM,
        Action.UNCLAIM,
        Action.TAKE_OVER,
        Action.RESOLVE,
        Action.REOPEN,
        Action.FOLLOW_UP,
        *cases.FOLLOW_UP_OUTCOMES,
    )
    for action in simple:
        if (action, status) in TRANSITIONS:
            continue
        with pytest.raises(InvalidTransition):
            await _attempt(engine, action, config)
    async with engine.connect() as conn:
        assert await conn.scalar(select(Case.status)) == status
        assert (
            await conn.scalar(
                select(func.count()).select_from(CaseEvent).where(CaseEvent.kind != "opened")
            )
            == 0
        )


async def test_a_missing_case_is_named(engine: AsyncEngine) -> None:
    with pytest.raises(InvalidTransition) as refused:
        await card_actions.claim(engine, case_id=404, actor=ANNA, now=NOW)
    assert refused.value.reason == "not_found"
