"""Slack's per-workspace method limits: one budget per tier shared by the replicas, new cards
before card refreshes when it is short, and 429s per method in /metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bench._common import CHANNEL_TEXTS
from bot.core.config import WebcareConfig
from bot.delivery.slack_budget import BURST_SECONDS
from tests.conftest import make_settings, mention, running_bot
from tests.fake_slack import FakeSlack

TEXTS = list(CHANNEL_TEXTS.values())
TIER3_PER_MINUTE = 120  # Slack's Tier 3 is 50+; faster here to keep the test short


def _customers(start: int, count: int) -> list[dict[str, Any]]:
    return [
        mention(str(n), text=TEXTS[n % 3], author={"handle": f"klant{n}"})
        for n in range(start, start + count)
    ]


def _card_case(message: dict[str, Any]) -> int | None:
    for block in message.get("blocks") or []:
        if block.get("type") == "actions" and block.get("block_id", "").startswith("case:"):
            return int(block["block_id"].split(":")[1])
    return None


async def test_two_replicas_keep_one_tier_budget_and_new_cards_go_before_refreshes(
    engine: AsyncEngine, config: WebcareConfig
) -> None:
    burst = int(TIER3_PER_MINUTE / 60 * BURST_SECONDS)
    async with FakeSlack(update_rate_per_minute=TIER3_PER_MINUTE, update_burst=burst) as slack:
        settings = make_settings(slack, webcare_slack_per_minute={"tier3": TIER3_PER_MINUTE})
        async with (
            running_bot(settings, config, engine) as one,
            running_bot(settings, config, engine) as two,
        ):
            await one.post_webhook(_customers(0, 30))
            await one.deliver()
            cards = [m for m in slack.posts() if _card_case(m) is not None]
            assert len(cards) == 30
            # Every card is claimed (30 refreshes wait, over both replicas), and meanwhile
            # new customers write in.
            for n, card in enumerate(cards):
                replica = (one, two)[n % 2]
                assert await replica.click(card, "case_claim", user="U0ANNA", name="Anna") == 200
            await two.post_webhook(_customers(30, 15))
            await asyncio.gather(one.deliver(), two.deliver())

    assert slack.ratelimited_count == 0  # the replicas together kept Slack's tier limit
    updates = [c for c in slack.calls if c.method == "chat.update" and c.response.get("ok")]
    assert {c.args["ts"] for c in updates} == {card["ts"] for card in cards}  # all refreshed
    new_cards = [
        c
        for c in slack.calls
        if c.method == "chat.postMessage"
        and _card_case(c.args) is not None
        and not c.args.get("thread_ts")
    ][30:]
    assert len(new_cards) == 15
    # The budget was short for the refreshes; the new customers' cards did not wait for them.
    assert max(c.at for c in new_cards) < max(c.at for c in updates)
    held_back = [c for c in updates if c.at > max(n.at for n in new_cards)]
    assert len(held_back) >= 30 - burst


async def test_429s_per_method_show_in_metrics(engine: AsyncEngine, config: WebcareConfig) -> None:
    async with FakeSlack() as slack:
        slack.fail_next("chat.postMessage", status=429, retry_after=1)
        async with running_bot(make_settings(slack), config, engine) as bot:
            await bot.post_webhook(mention("1"))
            await bot.deliver()
            async with bot.session.get(f"{bot.url}/metrics") as response:
                text = await response.text()
    line = next(
        line
        for line in text.splitlines()
        if line.startswith('webcare_slack_method_ratelimited_total{method="chat.postMessage"}')
    )
    assert float(line.split()[-1]) >= 1
