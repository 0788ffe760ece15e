"""Forwarding a case to a colleague (with a deadline that is watched) or to another department."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storage.models import Case, OutboxJob
from tests.cases.test_claim import ANNA, BRAM, _buttons, _click
from tests.conftest import BotUnderTest, mention
from tests.fake_slack import FakeSlack
from tests.shown import shown

PETRA = ("UBILLING1", "Petra")  # the billing department's contact in the test config


def _card(slack: FakeSlack, channel: str = "CBILLING1") -> dict[str, Any]:
    card = slack.last_post(channel)
    assert card is not None
    return card


def _notes(slack: FakeSlack, channel: str = "CBILLING1") -> list[str]:
    return [m["text"] for m in slack.thread(channel, _card(slack, channel)["ts"])]


def _submission(
    slack: FakeSlack,
    *,
    mode: str,
    person: str | None = None,
    department: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "mode": {"mode": {"type": "radio_buttons", "selected_option": {"value": mode}}},
        "person": {"person": {"type": "users_select", "selected_user": person}},
        "note": {"note": {"type": "plain_text_input", "value": note}},
    }
    if department:
        values["department"] = {
            "department": {"type": "static_select", "selected_option": {"value": department}}
        }
    return {**slack.views[-1], "state": {"values": values}}


async def _billing_case_with_anna(bot: BotUnderTest, slack: FakeSlack) -> None:
    await bot.post_webhook(mention("1", text="Mijn factuur klopt niet"))
    await bot.deliver()
    await _click(bot, slack, "case_claim", ANNA, card=_card(slack))


async def _forward_to_petra(bot: BotUnderTest, slack: FakeSlack) -> dict[str, Any]:
    await _billing_case_with_anna(bot, slack)
    return await _anna_forwards_to_petra(bot, slack)


async def _anna_forwards_to_petra(bot: BotUnderTest, slack: FakeSlack) -> dict[str, Any]:
    """Anna forwards her billing case to Petra; returns Petra's DM."""
    await _click(bot, slack, "case_forward", ANNA, card=_card(slack))
    modal = slack.views[-1]
    person = next(b for b in modal["blocks"] if b.get("block_id") == "person")
    assert person["element"]["initial_user"] == "UBILLING1"  # the contact is suggested
    answer = await bot.submit_view(
        _submission(slack, mode="person", person=PETRA[0], note="Kun jij de factuur checken?"),
        user=ANNA[0],
        name=ANNA[1],
    )
    assert answer == {}
    await bot.deliver()
    dm = slack.last_post("UBILLING1")
    assert dm is not None
    return dm


async def test_forwarding_to_a_contact_sends_a_dm_and_shows_on_the_card(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    dm = await _forward_to_petra(bot, slack)
    assert dm["blocks"][0]["text"]["text"] == (
        "*Anna forwarded case #1 in <#CBILLING1> to you*\n@anna:"
    )
    quote = dm["blocks"][1]["elements"][0]["elements"][0]["text"]
    assert quote == "Mijn factuur klopt niet"  # literal, in a rich_text quote
    text = dm["blocks"][2]["text"]["text"]
    assert "Kun jij de factuur checken?" in text and "Please answer by <!date^" in text
    assert _buttons(dm) == ["forward_take", "forward_send_back"]
    assert "Forwarded to <@UBILLING1>" in shown(_card(slack))
    assert _notes(slack)[-1] == "Anna forwarded this to <@UBILLING1>: Kun jij de factuur checken?"


async def test_taking_the_forward_makes_the_contact_the_owner(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    dm = await _forward_to_petra(bot, slack)
    await _click(bot, slack, "forward_take", ANNA, card=dm)  # not Anna's to take
    assert "not (or no longer) forwarded to you" in slack.ephemerals[-1]["text"]

    await _click(bot, slack, "forward_take", PETRA, card=dm)
    card = _card(slack)
    assert "Claimed by <@UBILLING1>" in shown(card) and "Forwarded" not in shown(card)
    assert _notes(slack)[-1] == "Petra took this over"
    bot.clock.advance(days=7)
    assert await bot.runtime.scheduler.fire_due() == 0  # reminder and deadline were cancelled


async def test_sending_it_back_returns_the_case_to_its_owner(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    dm = await _forward_to_petra(bot, slack)
    await _click(bot, slack, "forward_send_back", PETRA, card=dm)
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    assert (case.status, case.owner_id, case.forwarded_to) == ("claimed", "U0ANNA", None)
    assert _notes(slack)[-1] == "Petra sent this back"


async def test_an_unanswered_forward_reminds_the_contact_then_tells_the_owner(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _forward_to_petra(bot, slack)
    bot.clock.advance(days=10)  # past the reminder and the deadline (4 business hours)
    assert await bot.runtime.scheduler.fire_due() == 2
    await bot.deliver()
    reminder = slack.last_post("UBILLING1")
    assert reminder is not None and reminder["text"].startswith(":hourglass: Reminder: case #1")
    told = slack.last_post("U0ANNA")
    assert told is not None
    assert told["text"] == (
        ":warning: <@UBILLING1> did not answer your forward of case #1 in <#CBILLING1> in time."
    )
    assert ":warning: <@UBILLING1> did not answer the forward in time" in _notes(slack)


async def test_moving_to_another_department_reposts_the_card_there(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _billing_case_with_anna(bot, slack)
    await _click(bot, slack, "case_forward", ANNA, card=_card(slack))
    await bot.submit_view(
        _submission(slack, mode="department", department="outages", note="Lijkt een storing"),
        user=ANNA[0],
        name=ANNA[1],
    )
    await bot.deliver()
    old = _card(slack, "CBILLING1")
    assert old["text"] == ":arrow_right_hook: Moved to <#COUTAGES1> by Anna" and _buttons(old) == []
    new = _card(slack, "COUTAGES1")
    assert "Case #1 · Outages" in shown(new) and _buttons(new)[0] == "case_claim"
    assert _notes(slack, "COUTAGES1") == [
        "Anna moved this here from another department: Lijkt een storing"
    ]
    # The customer's next message follows the case to its new channel.
    await bot.post_webhook(mention("2", text="Nog steeds niks"))
    await bot.deliver()
    assert len(slack.thread("COUTAGES1", new["ts"])) == 2
    assert slack.block_errors == []


async def test_the_modal_insists_on_a_person_and_not_yourself(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _billing_case_with_anna(bot, slack)
    await _click(bot, slack, "case_forward", ANNA, card=_card(slack))
    answer = await bot.submit_view(_submission(slack, mode="person"), user=ANNA[0], name=ANNA[1])
    assert answer == {"response_action": "errors", "errors": {"person": "Choose a person."}}
    answer = await bot.submit_view(
        _submission(slack, mode="person", person=ANNA[0]), user=ANNA[0], name=ANNA[1]
    )
    assert answer["errors"]["person"] == "You cannot forward a case to yourself."
    answer = await bot.submit_view(_submission(slack, mode="department"), user=ANNA[0], name="A")
    assert answer["errors"]["department"] == "Choose a department."


async def test_a_forward_to_what_is_no_person_or_no_department_is_refused_in_the_modal(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _billing_case_with_anna(bot, slack)
    await _click(bot, slack, "case_forward", ANNA, card=_card(slack))
    for target in ("CBILLING1", "B0BOT", "USLACKBOT", "U1>|<!channel>", "u0lower"):
        answer = await bot.submit_view(
            _submission(slack, mode="person", person=target), user=ANNA[0], name=ANNA[1]
        )
        assert answer["errors"] == {"person": "Choose a person from your workspace."}, target
    answer = await bot.submit_view(
        _submission(slack, mode="department", department="marketing"), user=ANNA[0], name=ANNA[1]
    )
    assert answer["errors"]["department"].startswith("That department is not")
    answer = await bot.submit_view(
        _submission(slack, mode="person", person=PETRA[0], note="&" * 1001),
        user=ANNA[0],
        name=ANNA[1],
    )
    assert answer["errors"] == {"note": "At most 1000 characters, please (this is 1001)."}
    await bot.deliver()
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    assert (case.department, case.forwarded_to) == ("billing", None)
    assert not slack.posts("U1>|<!channel>") and "<!channel>" not in str(slack.calls)


async def test_notes_queued_just_before_a_move_still_reach_slack(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await bot.post_webhook(mention("1", text="Mijn factuur klopt niet"))
    await bot.deliver()
    card = _card(slack)
    assert await bot.click(card, "case_claim", user=ANNA[0], name=ANNA[1]) == 200
    assert await bot.click(card, "case_forward", user=ANNA[0], name=ANNA[1]) == 200
    await bot.submit_view(
        _submission(slack, mode="department", department="outages"), user=ANNA[0], name=ANNA[1]
    )
    await bot.deliver()
    async with bot.runtime.engine.connect() as conn:
        dead = (await conn.execute(select(OutboxJob.kind).where(OutboxJob.status == "dead"))).all()
    assert dead == []


async def test_a_claim_from_an_outdated_card_does_not_take_a_forwarded_case(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await bot.post_webhook(mention("1", text="Mijn factuur klopt niet"))
    await bot.deliver()
    outdated = _card(slack)  # as Bram's screen still shows it: with Claim
    await _click(bot, slack, "case_claim", ANNA, card=outdated)
    dm = await _anna_forwards_to_petra(bot, slack)

    await _click(bot, slack, "case_claim", BRAM, card=outdated)
    assert slack.ephemerals[-1]["text"].startswith("<@U0ANNA> already has this case.")
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    assert (case.status, case.owner_id, case.forwarded_to) == ("forwarded", ANNA[0], PETRA[0])
    # Petra can still take what was forwarded to her.
    await _click(bot, slack, "forward_take", PETRA, card=dm)
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    assert (case.status, case.owner_id) == ("claimed", PETRA[0])


async def test_a_forwarded_case_resolved_no_longer_shows_the_forward(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _forward_to_petra(bot, slack)
    await _click(bot, slack, "case_resolve", ANNA, card=_card(slack))
    values = {"closing_note": {"closing_note": {"type": "plain_text_input", "value": None}}}
    view = {**slack.views[-1], "state": {"values": values}}
    assert await bot.submit_view(view, user=ANNA[0], name=ANNA[1]) == {}
    await bot.deliver()
    await _click(bot, slack, "case_reopen", BRAM, card=_card(slack))
    await _click(bot, slack, "case_claim", BRAM, card=_card(slack))

    assert "Forwarded to" not in shown(_card(slack))
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    assert (case.status, case.owner_id, case.forwarded_to, case.forward_due_at) == (
        "claimed",
        BRAM[0],
        None,
        None,
    )
