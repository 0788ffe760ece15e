"""Following up with the customer: ask the owner a day or two later, inside business hours,
once, even when the bot was down at the due time."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app.runtime import Runtime
from bot.cases.follow_up import due_after_days
from bot.core.business_time import BusinessCalendar
from bot.core.config import WebcareConfig
from bot.core.config.hours import BusinessHours
from storage.models import Case, CaseEvent
from tests.cases.test_claim import ANNA, BRAM, _buttons, _card, _click, _notes
from tests.cases.test_forward import PETRA, _submission
from tests.conftest import BotUnderTest, make_settings, mention
from tests.fake_slack import FakeSlack
from tests.shown import shown

AMS = ZoneInfo("Europe/Amsterdam")
CALENDAR = BusinessCalendar(
    BusinessHours.model_validate(
        {"hours": {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")}}
    )
)


@pytest.mark.parametrize(
    ("now", "days", "due"),
    [
        (datetime(2026, 11, 25, 11, 0, tzinfo=AMS), 1, datetime(2026, 11, 26, 11, 0, tzinfo=AMS)),
        # Friday afternoon + 1 day is Saturday: Monday morning instead.
        (datetime(2026, 11, 27, 15, 0, tzinfo=AMS), 1, datetime(2026, 11, 30, 9, 0, tzinfo=AMS)),
        # Late evening + 1 day is still closed: the next morning.
        (datetime(2026, 11, 24, 22, 0, tzinfo=AMS), 1, datetime(2026, 11, 26, 9, 0, tzinfo=AMS)),
        # Christmas (Friday) and the weekend: Monday 28 December.
        (datetime(2026, 12, 24, 10, 0, tzinfo=AMS), 1, datetime(2026, 12, 28, 9, 0, tzinfo=AMS)),
        (datetime(2026, 12, 23, 12, 0, tzinfo=AMS), 2, datetime(2026, 12, 28, 9, 0, tzinfo=AMS)),
    ],
)
def test_follow_ups_land_inside_business_hours(now: datetime, days: int, due: datetime) -> None:
    assert due_after_days(CALENDAR, now, days) == due


def _modal_submission(slack: FakeSlack, choice: str, custom: int | None = None) -> dict[str, Any]:
    view = dict(slack.views[-1])
    view["state"] = {
        "values": {
            "when": {
                "when": {
                    "type": "radio_buttons",
                    "selected_option": {
                        "value": choice,
                        "text": {"type": "plain_text", "text": choice},
                    },
                }
            },
            "custom": {"custom": {"type": "datetimepicker", "selected_date_time": custom}},
        }
    }
    return view


async def _schedule(bot: BotUnderTest, slack: FakeSlack, choice: str = "1") -> dict[str, Any]:
    await bot.post_webhook(mention("1"))
    await bot.deliver()
    await _click(bot, slack, "case_claim", ANNA)
    await _click(bot, slack, "case_follow_up", ANNA)
    assert slack.views[-1]["callback_id"] == "follow_up_modal"
    answer = await bot.submit_view(_modal_submission(slack, choice), user=ANNA[0], name=ANNA[1])
    await bot.deliver()
    return answer


async def _dm(bot: BotUnderTest, slack: FakeSlack) -> dict[str, Any]:
    bot.clock.advance(days=5)
    assert await bot.runtime.scheduler.fire_due() == 1
    await bot.deliver()
    dm = slack.last_post("U0ANNA")
    assert dm is not None
    return dm


async def test_a_scheduled_follow_up_shows_on_the_card_and_asks_the_owner_when_due(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    assert await _schedule(bot, slack) == {}
    assert ":alarm_clock: Follow-up" in shown(_card(slack))
    assert _notes(slack)[-1].startswith("Anna will check with the customer <!date^")
    assert await bot.runtime.scheduler.fire_due() == 0  # not due yet

    dm = await _dm(bot, slack)
    assert dm["text"] == "Is @anna's problem solved?"
    assert "Case #1 in <#CWEBCARE1>" in dm["blocks"][0]["text"]["text"]
    assert _buttons(dm) == ["follow_up_solved", "follow_up_still_open", "follow_up_reopen"]

    await _click(bot, slack, "follow_up_solved", ANNA, card=dm)
    await slack.wait_for(
        lambda: (
            bool(slack.calls_to("chat.update"))
            and "Solved" in (slack.last_post("U0ANNA") or {}).get("text", "")
        )
    )
    await bot.deliver()
    assert _buttons(slack.last_post("U0ANNA") or {"blocks": []}) == []
    card = _card(slack)
    assert _buttons(card) == ["case_reopen"] and "Follow-up" not in shown(card)
    assert _notes(slack)[-1] == "Follow-up: Anna says the problem is solved"
    async with bot.runtime.engine.connect() as conn:
        outcome = (
            await conn.execute(
                select(CaseEvent.detail).where(CaseEvent.kind == "follow_up_outcome")
            )
        ).scalar_one()
    assert outcome["action"] == "follow_up_solved"


async def test_still_open_asks_again_the_next_business_day(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _schedule(bot, slack)
    dm = await _dm(bot, slack)
    await _click(bot, slack, "follow_up_still_open", ANNA, card=dm)
    await bot.deliver()
    assert "still open" in _notes(slack)[-1]
    assert ":alarm_clock: Follow-up" in shown(_card(slack))
    bot.clock.advance(days=4)
    assert await bot.runtime.scheduler.fire_due() == 1


async def test_not_solved_puts_the_case_back_with_the_owner(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _schedule(bot, slack, choice="2")
    dm = await _dm(bot, slack)
    await _click(bot, slack, "follow_up_reopen", ANNA, card=dm)
    await bot.deliver()
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    assert (case.status, case.owner_id) == ("claimed", "U0ANNA")
    await _click(bot, slack, "follow_up_solved", ANNA, card=dm)  # the old DM, clicked again
    assert "not possible" in slack.ephemerals[-1]["text"]


async def test_after_a_take_over_the_follow_up_is_the_new_owners(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _schedule(bot, slack)
    old_dm = await _dm(bot, slack)  # Anna is asked; meanwhile Bram takes the case over
    await _click(bot, slack, "case_take_over", BRAM)
    await _click(bot, slack, "follow_up_reopen", ANNA, card=old_dm)
    assert slack.ephemerals[-1]["text"] == (
        "<@U0BRAM> has this case now: the follow-up is theirs to answer."
    )
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    assert (case.status, case.owner_id) == ("follow_up", BRAM[0])

    # Bram says it is still open: the next question goes to him, not to Anna.
    await _click(bot, slack, "follow_up_still_open", BRAM, card=old_dm)
    await bot.deliver()
    asked_anna = len(slack.posts("U0ANNA"))
    bot.clock.advance(days=4)
    assert await bot.runtime.scheduler.fire_due() == 1
    await bot.deliver()
    assert len(slack.posts("U0ANNA")) == asked_anna
    assert (slack.last_post("U0BRAM") or {}).get("text") == "Is @anna's problem solved?"


async def test_a_case_moved_to_another_department_drops_its_follow_up(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _schedule(bot, slack)
    await _click(bot, slack, "case_forward", ANNA)
    moved = _submission(slack, mode="department", department="outages")
    assert await bot.submit_view(moved, user=ANNA[0], name=ANNA[1]) == {}
    await bot.deliver()
    new_card = slack.last_post("COUTAGES1")
    assert new_card is not None and "Follow-up" not in shown(new_card)
    bot.clock.advance(days=5)
    assert await bot.runtime.scheduler.fire_due() == 0
    await bot.deliver()
    assert slack.last_post("U0ANNA") is None


async def test_a_reply_sent_while_a_follow_up_is_planned_keeps_the_follow_up(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """Anna plans a follow-up, then answers the customer: the check still comes (the reply
    took the case out of its follow-up, and the question was dropped when due)."""
    from tests.cases.test_drafts import _submit

    await _schedule(bot, slack)
    await _click(bot, slack, "case_draft_reply", ANNA)
    await _submit(bot, slack, "We hebben het opgelost!")
    thread = slack.thread("CWEBCARE1", _card(slack)["ts"])
    draft = [m for m in thread if m["text"].startswith("Draft reply by")][-1]
    await _click(bot, slack, "draft_mark_sent", ANNA, card=draft)
    link = {"url": {"url": {"type": "url_text_input", "value": "https://x.com/acme/status/1"}}}
    view = {**slack.views[-1], "state": {"values": link}}
    assert await bot.submit_view(view, user=ANNA[0], name=ANNA[1]) == {}
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    assert (case.status, case.first_response_at is not None) == ("follow_up", True)
    dm = await _dm(bot, slack)
    assert dm["text"] == "Is @anna's problem solved?"


async def test_the_modal_refuses_a_missing_or_past_time(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await bot.post_webhook(mention("1"))
    await bot.deliver()
    await _click(bot, slack, "case_follow_up", ANNA)
    answer = await bot.submit_view(_modal_submission(slack, "custom"), user="U0ANNA", name="Anna")
    assert answer == {"response_action": "errors", "errors": {"custom": "Pick a date and time."}}
    past = _modal_submission(slack, "custom", custom=1_600_000_000)
    answer = await bot.submit_view(past, user="U0ANNA", name="Anna")
    assert answer["errors"]["custom"].startswith("That moment has passed")
    async with bot.runtime.engine.connect() as conn:
        assert (await conn.execute(select(Case.status))).scalar_one() == "new"


async def test_a_follow_up_due_while_the_bot_was_down_fires_once_after_restart(
    bot: BotUnderTest, slack: FakeSlack, config: WebcareConfig
) -> None:
    await _schedule(bot, slack)
    await bot.runtime.stop()  # down over the due time

    restarted = [
        Runtime(make_settings(slack), config, engine=bot.runtime.engine, clock=bot.clock)
        for _ in range(2)
    ]
    bot.clock.advance(days=5)
    fired = await asyncio.gather(*(r.scheduler.fire_due() for r in restarted))
    assert sorted(fired) == [0, 1]
    await restarted[0].worker.run_until_idle()
    assert len(slack.posts("U0ANNA")) == 1
    assert await restarted[1].scheduler.fire_due() == 0
    await restarted[1].stop()
    bot.runtime = restarted[0]  # the fixture stops this one


async def _ask_petra(bot: BotUnderTest, slack: FakeSlack) -> dict[str, Any]:
    """Anna forwards her case to Petra with a question; returns Petra's DM."""
    await _click(bot, slack, "case_forward", ANNA)
    ask = _submission(slack, mode="person", person=PETRA[0], note="Klopt dit bedrag?")
    assert await bot.submit_view(ask, user=ANNA[0], name=ANNA[1]) == {}
    await bot.deliver()
    dm = slack.last_post(PETRA[0])
    assert dm is not None
    return dm


async def _status(bot: BotUnderTest) -> str:
    async with bot.runtime.engine.connect() as conn:
        return str((await conn.execute(select(Case.status))).scalar_one())


async def test_a_follow_up_due_while_a_colleague_is_asked_comes_once_they_answer(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """Anna plans a follow-up, then asks Petra something. The follow-up comes due before
    Petra answers: it waits, and once she sends the case back Anna is asked (the forward
    dropped the follow-up, and nobody was asked)."""
    await _schedule(bot, slack)
    petra_dm = await _ask_petra(bot, slack)
    bot.clock.advance(days=5)
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    question = "Is @anna's problem solved?"
    assert [p["text"] for p in slack.posts("U0ANNA")].count(question) == 0

    await _click(bot, slack, "forward_send_back", PETRA, card=petra_dm)
    assert await _status(bot) == "follow_up"
    assert await bot.runtime.scheduler.fire_due() == 1
    await bot.deliver()
    assert [p["text"] for p in slack.posts("U0ANNA")].count(question) == 1


async def test_a_forward_answered_before_the_follow_up_leaves_it_planned(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _schedule(bot, slack)
    petra_dm = await _ask_petra(bot, slack)
    await _click(bot, slack, "forward_take", PETRA, card=petra_dm)
    assert await _status(bot) == "follow_up"
    assert ":alarm_clock: Follow-up" in shown(_card(slack))
    # Petra took the case: the question is hers when it comes.
    bot.clock.advance(days=5)
    assert await bot.runtime.scheduler.fire_due() == 1
    await bot.deliver()
    assert (slack.last_post(PETRA[0]) or {}).get("text") == "Is @anna's problem solved?"
