"""Seeing the backlog: when Slack cannot keep up, the team and the operator are told so."""

from __future__ import annotations

from tests.conftest import BotUnderTest, mention
from tests.fake_slack import FakeSlack
from tests.insight.test_status import _command, _text, open_home


async def _health(bot: BotUnderTest) -> dict:
    async with bot.session.get(f"{bot.url}/healthz") as response:
        return await response.json()


async def _metrics(bot: BotUnderTest) -> str:
    async with bot.session.get(f"{bot.url}/metrics") as response:
        return await response.text()


async def test_a_channel_that_is_behind_is_named_with_its_backlog_and_oldest_age(
    bot: BotUnderTest,
) -> None:
    await bot.post_webhook(
        [mention(str(i), text=f"factuur {i}", author={"handle": f"c{i}"}) for i in range(3)]
    )
    bot.clock.advance(seconds=35)  # nothing was posted for 35 s: the channel is behind

    status = _text(await _command(bot, "status"))
    assert "3 mentions waiting to be posted in <#CBILLING1>, oldest 35 s" in status
    assert (await _health(bot))["behind"] == [
        {"channel": "?", "waiting": 3, "new_cases": 3, "oldest_s": 35}  # no detail without a token
    ]
    text = await _metrics(bot)
    assert 'webcare_outbox_channel_waiting{channel="CBILLING1"} 3.0' in text
    assert 'webcare_outbox_channel_oldest_seconds{channel="CBILLING1"} 35.0' in text


async def test_nothing_is_said_about_a_backlog_when_the_bot_keeps_up(bot: BotUnderTest) -> None:
    await bot.post_webhook([mention("1", text="factuur 1", author={"handle": "a"})])
    assert "behind" not in await _health(bot)  # just queued: not behind
    assert "waiting to be posted" not in _text(await _command(bot, "status"))

    await bot.deliver()
    bot.clock.advance(seconds=35)
    assert "behind" not in await _health(bot)
    assert "waiting to be posted" not in _text(await _command(bot, "status"))
    assert 'webcare_outbox_channel_waiting{channel="CBILLING1"}' not in await _metrics(bot)


async def test_the_app_home_says_how_far_behind_a_channel_is(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await bot.post_webhook([mention("1", text="factuur 1", author={"handle": "a"})])
    bot.clock.advance(seconds=12)

    home = await open_home(bot, slack, "U0ANNA")
    texts = [b["text"]["text"] for b in home["blocks"] if b["type"] == "section"]
    assert any("1 mention waiting to be posted in <#CBILLING1>, oldest 12 s" in t for t in texts)
