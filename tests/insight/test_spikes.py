"""Spike alerts: a surge of mentions is noticed in minutes and said once, with what it is about."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.core.config import WebcareConfig, parse_config
from tests.conftest import CONFIG, BotUnderTest, mention
from tests.fake_slack import FakeSlack

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 25, 14, 30, tzinfo=AMS)


@pytest.fixture
def config() -> WebcareConfig:
    alerts = {"channel": "C0ALERTS1", "min_mentions": 10, "factor": 3}
    departments = [dict(d) for d in CONFIG["departments"]]
    outages = next(d for d in departments if d["key"] == "outages")
    outages["templates"] = [
        {
            "key": "holding",
            "title": "Storing bekend",
            "text": "Hoi {customer_name}, we weten van de storing en werken eraan.",
        }
    ]
    outages["holding_template"] = "holding"
    return parse_config(
        {**CONFIG, "departments": departments, "spike_alerts": alerts}, source="test.yml"
    )


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


def _buttons(message: dict[str, Any]) -> list[str]:
    return [
        el["action_id"] for b in message["blocks"] if b["type"] == "actions" for el in b["elements"]
    ]


async def test_crisis_mode_gathers_the_topic_in_a_running_digest_and_suggests_the_holding_reply(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    bot.clock.set(NOW)
    await _history(bot)
    await _surge(bot, 12)
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    cards_before = len(slack.posts("COUTAGES1"))
    (alert,) = slack.posts("C0ALERTS1")
    assert _buttons(alert) == ["crisis_start"]

    assert await bot.click(alert, "crisis_start", user="U0LEAD", name="Lea") == 200
    await bot.deliver()
    alert = slack.last_post("C0ALERTS1") or {}
    assert _buttons(alert) == ["crisis_end"]
    assert "Crisis mode is on (started by <@U0LEAD>)" in str(alert["blocks"])
    head = slack.last_post("COUTAGES1") or {}
    assert head["text"].startswith(":rotating_light: *Crisis mode for Outages*: new mentions about")

    await bot.post_webhook(
        [
            mention(
                "c1",
                text="Weer een storing, echt!",
                author={"handle": "boos"},
                created_at=NOW.isoformat(),
            ),
            mention(
                "c2",
                text="Totale outage bij betalen",
                author={"handle": "ander"},
                created_at=NOW.isoformat(),
            ),
        ]
    )
    await bot.deliver()
    # The topic's mentions gather in one digest in the thread, a row each, updated in place.
    (digest,) = slack.thread("COUTAGES1", head["ts"])
    assert digest["text"] == "1 new case: @boos"
    top_level = [m for m in slack.posts("COUTAGES1") if m["thread_ts"] in (None, m["ts"])]
    assert top_level[-1]["text"].endswith("Totale outage bij betalen")  # not about the topic
    assert len(top_level) == cards_before + 2  # the crisis head and the off-topic card
    await bot.post_webhook(
        mention("c4", text="storing alweer", author={"handle": "fel"}, created_at=NOW.isoformat())
    )
    await bot.deliver()
    (digest,) = slack.thread("COUTAGES1", head["ts"])
    assert digest["text"] == "2 new cases: @boos, @fel" and "edited" in digest

    # Claiming a row gives the case its card in the thread; work goes on from there.
    case_id = digest["blocks"][1]["accessory"]["value"]
    assert await bot.click(digest, f"case_claim:{case_id}", user="U0ANNA", name="Anna") == 200
    await bot.deliver()
    card = slack.posts("COUTAGES1")[-2]
    assert card["text"] == "New mention on X from @boos: Weer een storing, echt!"
    assert slack.calls_to("chat.postMessage")[-2].args["thread_ts"] == head["ts"]  # the card
    assert "<@U0ANNA> took this case" in json.dumps(slack.thread("COUTAGES1", head["ts"])[0])
    assert await bot.click(card, "case_draft_reply", user="U0ANNA", name="Anna") == 200
    text_input = next(b for b in slack.views[-1]["blocks"] if b.get("block_id") == "text")
    assert text_input["element"]["initial_value"] == (
        "Hoi @boos, we weten van de storing en werken eraan."
    )

    assert await bot.click(alert, "crisis_end", user="U0LEAD", name="Lea") == 200
    await bot.deliver()
    assert _buttons(slack.last_post("C0ALERTS1") or {}) == ["crisis_start"]
    await bot.post_webhook(
        mention("c3", text="storing", author={"handle": "later"}, created_at=NOW.isoformat())
    )
    await bot.deliver()
    assert (slack.last_post("COUTAGES1") or {})["text"].endswith("@later: storing")


async def test_a_crisis_started_while_the_channel_is_behind_takes_effect_at_once(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    bot.clock.set(NOW)
    await _history(bot)
    await _surge(bot, 12)
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    (alert,) = slack.posts("C0ALERTS1")
    posted = len(slack.posts("COUTAGES1"))
    # Mentions waiting to be posted when crisis mode starts: its thread does not wait for them.
    waiting = [("w1", "storing weer"), ("w2", "outage bij betalen"), ("w3", "storing, nog steeds")]
    await bot.post_webhook(
        [
            mention(n, text=text, author={"handle": n}, created_at=NOW.isoformat())
            for n, text in waiting
        ]
    )
    assert await bot.click(alert, "crisis_start", user="U0LEAD", name="Lea") == 200
    await bot.deliver()

    new = slack.posts("COUTAGES1")[posted:]
    assert new[0]["text"].startswith(":rotating_light: *Crisis mode for Outages*")
    top_level = [m for m in new if m["thread_ts"] in (None, m["ts"])]
    assert [m["text"] for m in top_level[1:]] == ["New mention on X from @w2: outage bij betalen"]
    (digest,) = slack.thread("COUTAGES1", new[0]["ts"])
    assert digest["text"] == "2 new cases: @w1, @w3"
