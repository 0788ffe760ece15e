"""Cards in department channels: content, escaping, threads, and nothing lost or posted twice."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update

from bot.app.runtime import Runtime
from bot.core.clock import PinnedClock
from bot.core.config import WebcareConfig
from bot.delivery.worker import IN_FLIGHT
from storage import outbox_report
from storage.models import Case, OutboxJob
from tests.conftest import BotUnderTest, config_with_priorities, make_settings, mention
from tests.fake_slack import FakeSlack
from tests.shown import quoted, shown, texts


def _rich_elements(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        part
        for block in message["blocks"]
        if block["type"] == "rich_text"
        for element in block["elements"]
        for part in element["elements"]
    ]


def _buttons(message: dict[str, Any]) -> dict[str, str]:
    return {
        el["action_id"]: el["value"]
        for block in message["blocks"]
        if block["type"] == "actions"
        for el in block["elements"]
    }


async def test_a_mention_becomes_a_card_in_its_departments_channel(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    bot.clock.set(datetime(2026, 11, 26, 10, 1, tzinfo=UTC))  # it reaches us a minute later
    _, body = await bot.post_webhook(
        mention("9", text="Mijn factuur is veel te hoog!", created_at="2026-11-26T10:00:00Z")
    )
    await bot.deliver()

    card = slack.last_post("CBILLING1")
    assert card is not None and slack.posts("CWEBCARE1") == []
    case_id = str(body["case_ids"][0])
    seen = shown(card)
    assert quoted(card) == "Mijn factuur is veel te hoog!"
    assert "Anna de Vries" in seen and "@anna" in seen and "1.2K followers" in seen
    assert "*X*" in seen and "Reactive" in seen and "Public" in seen
    assert "https://x.com/anna/status/9" in seen
    # Received 11:00 Amsterdam time; 30 business minutes later is 11:30.
    assert "Thu 26 Nov 11:00" in seen and "Answer by" in seen and "Thu 26 Nov 11:30" in seen
    assert "1 message" in seen
    assert f"Case #{case_id} · Billing" in seen and "rule: Billing" in seen
    assert _buttons(card) == {
        "case_claim": case_id,
        "case_forward": case_id,
        "case_draft_reply": case_id,
        "case_follow_up": case_id,
        "case_resolve": case_id,
    }
    assert slack.block_errors == []


async def test_routing_decides_channel_and_priority(bot: BotUnderTest, slack: FakeSlack) -> None:
    await bot.post_webhook(
        [
            mention("1", text="Grote STÓRING bij het betalen", author={"handle": "a"}),
            mention("2", text="Leuke actie!", author={"handle": "b"}, addressed=False),
            mention("3", text="Where is my invoice?", author={"handle": "c"}),
        ]
    )
    await bot.deliver()
    outage = slack.last_post("COUTAGES1")
    assert outage is not None and ":red_circle: Priority: urgent" in "\n".join(texts(outage))
    general = slack.last_post("CWEBCARE1")
    assert general is not None and "Proactive" in "\n".join(texts(general))
    assert slack.last_post("CBILLING1") is not None


async def test_customer_text_cannot_ping_or_format_the_channel(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    nasty = "<!channel> <!here> <@U0ADMIN> *boo* & <https://evil.example|click me>"
    await bot.post_webhook(
        mention("1", text=nasty, author={"handle": "<!everyone>", "name": "<@U0ADMIN> & co"})
    )
    await bot.deliver()
    card = slack.last_post("CWEBCARE1")
    assert card is not None
    for text in texts(card):
        for ping in ("<!channel>", "<!here>", "<!everyone>", "<@U0ADMIN>", "<https://evil"):
            assert ping not in text
    # Names are rich text too: shown as written, never a ping.
    assert "<@U0ADMIN> & co" in shown(card)
    assert not {'"type": "user"', '"type": "broadcast"', '"type": "link"'} & {
        f'"type": "{el.get("type")}"' for el in _rich_elements(card)
    }
    # The rich_text quote shows the customer's words literally, without interpreting them.
    assert quoted(card) == nasty


async def test_long_text_is_cut_with_a_link_to_the_original(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await bot.post_webhook(mention("1", text="lang verhaal " * 2000))
    await bot.deliver()
    card = slack.last_post("CWEBCARE1")
    assert card is not None and slack.block_errors == []
    quote = [b for b in card["blocks"] if b["type"] == "rich_text"][1]["elements"][0]
    assert len(quote["elements"][0]["text"]) < 3000 and quote["elements"][0]["text"].endswith("… ")
    assert quote["elements"][1] == {
        "type": "link",
        "url": "https://x.com/anna/status/1",
        "text": "Read the rest on X",
    }


async def test_a_later_mention_lands_in_the_cards_thread_and_updates_the_card(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await bot.post_webhook(mention("1", text="Mijn pas is geblokkeerd"))
    await bot.deliver()
    await bot.post_webhook(mention("2", text="Hallo?? <!channel>"))
    await bot.deliver()

    card = slack.last_post("CWEBCARE1")
    assert card is not None and len(slack.posts("CWEBCARE1")) == 2
    replies = slack.thread("CWEBCARE1", card["ts"])
    assert [quoted(r) for r in replies] == ["Hallo?? <!channel>"]
    assert all("<!channel>" not in t for t in texts(replies[0]))
    assert "2 messages" in "\n".join(texts(card))  # card updated in place
    assert len(slack.calls_to("chat.update")) == 1


async def test_slack_errors_are_retried_and_every_case_arrives_once(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    bot.runtime.worker.retry_base = 0.01
    slack.fail_next("chat.postMessage", status=503, count=6)
    slack.fail_next("chat.postMessage", status=500, count=2)
    batch = [mention(str(i), author={"handle": f"klant{i}"}) for i in range(10)]
    await bot.post_webhook(batch)
    await bot.deliver()

    cards = slack.posts("CWEBCARE1")
    assert sorted(quoted(c) for c in cards) == sorted(m["text"] for m in batch)
    assert len({c["metadata"]["event_payload"]["job_id"] for c in cards}) == 10
    failed = [c for c in slack.calls if c.method == "chat.postMessage" and c.status >= 500]
    assert len(failed) == 8


async def test_a_429_pauses_the_channel_for_retry_after_and_nothing_is_lost(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    await bot.post_webhook([mention("1"), mention("2", author={"handle": "bram"})])
    loop = asyncio.get_running_loop()
    started = loop.time()
    await bot.deliver()
    assert loop.time() - started >= 0.9  # Retry-After was honoured
    assert len(slack.posts("CWEBCARE1")) == 2
    assert slack.ratelimited_count == 1


async def test_pacing_keeps_under_slacks_per_channel_limit(
    engine: Any, config: WebcareConfig
) -> None:
    async with FakeSlack(post_rate_per_channel=10, post_burst=1) as slack:
        runtime = Runtime(
            make_settings(slack, webcare_channel_interval=0.11), config, engine=engine
        )
        ingest = [
            mention(str(i), author={"handle": f"k{i}"}, text=t)
            for i, t in enumerate(["factuur"] * 6 + ["hallo"] * 6)
        ]
        from bot.intake.mentions import parse_mentions

        await runtime.ingestor.ingest(parse_mentions(ingest))
        await runtime.worker.run_until_idle()
        assert len(slack.posts("CBILLING1")) == 6 and len(slack.posts("CWEBCARE1")) == 6
        assert slack.ratelimited_count == 0
        await runtime.stop()


async def test_a_pending_outbox_is_delivered_once_after_a_restart(
    engine: Any, config: WebcareConfig, slack: FakeSlack
) -> None:
    from bot.intake.mentions import parse_mentions

    first = Runtime(make_settings(slack), config, engine=engine)
    await first.ingestor.ingest(
        parse_mentions([mention(str(i), author={"handle": f"k{i}"}) for i in range(5)])
    )
    await first.stop()  # went down before posting anything
    assert slack.posts() == []

    second = Runtime(make_settings(slack), config, engine=engine)
    await second.worker.run_until_idle()
    await second.stop()
    assert len(slack.posts("CWEBCARE1")) == 5


async def test_a_crash_after_slack_took_the_card_does_not_post_it_again(
    engine: Any, config: WebcareConfig, slack: FakeSlack, clock: PinnedClock
) -> None:
    from bot.intake.mentions import parse_mentions

    crashed = Runtime(make_settings(slack), config, engine=engine, clock=clock)
    await crashed.ingestor.ingest(parse_mentions([mention("1")]))
    slack.set_delay(30)  # Slack stores the card, but the answer never comes back
    worker = asyncio.create_task(crashed.worker.run_forever())
    await slack.wait_for_posts(1)
    worker.cancel()  # the process dies while waiting for Slack's answer
    await asyncio.gather(worker, return_exceptions=True)
    await crashed.stop()
    slack.set_delay(0)
    async with engine.connect() as conn:
        status = await conn.scalar(select(OutboxJob.status))
    assert status == "sending"

    # Another worker (the restarted process) takes over the channel once the lease lapses, and
    # the card once its Slack call must have ended.
    async with engine.begin() as conn:
        await conn.execute(expire_leases())
    clock.advance(seconds=IN_FLIGHT.total_seconds())
    restarted = Runtime(make_settings(slack), config, engine=engine, clock=clock)
    await restarted.worker.run_until_idle()
    await restarted.stop()

    assert len(slack.posts("CWEBCARE1")) == 1
    async with engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    assert case.slack_ts == slack.posts("CWEBCARE1")[0]["ts"]
    assert slack.calls_to("conversations.history")


async def test_a_timed_out_post_that_reached_slack_is_not_posted_again(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    worker = bot.runtime.worker
    worker.retry_base = 0.01
    # A client that gives up on Slack after 0.3 s (the real one waits 10 s).
    worker.client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, timeout=0.3)
    await bot.post_webhook(mention("1"))
    slack.set_delay(5)  # Slack takes the card, but its answer is late: the client times out
    delivering = asyncio.create_task(bot.deliver())
    await slack.wait_for_posts(1)
    slack.set_delay(0)
    await delivering
    assert len(slack.posts("CWEBCARE1")) == 1
    assert slack.calls_to("conversations.history")


def expire_leases():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from storage.models import ChannelLease

    return update(ChannelLease).values(lease_until=datetime(2000, 1, 1, tzinfo=UTC))


async def test_a_missing_channel_parks_its_jobs_and_other_channels_go_on(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    slack.missing_channels.add("CBILLING1")
    await bot.post_webhook([mention("1", text="factuur?"), mention("2", author={"handle": "bram"})])
    await bot.deliver()
    assert len(slack.posts("CWEBCARE1")) == 1
    async with bot.session.get(f"{bot.url}/healthz") as response:
        health = await response.json()
    assert response.status == 200
    assert health["outbox"] == {"sent": 1, "dead": 1}
    assert json.dumps(health).count("channel_not_found") == 0  # no internals leak here


async def test_a_customers_second_message_in_the_same_batch_is_on_the_new_card(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    # The card had not been posted yet: the follow-up merges into it, not a message of its own.
    await bot.post_webhook(
        [mention("1", text="Mijn factuur klopt niet"), mention("2", text="hallo??")]
    )
    await bot.deliver()
    card = slack.last_post("CBILLING1")
    assert card is not None and slack.posts("CWEBCARE1") == []
    assert slack.thread("CBILLING1", card["ts"]) == []
    assert "hallo??" in json.dumps(card["blocks"])

    await bot.post_webhook([mention("3", text="nog iemand daar?")])  # now the card is there
    await bot.deliver()
    assert [quoted(r) for r in slack.thread("CBILLING1", card["ts"])] == ["nog iemand daar?"]


async def test_absurd_customer_data_still_makes_a_card(bot: BotUnderTest, slack: FakeSlack) -> None:
    author = {"handle": "&" * 200, "name": "&" * 200, "url": "https://x.com/" + "a" * 1990}
    await bot.post_webhook([mention("1", author=author), mention("2", author={"handle": "next"})])
    await bot.deliver()
    assert len(slack.posts("CWEBCARE1")) == 2 and slack.block_errors == []


async def test_a_failed_card_refresh_does_not_block_the_channel(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    from tests.cases.test_claim import ANNA, _click

    bot.runtime.worker.retry_base = 0.01
    await bot.post_webhook(mention("1"))
    await bot.deliver()
    slack.fail_next("chat.update", status=500, count=1)
    await _click(bot, slack, "case_claim", ANNA, card=slack.last_post("CWEBCARE1"))
    await _click(bot, slack, "case_unclaim", ANNA, card=slack.last_post("CWEBCARE1"))
    await bot.post_webhook(mention("2", author={"handle": "someone-else"}))
    await bot.deliver()
    assert len([m for m in slack.posts("CWEBCARE1") if m["thread_ts"] in (None, m["ts"])]) == 2


async def test_a_timed_out_thread_reply_that_reached_slack_is_not_posted_again(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await bot.post_webhook(mention("1"))
    await bot.deliver()
    card = slack.last_post("CWEBCARE1")
    assert card is not None
    worker = bot.runtime.worker
    worker.retry_base = 0.01
    worker.client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, timeout=0.3)
    await bot.post_webhook(mention("2", text="Hallo? Nog iemand daar?"))
    # The reply lands in the thread, but the answer comes too late.
    slack.set_delay(5, methods={"chat.postMessage"})
    delivering = asyncio.create_task(bot.deliver())
    await slack.wait_for(lambda: len(slack.thread("CWEBCARE1", card["ts"])) >= 1)
    slack.set_delay(0)
    await delivering
    replies = [m for m in slack.thread("CWEBCARE1", card["ts"]) if "Nog iemand" in str(m)]
    assert len(replies) == 1
    assert slack.calls_to("conversations.replies")


@pytest.mark.parametrize("config", [config_with_priorities()])
async def test_when_a_channel_is_behind_urgent_then_high_cases_are_posted_first(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    said = ["", "", " betwist", " fraude"]  # 2 is high, 3 urgent (billing's rules)
    await bot.post_webhook(
        [
            mention(str(i), text=f"factuur {i}{said[i]}", author={"handle": f"c{i}"})
            for i in range(4)
        ]
    )
    await bot.deliver()
    order = [
        "\n".join(texts(call.args))
        for call in slack.calls_to("chat.postMessage")
        if call.args.get("channel") == "CBILLING1" and not call.args.get("thread_ts")
    ]
    assert ["factuur 3" in o for o in order] == [True, False, False, False]
    assert ["factuur 2" in o for o in order] == [False, True, False, False]
    assert ["factuur 0" in o for o in order][2] and ["factuur 1" in o for o in order][3]


async def test_a_parked_message_is_seen_and_can_be_sent_again(
    bot: BotUnderTest,
    slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A message Slack refused for good is no silent loss: /metrics counts it, /webcare
    status tells the team, and `webcare outbox retry` sends it once the cause is fixed."""
    from bot.app.cli import main
    from tests.insight.test_status import _command

    slack.missing_channels.add("CBILLING1")  # e.g. the bot was removed from the channel
    await bot.post_webhook(mention("1", text="Mijn factuur klopt niet"))
    await bot.deliver()
    assert slack.posts("CBILLING1") == []
    async with bot.session.get(f"{bot.url}/metrics") as response:
        assert "webcare_outbox_dead 1.0" in await response.text()
    answer = await _command(bot, "status")
    assert "1 message(s) could not be posted to Slack" in json.dumps(answer["blocks"])

    slack.missing_channels.discard("CBILLING1")  # the channel is back
    if bot.runtime.engine.dialect.name == "sqlite":  # the CLI reaches the SQLite file by URL
        url = bot.runtime.engine.url.render_as_string(hide_password=False)
        monkeypatch.setenv("DATABASE_URL", url)
        assert await asyncio.to_thread(main, ["outbox"]) == 0
        assert "channel_not_found" in capsys.readouterr().out
        assert await asyncio.to_thread(main, ["outbox", "retry"]) == 0
        assert capsys.readouterr().out.startswith("1 queued again")
    else:
        async with bot.runtime.engine.begin() as conn:
            (job,) = await conn.run_sync(outbox_report.dead_jobs)
            assert await conn.run_sync(lambda sync: outbox_report.retry_dead(sync, job_id=job.id))
    await bot.deliver()
    assert len(slack.posts("CBILLING1")) == 1
    answer = await _command(bot, "status")
    assert "could not be posted" not in json.dumps(answer["blocks"])
