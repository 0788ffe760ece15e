"""Slack's workspace-wide limits, shared by every replica: one token bucket per method tier.

Slack paces posts per channel (the outbox's interval), but limits most methods per workspace
by tier (chat.update and conversations.history are Tier 3: about 50 a minute). Several
replicas and many channels in a storm would each stay within their own pace and together draw
429s. The buckets live in the database (storage/slack_budget.py), so replicas take turns.

When the budget is short, card creation comes first: a card refresh may only take a token
while half the bucket is left, and otherwise goes to the back of its channel's queue (a later
refresh shows the same case), so new cards and the look-ups that keep them from being posted
twice are not held up behind refreshes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core import metrics
from bot.core.clock import Clock
from storage import slack_budget
from storage.db import unit_of_work

# Slack's tier of each Web API method the outbox calls. chat.postMessage is not here: Slack
# limits it per channel (about 1/s), which the outbox's per-channel pacing keeps.
TIERS: dict[str, str] = {
    "chat.update": "tier3",
    "conversations.history": "tier3",
    "conversations.replies": "tier3",
    "conversations.join": "tier3",
}
# Calls per minute per workspace (Slack's documented minimums per tier).
DEFAULT_PER_MINUTE: dict[str, float] = {"tier2": 20, "tier3": 50, "tier4": 100}
BURST_SECONDS = 10.0  # a bucket holds this many seconds' worth of calls (Slack allows bursts)
REFRESH_KEEP = 0.5  # the share of the bucket a refresh leaves for card creation
# Spend a little under the limit: calls leave here evenly but reach Slack with jitter, and a
# bucket run down to its last token would draw a 429 now and then.
SAFETY = 0.9


class Deferred(Exception):
    """A refresh found the budget short: send it later, after what is more urgent."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"Slack budget short for {delay:.1f}s")
        self.delay = delay


class SlackBudget:
    def __init__(
        self, *, engine: AsyncEngine, clock: Clock, per_minute: Mapping[str, float] | None = None
    ) -> None:
        self.unit = unit_of_work(engine)
        self.clock = clock
        self.per_minute = {**DEFAULT_PER_MINUTE, **(per_minute or {})}

    async def turn(self, method: str, *, refresh: bool = False) -> None:
        """Wait until `method` may be called; a refresh raises Deferred instead of waiting."""
        tier = TIERS.get(method)
        if tier is None:
            return
        rate = self.per_minute[tier] / 60 * SAFETY
        capacity = max(1.0, rate * BURST_SECONDS)
        # Never more than the bucket minus one call: a small budget still lets refreshes through.
        keep = min(capacity * REFRESH_KEEP, capacity - 1.0) if refresh else 0.0
        while True:
            wait = await self.unit.run(
                partial(
                    slack_budget.take,
                    tier=tier,
                    rate=rate,
                    capacity=capacity,
                    keep=keep,
                    now=self.clock.now(),
                )
            )
            if not wait:
                return
            metrics.SLACK_BUDGET_WAITS.labels(tier=tier, refresh=str(refresh).lower()).inc()
            if refresh:
                raise Deferred(max(wait, 1.0))
            await asyncio.sleep(wait)
