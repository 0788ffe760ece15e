"""Socket Mode: with SLACK_APP_TOKEN set the bot connects out and answers over the socket,
while the same web server keeps taking webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import WebcareConfig
from bot.runtime import Runtime
from tests.conftest import BotUnderTest, make_settings, mention
from tests.fake_slack import FakeSlack


@pytest.fixture
async def socket_bot(
    engine: AsyncEngine, config: WebcareConfig, slack: FakeSlack
) -> AsyncIterator[BotUnderTest]:
    settings = make_settings(slack, slack_app_token=slack.app_token, slack_signing_secret=None)
    runtime = Runtime(settings, config, engine=engine)
    await runtime.start(run_worker=False)
    async with aiohttp.ClientSession() as session:
        yield BotUnderTest(runtime, session)
    await runtime.stop()


async def test_slash_command_over_the_socket(socket_bot: BotUnderTest, slack: FakeSlack) -> None:
    await slack.wait_for_socket()
    ack = await slack.send_envelope(
        "slash_commands",
        {
            "command": "/webcare",
            "text": "help",
            "user_id": "U0ANNA",
            "channel_id": "CWEBCARE1",
            "team_id": "T_FAKE",
            "api_app_id": "A_FAKE",
            "trigger_id": "1.2.3",
            "response_url": "https://hooks.slack.com/commands/1/2/3",
        },
    )
    assert "/webcare status" in ack["payload"]["text"]


async def test_webhook_and_health_work_beside_the_socket(
    socket_bot: BotUnderTest, slack: FakeSlack
) -> None:
    await slack.wait_for_socket()
    status, body = await socket_bot.post_webhook(mention("1"))
    assert status == 202 and body["accepted"] == 1
    async with socket_bot.session.get(f"{socket_bot.url}/healthz") as response:
        health = await response.json()
    assert health["slack"]["mode"] == "socket" and health["slack"]["connected"] is True
    # Slack's HTTP endpoint is not served in Socket Mode.
    async with socket_bot.session.post(f"{socket_bot.url}/slack/events", data="x") as response:
        assert response.status == 404
