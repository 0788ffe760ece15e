"""Proactive cases (about us, not addressed to us: news, hashtag and search hits) have no
response deadline unless a rule gives one: never warned, escalated or counted overdue, and left
out of the SLA figures; a case that becomes addressed gets its deadline from that moment."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.clock import PinnedClock
from bot.core.config import parse_config
from bot.insight.reports import build_report, cases_csv
from storage.models import Case
from tests.cases.test_claim import ANNA, _click
from tests.conftest import (
    CONFIG,
    MENTION_AT,
    BotUnderTest,
    make_settings,
    mention,
    running_bot,
)
from tests.fake_slack import FakeSlack
from tests.insight.test_status import _command, _text, open_home
from tests.shown import shown

AMS = ZoneInfo("Europe/Amsterdam")
NEWS = {"handle": "nieuws.example.nl", "name": "nieuws.example.nl"}


async def _cases(bot: BotUnderTest) -> dict[str, Any]:
    async with bot.runtime.engine.connect() as conn:
        return {c.author_handle: c for c in await conn.execute(select(Case).order_by(Case.id))}


def _card_of(slack: FakeSlack, channel: str, handle: str) -> dict[str, Any]:
    cards = [
        p
        for p in slack.posts(channel)
        if f"@{handle}" in p["text"] and p.get("thread_ts") in (None, p["ts"])
    ]
    assert cards, f"no card for @{handle} in {channel}"
    return cards[-1]


def _thread(slack: FakeSlack, channel: str, handle: str) -> list[str]:
    return [m["text"] for m in slack.thread(channel, _card_of(slack, channel, handle)["ts"])]


async def test_a_news_hit_has_no_deadline_and_is_never_warned_breached_or_overdue(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await bot.post_webhook(
        [
            mention(
                "1",
                text="Acme stuurt factuur te laat, meldt de krant",
                author=NEWS,
                addressed=False,
            ),
            mention("2", text="Mijn factuur klopt niet", author={"handle": "bob"}),
        ]
    )
    await bot.deliver()
    cases = await _cases(bot)
    news, bob = cases["nieuws.example.nl"], cases["bob"]
    assert news.sla_due_at is None and news.sla_warn_at is None
    assert bob.sla_due_at == MENTION_AT + timedelta(minutes=30)  # billing: 30 business minutes
    card = shown(_card_of(slack, "CBILLING1", "nieuws.example.nl"))
    assert ":white_circle: No response deadline (proactive)" in card and "Answer by" not in card
    assert "Answer by" in shown(_card_of(slack, "CBILLING1", "bob"))

    # Both claimed by Anna: the one with a deadline comes first in her list, on either database.
    for handle in ("nieuws.example.nl", "bob"):
        await _click(bot, slack, "case_claim", ANNA, card=_card_of(slack, "CBILLING1", handle))
    mine = _text(await _command(bot, "mine"))
    assert mine.index("@bob") < mine.index("@nieuws.example.nl")

    bot.clock.advance(hours=3)  # well past Bob's deadline, a business day later still
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    bot.clock.advance(days=4)
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    assert _thread(slack, "CBILLING1", "nieuws.example.nl") == ["Anna claimed this"]
    assert _thread(slack, "CBILLING1", "bob")[-1].startswith(":red_circle: The response deadline")
    assert len(slack.posts("C0LEADS01")) == 1  # Bob's breach escalated, the news never
    card = shown(_card_of(slack, "CBILLING1", "nieuws.example.nl"))
    assert ":red_circle:" not in card and ":large_orange_circle:" not in card

    status = _text(await _command(bot, "status billing"))
    assert "Past the deadline: " in status and "#2 @bob" in status
    assert "@nieuws.example.nl" not in status
    home = await open_home(bot, slack, "U0ANNA")
    home_text = "\n".join(b["text"]["text"] for b in home["blocks"] if b["type"] == "section")
    overdue = next(line for line in home_text.splitlines() if "Past the deadline" in line)
    assert "@bob" in overdue and "@nieuws" not in overdue


def _config(*rules: dict[str, Any]) -> Any:
    raw = copy.deepcopy(CONFIG)
    raw["rules"] = [*rules, *raw["rules"]]
    return parse_config(raw, source="test.yml")


PRESS = {
    "name": "Outage talk",
    "match": {"addressed": False, "keywords": ["storing"]},
    "department": "outages",
    "sla_minutes": 45,
}
VIP = {
    "name": "Big accounts",
    "match": {"min_followers": 50000},
    "department": "billing",
    "sla_minutes": 10,
}


@pytest.fixture
async def ruled_bot(
    engine: AsyncEngine, slack: FakeSlack, clock: PinnedClock
) -> AsyncIterator[BotUnderTest]:
    async with running_bot(make_settings(slack), _config(PRESS, VIP), engine, clock) as bot:
        yield bot


async def test_a_rule_with_sla_minutes_gives_a_deadline_even_to_a_proactive_case(
    ruled_bot: BotUnderTest, slack: FakeSlack
) -> None:
    bot = ruled_bot
    await bot.post_webhook(
        [
            mention("1", text="Grote storing bij Acme?", author=NEWS, addressed=False),
            # Addressed, matched by a rule with its own target: the rule's, not billing's 30.
            mention("2", text="Factuur!", author={"handle": "vip", "followers": 80000}),
            # Proactive, no rule with a target: none.
            mention("3", text="Acme factuur nieuws", author={"handle": "blog"}, addressed=False),
        ]
    )
    cases = await _cases(bot)
    assert cases["nieuws.example.nl"].sla_due_at == MENTION_AT + timedelta(minutes=45)
    assert cases["nieuws.example.nl"].sla_warn_at == MENTION_AT + timedelta(minutes=36)
    assert cases["vip"].sla_due_at == MENTION_AT + timedelta(minutes=10)
    assert cases["blog"].sla_due_at is None
    await bot.deliver()
    assert "Answer by" in shown(_card_of(slack, "COUTAGES1", "nieuws.example.nl"))

    # The rule's deadline counts in business minutes on the department's calendar, and is
    # warned about and escalated like any other.
    bot.clock.set(MENTION_AT + timedelta(minutes=46))
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    notes = _thread(slack, "COUTAGES1", "nieuws.example.nl")
    assert [n[:13] for n in notes] == [":large_orange", ":red_circle: "]
    assert _thread(slack, "CBILLING1", "blog") == []


async def test_a_proactive_case_that_becomes_addressed_gets_its_deadline_from_then(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    post = mention("1", source="mastodon", text="@acme mijn pas?", author={"handle": "karin"})
    await bot.post_webhook({**post, "addressed": False})  # first seen by a hashtag search
    await bot.deliver()
    assert (await _cases(bot))["karin"].sla_due_at is None

    bot.clock.advance(hours=2)  # Friday 12:01: now seen as a mention of the brand
    upgraded_at = bot.clock.now()
    await bot.post_webhook(post)
    case = (await _cases(bot))["karin"]
    assert case.reactive
    due = upgraded_at + timedelta(minutes=60)  # webcare: 60 business minutes, from now
    assert due <= case.sla_due_at < due + timedelta(seconds=5)
    await bot.deliver()
    card = shown(_card_of(slack, "CWEBCARE1", "karin"))
    assert ":large_green_circle: Answer by" in card and "(proactive)" not in card

    bot.clock.set(case.sla_due_at + timedelta(minutes=1))
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    assert _thread(slack, "CWEBCARE1", "karin")[-1].startswith(":red_circle:")


async def test_an_addressed_message_joining_a_proactive_case_gives_it_a_deadline(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    author = {"handle": "jan"}
    await bot.post_webhook(
        mention("1", text="Acme weer in het nieuws", author=author, addressed=False)
    )
    bot.clock.advance(minutes=30)
    written = bot.clock.now()
    await bot.post_webhook(
        mention("2", text="@acme hoe zit dat?", author=author, created_at=written.isoformat())
    )
    case = (await _cases(bot))["jan"]
    assert case.mention_count == 2 and case.reactive
    assert case.sla_due_at == written + timedelta(minutes=60)  # from the addressed message
    await bot.deliver()
    assert "Answer by" in shown(_card_of(slack, "CWEBCARE1", "jan"))


async def test_a_reopened_proactive_case_stays_without_a_deadline(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    from tests.cases.test_claim import _resolve

    await bot.post_webhook(mention("1", text="Acme nieuws", author=NEWS, addressed=False))
    await bot.deliver()
    await _click(bot, slack, "case_claim", ANNA, card=_card_of(slack, "CWEBCARE1", NEWS["handle"]))
    await _resolve(bot, slack, ANNA)
    bot.clock.advance(hours=1)
    at = bot.clock.now().isoformat()
    await bot.post_webhook(
        mention("2", text="Meer Acme nieuws", author=NEWS, addressed=False, created_at=at)
    )
    case = (await _cases(bot))[NEWS["handle"]]
    assert case.status == "reopened" and case.sla_due_at is None and case.sla_warn_at is None
    await bot.deliver()
    assert "No response deadline (proactive)" in shown(_card_of(slack, "CWEBCARE1", NEWS["handle"]))


async def test_reports_and_status_count_only_cases_with_a_deadline(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await bot.post_webhook(
        [
            mention("1", text="Acme nieuws", author=NEWS, addressed=False),
            mention("2", text="Hallo?", author={"handle": "bob"}),
        ]
    )
    await bot.deliver()
    bot.clock.advance(hours=2)  # Bob's hour has passed unanswered; the news never had one
    since = MENTION_AT.replace(hour=0)
    report = await build_report(
        bot.runtime.engine, config=bot.runtime.config, since=since, until=bot.clock.now()
    )
    assert report.cases_opened == 2 and report.cases_without_deadline == 1
    assert report.answered_within_sla == 0.0  # Bob late; the news neither late nor on time

    await _command(bot, "report today", response_url=slack.response_url())
    (answer,) = slack.responses
    text = answer["blocks"][2]["text"]["text"]
    assert "Answered within the SLA: 0% (1 proactive without a deadline not counted)" in text

    rows = (
        await cases_csv(
            bot.runtime.engine, config=bot.runtime.config, since=since, until=bot.clock.now()
        )
    ).splitlines()
    news_row = next(r for r in rows if NEWS["handle"] in r).split(",")
    header = rows[0].split(",")
    assert news_row[header.index("sla_due_at")] == "" and news_row[header.index("within_sla")] == ""

    status = _text(await _command(bot, "status webcare"))
    assert "#2 @bob" in status and "@nieuws" not in status


async def test_a_dutch_team_reads_that_there_is_no_deadline(
    engine: AsyncEngine, slack: FakeSlack, clock: PinnedClock
) -> None:
    config = _config()
    settings = make_settings(slack, webcare_language="nl")
    async with running_bot(settings, config, engine, clock) as bot:
        await bot.post_webhook(mention("1", text="Acme nieuws", author=NEWS, addressed=False))
        await bot.deliver()
        card = shown(_card_of(slack, "CWEBCARE1", NEWS["handle"]))
    assert "Geen reactietermijn (proactief)" in card
