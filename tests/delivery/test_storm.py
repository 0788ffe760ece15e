"""A storm: mentions come faster than Slack lets the bot post to one channel.

The waiting new cases then arrive together in digest messages, a row each, and every case can
still be claimed from Slack: claiming one posts its own card, and its row points there.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.config import WebcareConfig
from storage.tables import CASES
from tests.cases.test_forward import _submission
from tests.conftest import (
    MENTION_AT,
    BotUnderTest,
    PinnedClock,
    cases_breached,
    config_with_priorities,
    make_settings,
    mention,
    running_bot,
)
from tests.fake_slack import FakeSlack

ANNA, BRAM = ("U0ANNA", "Anna"), ("U0BRAM", "Bram")
CHANNEL = "CBILLING1"


@pytest.fixture
async def storm_bot(
    engine: AsyncEngine, config: WebcareConfig, slack: FakeSlack, clock: PinnedClock
) -> AsyncIterator[BotUnderTest]:
    """The bot posting at most one message per ms to a channel and starting digests once a
    new case would wait more than 5 ms for its card: more than 5 waiting messages."""
    settings = make_settings(slack, webcare_channel_interval=0.001, webcare_digest_after=0.005)
    async with running_bot(settings, config, engine, clock) as under_test:
        yield under_test


def _flood(count: int, start: int = 1) -> list[dict[str, Any]]:
    """`count` mentions about an invoice, each from a customer of their own."""
    return [
        mention(str(n), text=f"factuur {n} klopt niet", author={"handle": f"klant{n}"})
        for n in range(start, start + count)
    ]


def _rows(message: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """A digest's rows by case id (a card has none: its buttons are in an actions block)."""
    return {
        int(block["block_id"].split(":")[1]): block
        for block in message.get("blocks") or []
        if block["type"] == "section" and block.get("block_id", "").startswith("case:")
    }


def _top_level(slack: FakeSlack) -> list[dict[str, Any]]:
    return [m for m in slack.posts(CHANNEL) if m["thread_ts"] in (None, m["ts"])]


def _digests(slack: FakeSlack) -> list[dict[str, Any]]:
    return [m for m in _top_level(slack) if _rows(m)]


def _cards(slack: FakeSlack) -> list[dict[str, Any]]:
    return [m for m in _top_level(slack) if not _rows(m)]


def _digest_of(slack: FakeSlack, case_id: int) -> dict[str, Any]:
    return next(d for d in _digests(slack) if case_id in _rows(d))


def _card_buttons(card: dict[str, Any]) -> list[str]:
    actions = [block for block in card["blocks"] if block["type"] == "actions"]
    return [el["value"] for block in actions for el in block["elements"]]


async def _claim_row(
    bot: BotUnderTest, digest: dict[str, Any], case_id: int, who: tuple[str, str]
) -> None:
    assert await bot.click(digest, f"case_claim:{case_id}", user=who[0], name=who[1]) == 200
    await bot.deliver()


async def _last_ephemeral(slack: FakeSlack, user: str) -> str:
    await slack.wait_for(lambda: any(e["user"] == user for e in slack.ephemerals))
    return [e for e in slack.ephemerals if e["user"] == user][-1]["text"]


async def test_a_flood_arrives_in_digests_with_every_case_once_and_claimable(
    storm_bot: BotUnderTest, slack: FakeSlack, engine: AsyncEngine
) -> None:
    await storm_bot.post_webhook(_flood(30))
    await storm_bot.deliver()

    digests = _digests(slack)
    assert len(digests) == 2 and _cards(slack) == []  # 30 cases in 2 messages, not 30
    shown = [case_id for d in digests for case_id in _rows(d)]
    assert sorted(shown) == list(range(1, 31))  # every case, each once
    row = _rows(digests[0])[1]
    assert row["accessory"]["text"]["text"] == "Claim"
    assert "<https://x.com/anna/status/1|Open original>" in row["text"]["text"]
    assert "Answer by <!date^" in row["text"]["text"]  # the SLA clock
    assert "factuur 1 klopt niet" in json.dumps(digests[0]["blocks"])
    assert digests[0]["text"].startswith("20 new cases: @klant1, @klant2")
    assert slack.block_errors == [] and slack.ratelimited_count == 0
    async with engine.connect() as conn:  # every one a case, counted where cases are counted
        assert await conn.scalar(select(func.count()).select_from(CASES)) == 30


async def test_a_proactive_hit_in_a_flood_is_a_row_without_a_deadline_not_a_lost_digest(
    storm_bot: BotUnderTest, slack: FakeSlack
) -> None:
    """One of the flood is a search hit nobody waits an answer on (no deadline): its row says
    so, and the digest with it is posted (its rendering failed, the job died, and the twenty
    cases in it never showed in Slack)."""
    flood = _flood(12)
    flood[3] = {**flood[3], "addressed": False}
    await storm_bot.post_webhook(flood)
    await storm_bot.deliver()
    shown = sorted(case_id for d in _digests(slack) for case_id in _rows(d))
    assert shown == list(range(1, 13))
    (row,) = [_rows(d)[4] for d in _digests(slack) if 4 in _rows(d)]
    assert "No response deadline" in row["text"]["text"]
    assert slack.block_errors == []


async def test_claiming_a_case_from_a_digest_posts_its_card_and_the_row_points_there(
    storm_bot: BotUnderTest, slack: FakeSlack
) -> None:
    await storm_bot.post_webhook(_flood(12))
    await storm_bot.deliver()
    digest = _digest_of(slack, 7)
    seen_by_bram = copy.deepcopy(digest)  # Bram's Slack has not refreshed yet

    await _claim_row(storm_bot, digest, 7, ANNA)

    [card] = _cards(slack)
    assert _card_buttons(card)[0] == "7" and "Claimed by <@U0ANNA>" in json.dumps(card)
    assert [m["text"] for m in slack.thread(CHANNEL, card["ts"])] == ["Anna claimed this"]
    row = _rows(_digest_of(slack, 7))[7]
    assert "accessory" not in row  # no Claim any more: the row says who has it, and where
    assert "<@U0ANNA> took this case" in row["text"]["text"]
    assert card["ts"].replace(".", "") in row["text"]["text"]
    assert "accessory" in _rows(_digest_of(slack, 7))[8]  # the others stay claimable

    await _claim_row(storm_bot, seen_by_bram, 7, BRAM)  # a click on the old row
    assert "<@U0ANNA> already has this case" in await _last_ephemeral(slack, BRAM[0])
    assert len(_cards(slack)) == 1  # still one card for the case


async def test_a_row_of_one_digest_cannot_claim_a_case_of_another(
    storm_bot: BotUnderTest, slack: FakeSlack
) -> None:
    await storm_bot.post_webhook(_flood(30))
    await storm_bot.deliver()
    first, second = _digests(slack)
    forged = copy.deepcopy(first)
    row = _rows(forged)[1]
    row["accessory"]["value"] = "25"  # case 25 is a row of the second digest, not this one
    assert 25 in _rows(second)

    await _claim_row(storm_bot, forged, 1, ANNA)

    assert "does not belong to this card" in await _last_ephemeral(slack, ANNA[0])
    assert _cards(slack) == [] and "accessory" in _rows(_digest_of(slack, 25))[25]


async def test_a_digest_row_of_a_case_moved_since_is_refused_and_leaves_the_digest(
    storm_bot: BotUnderTest, slack: FakeSlack
) -> None:
    await storm_bot.post_webhook(_flood(8))
    await storm_bot.deliver()
    digest = copy.deepcopy(_digest_of(slack, 3))
    await _claim_row(storm_bot, digest, 3, ANNA)
    [card] = _cards(slack)
    assert await storm_bot.click(card, "case_forward", user=ANNA[0], name=ANNA[1]) == 200
    await storm_bot.submit_view(
        _submission(slack, mode="department", department="outages", note="storing"),
        user=ANNA[0],
        name=ANNA[1],
    )
    await storm_bot.deliver()
    assert 3 not in _rows(_digest_of(slack, 4))  # moved away: its row is gone

    await _claim_row(storm_bot, digest, 3, BRAM)  # the row as Bram still saw it

    assert "does not belong to this card" in await _last_ephemeral(slack, BRAM[0])
    moved = slack.last_post("COUTAGES1")
    assert moved is not None and "Claimed by" not in json.dumps(moved)


async def test_a_customer_writing_again_while_in_a_digest_is_on_the_card_not_a_message(
    storm_bot: BotUnderTest, slack: FakeSlack
) -> None:
    await storm_bot.post_webhook(_flood(8))
    await storm_bot.deliver()
    posted = len(slack.posts(CHANNEL))
    again = mention("100", text="hallo?? nog steeds niks", author={"handle": "klant2"})
    await storm_bot.post_webhook([again])
    await storm_bot.deliver()
    assert len(slack.posts(CHANNEL)) == posted  # merged, not a message of its own
    row_and_quote = json.dumps(_digest_of(slack, 2)["blocks"])  # the row shows it, edited in
    assert "hallo?? nog steeds niks" in row_and_quote and "2 messages" in row_and_quote

    await _claim_row(storm_bot, _digest_of(slack, 2), 2, ANNA)

    [card] = _cards(slack)
    assert "hallo?? nog steeds niks" in json.dumps(card["blocks"])
    assert "Later from the customer (1)" in json.dumps(card["blocks"])


async def test_outside_a_storm_each_case_has_its_own_card(
    storm_bot: BotUnderTest, slack: FakeSlack
) -> None:
    for batch in (_flood(3), _flood(3, start=4)):
        await storm_bot.post_webhook(batch)
        await storm_bot.deliver()
    assert _digests(slack) == [] and len(_cards(slack)) == 6


async def test_a_digest_row_of_a_case_resolved_since_changes_nothing_and_says_why(
    storm_bot: BotUnderTest, slack: FakeSlack, engine: AsyncEngine
) -> None:
    await storm_bot.post_webhook(_flood(8))
    await storm_bot.deliver()
    seen_by_bram = copy.deepcopy(_digest_of(slack, 5))
    await _claim_row(storm_bot, _digest_of(slack, 5), 5, ANNA)
    [card] = _cards(slack)
    assert await storm_bot.click(card, "case_resolve", user=ANNA[0], name=ANNA[1]) == 200
    values = {"closing_note": {"closing_note": {"type": "plain_text_input", "value": None}}}
    await storm_bot.submit_view(
        {**slack.views[-1], "state": {"values": values}}, user=ANNA[0], name=ANNA[1]
    )
    await storm_bot.deliver()

    await _claim_row(storm_bot, seen_by_bram, 5, BRAM)

    assert "<@U0ANNA> already has this case" in await _last_ephemeral(slack, BRAM[0])
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(CASES.c.status, CASES.c.owner_id).where(CASES.c.id == 5))
        ).one()
    assert tuple(row) == ("resolved", "U0ANNA")


async def test_a_digest_whose_answer_timed_out_is_not_posted_twice_and_stays_claimable(
    storm_bot: BotUnderTest, slack: FakeSlack
) -> None:
    worker = storm_bot.runtime.worker
    worker.retry_base = 0.01
    # A client that gives up on Slack after 0.3 s (the real one waits 10 s).
    worker.client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, timeout=0.3)
    await storm_bot.post_webhook(_flood(10))
    slack.set_delay(5)  # Slack takes the digest, but its answer is late: the client times out
    delivering = asyncio.create_task(storm_bot.deliver())
    await slack.wait_for_posts(1)
    slack.set_delay(0)
    await delivering

    (digest,) = _digests(slack)
    assert sorted(_rows(digest)) == list(range(1, 11)) and _cards(slack) == []
    assert slack.calls_to("conversations.history")  # looked for before posting again
    await _claim_row(storm_bot, digest, 4, ANNA)
    [card] = _cards(slack)
    assert _card_buttons(card)[0] == "4"


def _posts_after(slack: FakeSlack, done: int) -> list[str]:
    """The texts of the messages posted after the first `done` (cards and thread lines)."""
    return [c.args["text"] for c in slack.calls_to("chat.postMessage")[done:] if c.status == 200]


async def test_a_new_mention_does_not_wait_behind_a_queue_of_thread_lines(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    customers = [mention(str(n), author={"handle": f"klant{n}"}) for n in range(1, 9)]
    await bot.post_webhook(customers)
    await bot.deliver()
    done = len(slack.calls_to("chat.postMessage"))
    again = [mention(f"{n}b", text="en nu?", author={"handle": f"klant{n}"}) for n in range(1, 9)]
    await bot.post_webhook(again)  # 8 thread lines (and card refreshes) waiting
    await bot.post_webhook([mention("new", text="Nieuw hier", author={"handle": "nieuw"})])
    await bot.deliver()

    posted = _posts_after(slack, done)
    assert len(posted) == 9 and posted[1].endswith("@nieuw: Nieuw hier")  # second, not last


async def test_a_thread_line_does_not_wait_behind_a_queue_of_new_cards(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await bot.post_webhook([mention("1", author={"handle": "vaste"})])
    await bot.deliver()
    done = len(slack.calls_to("chat.postMessage"))
    await bot.post_webhook([mention(str(n), author={"handle": f"k{n}"}) for n in range(2, 12)])
    await bot.post_webhook([mention("1b", text="hallo??", author={"handle": "vaste"})])
    await bot.deliver()

    posted = _posts_after(slack, done)
    assert len(posted) == 11 and posted[1] == "@vaste wrote again: hallo??"  # second, not last


@pytest.mark.parametrize("config", [config_with_priorities()])
async def test_urgent_and_high_cases_lead_the_first_digest_of_a_flood(
    storm_bot: BotUnderTest, slack: FakeSlack
) -> None:
    flood = _flood(30)
    flood[27]["text"] += ": fraude!"  # case 28: urgent
    flood[28]["text"] += ", ik betwist hem"  # case 29: high
    await storm_bot.post_webhook(flood)
    await storm_bot.deliver()

    first, second = _digests(slack)
    assert list(_rows(first)) == [28, 29, *range(1, 19)]
    assert list(_rows(second)) == [*range(19, 28), 30]
    assert ":red_circle:" in _rows(first)[28]["text"]["text"]  # the priority, at a glance


async def test_digest_rows_turn_orange_then_red_and_unanswered_cases_escalate(
    storm_bot: BotUnderTest, slack: FakeSlack, engine: AsyncEngine
) -> None:
    """A storm is when deadlines pass: a case shown only as a digest row is warned and
    escalated as a card is (its row's light), and one claimed from the digest meanwhile gets
    its card's warning rules (someone has it: no warning line, but it still escalates). The
    leads get one message for the cases that passed their deadline together."""
    friday = MENTION_AT  # Billing answers within 30 business minutes: due 10:30, warned 10:24
    await storm_bot.post_webhook(_flood(12))
    await storm_bot.deliver()
    rows = _rows(_digest_of(slack, 3))
    assert all(":large_green_circle:" in row["text"]["text"] for row in rows.values())
    await _claim_row(storm_bot, _digest_of(slack, 7), 7, ANNA)

    storm_bot.clock.set(friday + timedelta(minutes=25))
    await storm_bot.runtime.scheduler.fire_due()
    await storm_bot.runtime.scheduler.fire_due()  # a second sweep warns nobody again
    await storm_bot.deliver()
    rows = _rows(_digest_of(slack, 3))
    assert all(
        ":large_orange_circle:" in row["text"]["text"] for case, row in rows.items() if case != 7
    )
    [card] = _cards(slack)
    assert slack.thread(CHANNEL, card["ts"])[1:] == []  # Anna has it: no warning line
    assert slack.posts("C0LEADS01") == []

    storm_bot.clock.set(friday + timedelta(minutes=31))
    await storm_bot.runtime.scheduler.fire_due()
    await storm_bot.runtime.scheduler.fire_due()
    await storm_bot.deliver()
    rows = _rows(_digest_of(slack, 3))
    assert all(":red_circle:" in row["text"]["text"] for case, row in rows.items() if case != 7)
    # One message for the leads, not twelve: each case once, the claimed one too.
    [escalation] = slack.posts("C0LEADS01")
    # Each number links to where the case is: the claimed one's card, the others' digest.
    where = {n: _digest_of(slack, n)["ts"] for n in range(1, 13) if n != 7}
    where[7] = _cards(slack)[0]["ts"]
    listed = ", ".join(
        f"<https://slack.com/archives/{CHANNEL}/p{where[n].replace('.', '')}|#{n}>"
        for n in range(1, 13)
    )
    assert escalation["text"] == (
        ":red_circle: 12 cases in <#CBILLING1> passed their response deadline unanswered: "
        f"{listed}."
    )
    assert len(_cards(slack)) == 1  # a digest row's deadline posts no card of its own
    unmarked = await cases_breached(engine, breached=False)
    assert unmarked == 0


async def test_a_storm_past_its_deadline_turns_red_at_once_and_reaches_the_leads_once(
    storm_bot: BotUnderTest, slack: FakeSlack, engine: AsyncEngine
) -> None:
    """More cases pass their deadline together than one sweep takes (a hundred): every row
    turns red at the same poll, and the leads get one message listing them, not one a sweep."""
    await storm_bot.post_webhook(_flood(130))
    await storm_bot.deliver()
    assert len(_digests(slack)) == 7 and _cards(slack) == []

    storm_bot.clock.set(MENTION_AT + timedelta(minutes=25))
    await storm_bot.runtime.scheduler.fire_due()
    await storm_bot.deliver()
    rows = {case: row for d in _digests(slack) for case, row in _rows(d).items()}
    assert len(rows) == 130
    assert all(":large_orange_circle:" in row["text"]["text"] for row in rows.values())

    storm_bot.clock.set(MENTION_AT + timedelta(minutes=31))
    await storm_bot.runtime.scheduler.fire_due()
    await storm_bot.deliver()
    rows = {case: row for d in _digests(slack) for case, row in _rows(d).items()}
    assert all(":red_circle:" in row["text"]["text"] for row in rows.values())
    [escalation] = slack.posts("C0LEADS01")
    assert escalation["text"].startswith(
        ":red_circle: 130 cases in <#CBILLING1> passed their response deadline unanswered: "
        f"<https://slack.com/archives/{CHANNEL}/p"
    )
    assert escalation["text"].endswith("|#30> and 100 more.")
    unmarked = await cases_breached(engine, breached=False)
    assert unmarked == 0
