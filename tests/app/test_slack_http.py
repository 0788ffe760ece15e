"""HTTP mode: Slack's signed requests at /slack/events, answered by the same server."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from tests.conftest import BotUnderTest, slack_signed
from tests.fake_slack import FakeSlack


def _slash_command(text: str) -> str:
    return urlencode(
        {
            "token": "legacy",
            "team_id": "T_FAKE",
            "team_domain": "acme",
            "channel_id": "CWEBCARE1",
            "channel_name": "webcare",
            "user_id": "U0ANNA",
            "user_name": "anna",
            "command": "/webcare",
            "text": text,
            "api_app_id": "A_FAKE",
            "response_url": "https://hooks.slack.com/commands/1/2/3",
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        }
    )


async def _post(bot: BotUnderTest, body: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with bot.session.post(f"{bot.url}/slack/events", data=body, headers=headers) as resp:
        text = await resp.text()
        return resp.status, json.loads(text) if text.startswith("{") else text


async def test_webcare_help_answers_with_the_commands(bot: BotUnderTest) -> None:
    body = _slash_command("help")
    status, answer = await _post(bot, body, slack_signed(body))
    assert status == 200
    assert "/webcare status" in answer["text"] and "/webcare report" in answer["text"]


async def test_an_unknown_subcommand_gets_a_helpful_answer(bot: BotUnderTest) -> None:
    body = _slash_command("stauts billing")
    status, answer = await _post(bot, body, slack_signed(body))
    assert status == 200
    assert answer["text"] == "I don't know `/webcare stauts`. Try `/webcare help`."


async def test_a_request_not_signed_by_slack_is_refused(bot: BotUnderTest) -> None:
    body = _slash_command("help")
    status, _ = await _post(bot, body, slack_signed(body, secret="someone-else"))
    assert status == 401


async def test_a_card_button_is_acked_and_the_clicker_is_told(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ANNA", "username": "anna", "name": "anna", "team_id": "T_FAKE"},
        "api_app_id": "A_FAKE",
        "token": "legacy",
        "container": {
            "type": "message",
            "message_ts": "1700000000.000100",
            "channel_id": "CWEBCARE1",
            "is_ephemeral": False,
        },
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "team": {"id": "T_FAKE", "domain": "acme"},
        "channel": {"id": "CWEBCARE1", "name": "webcare"},
        "message": {"type": "message", "ts": "1700000000.000100", "text": "card"},
        "response_url": "https://hooks.slack.com/actions/T/1/2",
        "actions": [
            {
                "action_id": "case_draft_reply",
                "block_id": "case:1:-",
                "type": "button",
                "value": "1",
                "text": {"type": "plain_text", "text": "Draft reply"},
                "action_ts": "1700000001.000200",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)})
    status, _ = await _post(bot, body, slack_signed(body))
    assert status == 200
    # The case does not exist: the clicker is told, nothing else happens.
    await slack.wait_for(lambda: bool(slack.ephemerals))
    (note,) = slack.ephemerals
    assert (note["channel"], note["user"]) == ("CWEBCARE1", "U0ANNA")
    assert note["text"] == "This case no longer exists."
