"""As in production, Slack gets its answer as soon as a click is acked and the claim is made
after it: fifty clicks at once still make exactly one owner, and everyone else is told who."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.config import WebcareConfig
from tests.conftest import BotUnderTest, make_settings, mention, running_bot
from tests.fake_slack import FakeSlack


@pytest.fixture
async def acking_bot(
    engine: AsyncEngine, config: WebcareConfig, slack: FakeSlack
) -> AsyncIterator[BotUnderTest]:
    async with running_bot(
        make_settings(slack, webcare_ack_after_work=False), config, engine
    ) as bot:
        yield bot


async def test_a_claim_the_database_cannot_save_is_reported_to_the_clicker(
    acking_bot: BotUnderTest, slack: FakeSlack
) -> None:
    from sqlalchemy import text

    from storage.models import Case

    bot = acking_bot
    await bot.post_webhook(mention("1"))
    await bot.deliver()
    card = slack.last_post("CWEBCARE1")
    assert card is not None
    async with bot.runtime.engine.begin() as conn:  # the audit log cannot be written
        await conn.execute(text("ALTER TABLE case_events RENAME TO case_events_gone"))
    try:
        assert await bot.click(card, "case_claim", user="U0ANNA", name="Anna") == 200
        await slack.wait_for(lambda: len(slack.ephemerals) == 1)
    finally:
        async with bot.runtime.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE case_events_gone RENAME TO case_events"))
    assert slack.ephemerals[0]["text"].startswith(":warning: Something went wrong")
    async with bot.runtime.engine.connect() as conn:
        owner = await conn.scalar(select(Case.owner_id))
    assert owner is None  # nothing half-done
