"""/healthz and /metrics: what an operator's monitoring sees."""

from __future__ import annotations

import json

import aiohttp

from bot.app.runtime import Runtime
from bot.core.config import WebcareConfig
from storage.db import create_engine
from tests.conftest import BotUnderTest, make_settings, mention
from tests.fake_slack import FakeSlack


async def test_health_reports_database_slack_and_outbox(bot: BotUnderTest) -> None:
    await bot.post_webhook(mention("1"))
    async with bot.session.get(f"{bot.url}/healthz") as response:
        body = await response.json()
    assert response.status == 200
    assert body["database"] == "ok" and body["outbox"] == {"pending": 1}
    assert body["slack"]["mode"] == "http" and body["slack"]["auth"].startswith("ok")


async def test_health_is_503_when_the_database_is_unreachable(
    config: WebcareConfig, slack: FakeSlack
) -> None:
    # Nothing listens on port 9: the database is down.
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:9/webcare")
    runtime = Runtime(make_settings(slack), config, engine=engine)
    await runtime.start(run_worker=False)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{runtime.port}/healthz") as response,
        ):
            body = await response.json()
        assert response.status == 503
        assert body["database"].startswith("down")
    finally:
        await runtime.stop()
        await engine.dispose()


async def test_metrics_count_mentions_and_deliveries(bot: BotUnderTest) -> None:
    await bot.post_webhook([mention("1"), mention("1"), mention("2", source="mastodon")])
    await bot.deliver()
    async with bot.session.get(f"{bot.url}/metrics") as response:
        text = await response.text()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert 'webcare_mentions_received_total{source="mastodon"}' in text
    assert "webcare_mentions_duplicate_total" in text
    assert 'webcare_slack_delivered_total{kind="post_card"}' in text
    assert "webcare_outbox_waiting 0.0" in text


async def test_health_shows_anyone_up_or_down_and_the_detail_only_with_the_token(
    bot: BotUnderTest,
) -> None:
    """/healthz is unauthenticated: no workspace or bot name, no source's errors for anyone;
    the operator's monitoring sends the token and sees it all."""
    from tests.conftest import HEALTH_DETAIL

    for headers in ({}, {"Authorization": "Bearer wrong"}):
        async with bot.session.get(f"{bot.url}/healthz", headers=headers) as response:
            public = await response.json()
        assert response.status == 200 and public["slack"]["auth"] == "ok"
        assert "Fake Team" not in json.dumps(public) and "webcare" not in json.dumps(public)
    async with bot.session.get(f"{bot.url}/healthz", headers=HEALTH_DETAIL) as response:
        detail = await response.json()
    assert detail["slack"]["auth"] == "ok: webcare in Fake Team"
