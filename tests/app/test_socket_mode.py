"""Socket Mode: with SLACK_APP_TOKEN set the bot connects out and answers over the socket,
while the same web server keeps taking webhooks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.config import WebcareConfig
from tests.conftest import BotUnderTest, make_settings, mention, running_bot
from tests.fake_slack import FakeSlack


@pytest.fixture(params=[False, True], ids=["ack-first", "ack-after-work"])
async def socket_bot(
    request: pytest.FixtureRequest, engine: AsyncEngine, config: WebcareConfig, slack: FakeSlack
) -> AsyncIterator[BotUnderTest]:
    """The bot in Socket Mode, acking first as in production, and after the work as tests do."""
    settings = make_settings(
        slack,
        slack_app_token=slack.app_token,
        slack_signing_secret=None,
        webcare_ack_after_work=request.param,
    )
    async with running_bot(settings, config, engine) as bot:
        yield bot


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


async def test_claim_over_the_socket(socket_bot: BotUnderTest, slack: FakeSlack) -> None:
    await slack.wait_for_socket()
    await socket_bot.post_webhook(mention("1"))
    await socket_bot.deliver()
    card = slack.last_post("CWEBCARE1")
    assert card is not None
    claim = next(
        (block["block_id"], el)
        for block in card["blocks"]
        if block["type"] == "actions"
        for el in block["elements"]
        if el["action_id"] == "case_claim"
    )
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ANNA", "username": "anna", "name": "Anna", "team_id": "T_FAKE"},
        "api_app_id": "A_FAKE",
        "container": {"type": "message", "message_ts": card["ts"], "channel_id": "CWEBCARE1"},
        "trigger_id": "1.2.3",
        "team": {"id": "T_FAKE", "domain": "acme"},
        "channel": {"id": "CWEBCARE1", "name": "webcare"},
        "message": card,
        "actions": [
            {
                "action_id": "case_claim",
                "block_id": claim[0],
                "type": "button",
                "value": claim[1]["value"],
                "action_ts": "1700000001.000200",
            }
        ],
    }
    worker = asyncio.create_task(socket_bot.runtime.worker.run_forever())
    ack = await slack.send_envelope("interactive", payload)
    assert "envelope_id" in ack
    await slack.wait_for(lambda: len(slack.calls_to("chat.update")) == 1)
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    updated = slack.last_post("CWEBCARE1")
    assert updated is not None
    assert any(
        "Claimed by <@U0ANNA>" in el.get("text", "")
        for block in updated["blocks"]
        if block["type"] == "context"
        for el in block["elements"]
    )
