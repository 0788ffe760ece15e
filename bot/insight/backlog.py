"""Is the bot behind Slack? Per channel: what waits in the outbox and for how long.

Shown in /metrics always, and in /healthz, `/webcare status` and the App Home only while a
channel is behind: its oldest waiting message has waited longer than BEHIND_AFTER.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core import metrics
from storage import outbox_report
from storage.outbox_report import Backlog

BEHIND_AFTER = timedelta(seconds=10)


async def channel_backlog(engine: AsyncEngine) -> list[Backlog]:
    async with engine.connect() as conn:
        return await conn.run_sync(outbox_report.backlog)


def behind(backlogs: list[Backlog], *, now: datetime) -> list[Backlog]:
    """The channels whose oldest waiting message is older than BEHIND_AFTER, worst first."""
    late = [b for b in backlogs if now - b.oldest > BEHIND_AFTER]
    return sorted(late, key=lambda b: b.oldest)


def age_seconds(backlog: Backlog, *, now: datetime) -> int:
    return max(0, round((now - backlog.oldest).total_seconds()))


def show(backlogs: list[Backlog], *, now: datetime) -> None:
    """Set the per-channel gauges; channels that drained read zero rather than stale."""
    for gauge in (metrics.OUTBOX_CHANNEL_DEPTH, metrics.OUTBOX_CHANNEL_OLDEST):
        gauge.clear()
    for b in backlogs:
        metrics.OUTBOX_CHANNEL_DEPTH.labels(channel=b.channel).set(b.jobs)
        metrics.OUTBOX_CHANNEL_OLDEST.labels(channel=b.channel).set(age_seconds(b, now=now))


def health(backlogs: list[Backlog], *, now: datetime) -> list[dict[str, object]]:
    """For /healthz: the channels that are behind (an empty list when none is)."""
    return [
        {
            "channel": b.channel,
            "waiting": b.jobs,
            "new_cases": b.cards,
            "oldest_s": age_seconds(b, now=now),
        }
        for b in behind(backlogs, now=now)
    ]
