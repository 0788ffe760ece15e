"""Spike alerts: a surge of mentions is noticed in minutes and said once, with what it is about."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import WebcareConfig, parse_config
from tests.conftest import CONFIG, BotUnderTest, mention
from tests.fake_slack import FakeSlack

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 25, 14, 30, tzinfo=AMS)


@pytest.fixture
def config() -> WebcareConfig:
    alerts = {"channel": "C0ALERTS1", "min_mentions": 10, "factor": 3}
    return parse_config({**CONFIG, "spike_alerts": alerts}, source="test.yml")


async def _history(bot: BotUnderTest) -> None:
    """One outage mention in this hour in each of the past four weeks: ~1 per hour is usual."""
    await bot.post_webhook(
        [
            mention(
                f"old{week}",
                text="storing?",
                author={"handle": f"old{week}"},
                created_at=(NOW - timedelta(weeks=week, minutes=20)).isoformat(),
            )
            for week in range(1, 5)
        ]
    )


async def _surge(bot: BotUnderTest, count: int) -> None:
    await bot.post_webhook(
        [
            mention(
                f"now{i}",
                text="Storing! Kan niet inloggen in de app",
                author={"handle": f"k{i}"},
                source="x" if i % 3 else "facebook",
                created_at=(NOW - timedelta(minutes=5 + i)).isoformat(),
            )
            for i in range(count)
        ]
    )


async def test_a_surge_posts_one_alert_saying_what_it_is_about(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    bot.clock.set(NOW)
    await _history(bot)
    await _surge(bot, 12)
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    (alert,) = slack.posts("C0ALERTS1")
    assert alert["text"] == (
        ":rotating_light: Spike in Outages: 12 mentions in the last hour (usually ~1.0)"
    )
    shown = alert["blocks"][0]["text"]["text"]
    assert "Top sources: X 8, Facebook 4" in shown
    assert "storing (12)" in shown and "inloggen (12)" in shown

    bot.clock.set(NOW + timedelta(minutes=2))  # checked again, still surging: no second alert
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    assert len(slack.posts("C0ALERTS1")) == 1


async def test_a_normal_hour_is_no_spike(bot: BotUnderTest, slack: FakeSlack) -> None:
    bot.clock.set(NOW)
    await _history(bot)
    await _surge(bot, 9)  # under the minimum
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    assert slack.posts("C0ALERTS1") == []
