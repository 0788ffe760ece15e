"""Claiming and releasing cases from the card: one owner at a time, visibly, and never a silent
failure. Every click is a real signed block_actions request; the card is what the fake Slack
shows afterwards."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.config import WebcareConfig
from storage.models import Case, CaseEvent
from tests.conftest import BotUnderTest, make_settings, mention, running_bot
from tests.fake_slack import FakeSlack
from tests.shown import shown

ANNA, BRAM, CARLA = ("U0ANNA", "Anna"), ("U0BRAM", "Bram"), ("U0CARLA", "Carla")


def _card(slack: FakeSlack) -> dict[str, Any]:
    card = slack.last_post("CWEBCARE1")
    assert card is not None
    return card


def _buttons(card: dict[str, Any]) -> list[str]:
    return [
        el["action_id"]
        for block in card["blocks"]
        if block["type"] == "actions"
        for el in block["elements"]
    ]


def _notes(slack: FakeSlack) -> list[str]:
    card = _card(slack)
    return [m["text"] for m in slack.thread("CWEBCARE1", card["ts"])]


async def _click(
    bot: BotUnderTest,
    slack: FakeSlack,
    action: str,
    who: tuple[str, str],
    card: dict[str, Any] | None = None,
) -> None:
    assert await bot.click(card or _card(slack), action, user=who[0], name=who[1]) == 200
    await bot.deliver()


async def _resolve(
    bot: BotUnderTest,
    slack: FakeSlack,
    who: tuple[str, str],
    *,
    note: str = "",
    public_close: str | None = None,
) -> dict[str, Any]:
    """Click Resolve and submit the modal Slack opened; returns the modal as it was opened."""
    await _click(bot, slack, "case_resolve", who)
    modal = dict(slack.views[-1])
    values: dict[str, Any] = {
        "closing_note": {"closing_note": {"type": "plain_text_input", "value": note or None}}
    }
    if public_close:
        values["public_close"] = {
            "public_close": {"type": "radio_buttons", "selected_option": {"value": public_close}}
        }
    answer = await bot.submit_view({**modal, "state": {"values": values}}, user=who[0], name=who[1])
    assert answer == {}
    await bot.deliver()
    return modal


async def _last_ephemeral(slack: FakeSlack, user: str) -> str:
    await slack.wait_for(lambda: any(e["user"] == user for e in slack.ephemerals))
    return [e for e in slack.ephemerals if e["user"] == user][-1]["text"]


async def _a_case_on_the_board(bot: BotUnderTest) -> None:
    await bot.post_webhook(mention("1"))
    await bot.deliver()


async def test_claiming_shows_the_owner_on_the_card_and_in_the_thread(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _a_case_on_the_board(bot)
    assert _buttons(_card(slack))[0] == "case_claim"

    await _click(bot, slack, "case_claim", ANNA)

    card = _card(slack)
    assert "Claimed by <@U0ANNA>" in shown(card)
    assert _buttons(card)[:2] == ["case_unclaim", "case_take_over"]
    assert _notes(slack) == ["Anna claimed this"]
    async with bot.runtime.engine.connect() as conn:
        events = (await conn.execute(select(CaseEvent.kind, CaseEvent.actor))).all()
    assert ("claim", "U0ANNA") in events


async def test_a_second_claim_is_told_who_has_it(bot: BotUnderTest, slack: FakeSlack) -> None:
    await _a_case_on_the_board(bot)
    stale = _card(slack)  # Bram still looks at the card from before Anna's claim
    await _click(bot, slack, "case_claim", ANNA)
    await _click(bot, slack, "case_claim", BRAM, card=stale)
    assert await _last_ephemeral(slack, "U0BRAM") == (
        "<@U0ANNA> already has this case. Use *Take over* if you need it."
    )
    await _click(bot, slack, "case_claim", ANNA, card=stale)
    assert await _last_ephemeral(slack, "U0ANNA") == "You already have this case."
    assert _notes(slack) == ["Anna claimed this"]


@pytest.mark.parametrize(
    "ack_after_work",
    [True, False],
    ids=["answered after the work", "acked first, the work after"],
)
async def test_fifty_people_clicking_claim_at_once_make_exactly_one_owner(
    engine: AsyncEngine, config: WebcareConfig, slack: FakeSlack, ack_after_work: bool
) -> None:
    """Whether a click is answered once its work is done (serverless hosts) or acked first and
    worked on after: one owner, the card updated in place, everyone else told who has it."""
    settings = make_settings(slack, webcare_ack_after_work=ack_after_work)
    async with running_bot(settings, config, engine) as bot:
        await _a_case_on_the_board(bot)
        card = _card(slack)
        people = [(f"U0AGENT{i:02d}", f"Agent{i}") for i in range(50)]
        statuses = await asyncio.gather(
            *(bot.click(card, "case_claim", user=uid, name=name) for uid, name in people)
        )
        assert statuses == [200] * 50
        await slack.wait_for(lambda: len(slack.ephemerals) == 49)
        await bot.deliver()

        async with bot.runtime.engine.connect() as conn:
            query = select(CaseEvent).where(CaseEvent.kind == "claim")
            claims = (await conn.execute(query)).all()
    assert len(claims) == 1
    winner = claims[0].actor
    refreshed = _card(slack)
    assert refreshed["ts"] == card["ts"]  # updated in place
    assert f"Claimed by <@{winner}>" in shown(refreshed)
    told = {e["user"] for e in slack.ephemerals}
    assert told == {uid for uid, _ in people} - {winner}
    assert all(f"<@{winner}> already has this case" in e["text"] for e in slack.ephemerals)
    assert _notes(slack) == [f"Agent{int(winner[-2:])} claimed this"]


async def test_only_the_owner_releases_and_then_anyone_may_claim(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _a_case_on_the_board(bot)
    await _click(bot, slack, "case_claim", ANNA)
    await _click(bot, slack, "case_unclaim", BRAM)
    assert "Only <@U0ANNA> can release" in await _last_ephemeral(slack, "U0BRAM")

    await _click(bot, slack, "case_unclaim", ANNA)
    card = _card(slack)
    assert "Claimed by" not in shown(card) and _buttons(card)[0] == "case_claim"
    await _click(bot, slack, "case_claim", BRAM)
    assert _notes(slack) == ["Anna claimed this", "Anna released this", "Bram claimed this"]


async def test_taking_over_is_logged_and_a_stale_card_is_caught(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _a_case_on_the_board(bot)
    await _click(bot, slack, "case_claim", ANNA)
    card_with_anna = _card(slack)
    take_over = next(
        el
        for b in card_with_anna["blocks"]
        if b["type"] == "actions"
        for el in b["elements"]
        if el["action_id"] == "case_take_over"
    )
    assert (
        take_over["confirm"]["text"]["text"] == "<@U0ANNA> is working on this case. Take it over?"
    )

    await _click(bot, slack, "case_take_over", BRAM)
    assert "Claimed by <@U0BRAM>" in shown(_card(slack))
    assert _notes(slack)[-1] == "Bram took this over from Anna"

    # Carla confirmed "take over from Anna" on the old card, but Bram has it now.
    await _click(bot, slack, "case_take_over", CARLA, card=card_with_anna)
    assert "it is now with <@U0BRAM>" in await _last_ephemeral(slack, "U0CARLA")
    assert "Claimed by <@U0BRAM>" in shown(_card(slack))


async def test_a_resolved_case_takes_no_claim_until_reopened(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _a_case_on_the_board(bot)
    open_card = _card(slack)
    await _resolve(bot, slack, ANNA)
    card = _card(slack)
    assert "Resolved" in shown(card) and _buttons(card) == ["case_reopen"]

    await _click(bot, slack, "case_claim", BRAM, card=open_card)
    assert await _last_ephemeral(slack, "U0BRAM") == "This case is resolved. Reopen it first."
    await _click(bot, slack, "case_reopen", BRAM)
    await _click(bot, slack, "case_claim", BRAM)
    assert "Claimed by <@U0BRAM>" in shown(_card(slack))
    assert _notes(slack) == ["Anna resolved this", "Bram reopened this", "Bram claimed this"]


async def test_a_click_on_a_card_whose_case_is_gone_is_answered(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _a_case_on_the_board(bot)
    card = _card(slack)
    for block in card["blocks"]:
        for el in block.get("elements", []) if block["type"] == "actions" else []:
            el["value"] = "999"
    await _click(bot, slack, "case_claim", ANNA, card=card)
    assert await _last_ephemeral(slack, "U0ANNA") == "This case no longer exists."


@pytest.mark.parametrize("value", ["abc", "-1", "0", "99999999999", "1 OR 1=1", "١"])
async def test_a_forged_button_value_changes_nothing_and_is_answered_calmly(
    bot: BotUnderTest, slack: FakeSlack, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.post_webhook(mention("1"))
    await bot.deliver()
    forged = json.loads(json.dumps(_card(slack)))
    for block in forged["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == "case_claim":
                element["value"] = value
    assert await bot.click(forged, "case_claim", user=ANNA[0], name=ANNA[1]) == 200
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    assert case.owner_id is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize("action_id", ["case_claim", "case_resolve", "case_draft_reply"])
async def test_a_button_on_card_a_that_names_case_b_changes_nothing(
    bot: BotUnderTest, slack: FakeSlack, action_id: str
) -> None:
    await bot.post_webhook([mention("1"), mention("2", author={"handle": "bram"})])
    await bot.deliver()
    card_a, card_b = slack.posts("CWEBCARE1")
    forged = json.loads(json.dumps(card_a))
    b_id = next(
        el["value"]
        for block in card_b["blocks"]
        if block["type"] == "actions"
        for el in block["elements"]
        if el["action_id"] == "case_claim"
    )
    for block in forged["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                element["value"] = b_id
    views_before = len(slack.views)
    assert await bot.click(forged, action_id, user=ANNA[0], name=ANNA[1]) == 200
    assert slack.ephemerals[-1]["text"] == (
        "This button does not belong to this card: nothing was changed."
    )
    assert len(slack.views) == views_before  # no modal for case B either
    async with bot.runtime.engine.connect() as conn:
        owners = list((await conn.execute(select(Case.owner_id).order_by(Case.id))).scalars())
    assert owners == [None, None]


async def test_a_case_answered_without_an_owner_before_the_upgrade_can_be_claimed(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """Answered while nobody owned it, before whoever answered became its owner: its card
    shows Claim, and Claim works."""
    from sqlalchemy import update

    from storage.models import Case

    await bot.post_webhook(mention("1"))
    await bot.deliver()
    async with bot.runtime.engine.begin() as conn:
        await conn.execute(update(Case).values(status="replied"))
    await _click(bot, slack, "case_claim", BRAM)
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    assert (case.status, case.owner_id) == ("claimed", BRAM[0])
