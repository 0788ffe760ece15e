"""The customer writes again: it lands in the same case, visibly, and nobody misses it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from storage.models import Case, CaseEvent
from tests.cases.test_claim import ANNA, _buttons, _card, _click, _resolve
from tests.conftest import BotUnderTest, mention
from tests.fake_slack import FakeSlack
from tests.shown import shown


async def test_a_reply_on_a_claimed_case_pings_the_owner_and_marks_the_card(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await bot.post_webhook(mention("1", text="Mijn pas is geblokkeerd"))
    await bot.deliver()
    await _click(bot, slack, "case_claim", ANNA)
    await bot.post_webhook(mention("2", text="Al 2 uur niks gehoord!"))
    await bot.deliver()

    card = _card(slack)
    reply = slack.thread("CWEBCARE1", card["ts"])[-1]
    assert reply["blocks"][0]["elements"][0]["text"].startswith("<@U0ANNA> · @anna wrote again")
    assert "*Customer replied*" in shown(card)


async def test_a_late_message_dated_before_the_claim_is_still_news_to_the_owner(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """A late feed or a delayed webhook: what arrives after the claim is news, whatever date
    the platform gives it."""
    await bot.post_webhook(mention("1", text="Mijn pas is geblokkeerd"))
    await bot.deliver()
    bot.clock.advance(minutes=30)
    await _click(bot, slack, "case_claim", ANNA)
    bot.clock.advance(minutes=5)
    written_before_the_claim = (bot.clock.now() - timedelta(minutes=20)).isoformat()
    await bot.post_webhook(mention("2", text="Nog iets", created_at=written_before_the_claim))
    await bot.deliver()
    assert "*Customer replied*" in shown(_card(slack))


async def test_a_message_that_arrived_before_the_claim_is_not_marked_as_a_reply(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """The owner claimed with both messages in view: nothing new has come since."""
    await bot.post_webhook(mention("1", text="Mijn pas is geblokkeerd"))
    bot.clock.advance(minutes=2)
    await bot.post_webhook(mention("2", text="Hallo??"))
    await bot.deliver()
    bot.clock.advance(minutes=3)
    await _click(bot, slack, "case_claim", ANNA)
    card = _card(slack)
    assert "<@U0ANNA>" in shown(card) and "*Customer replied*" not in shown(card)


async def test_a_mention_joins_the_case_in_its_own_channel_whatever_its_words(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await bot.post_webhook(mention("1", text="Mijn factuur klopt niet"))  # → billing
    await bot.deliver()
    await bot.post_webhook(mention("2", text="En nu is er ook nog een storing!"))  # → outages
    await bot.deliver()
    assert slack.posts("COUTAGES1") == []
    card = slack.last_post("CBILLING1")
    assert card is not None and len(slack.thread("CBILLING1", card["ts"])) == 1


async def test_writing_again_soon_after_resolving_reopens_the_case(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    _, first = await bot.post_webhook(mention("1"))
    await bot.deliver()
    await _click(bot, slack, "case_claim", ANNA)
    await _resolve(bot, slack, ANNA)
    assert _buttons(_card(slack)) == ["case_reopen"]

    _, again = await bot.post_webhook(mention("2", text="Het werkt alweer niet"))
    await bot.deliver()
    assert again["case_ids"] == first["case_ids"]
    card = _card(slack)
    assert _buttons(card)[0] == "case_claim" and "Resolved" not in shown(card)
    reply = slack.thread("CWEBCARE1", card["ts"])[-1]
    assert reply["blocks"][0]["elements"][0]["text"].startswith("<@U0ANNA>")
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
        kinds = (await conn.execute(select(CaseEvent.kind).order_by(CaseEvent.id))).scalars()
        assert case.status == "reopened" and case.owner_id is None
        assert list(kinds)[-2:] == ["mention_added", "reopen"]


async def test_after_the_reopen_window_a_new_case_starts(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    _, first = await bot.post_webhook(mention("1"))
    await bot.deliver()
    await _resolve(bot, slack, ANNA)
    async with bot.runtime.engine.begin() as conn:
        long_ago = bot.clock.now() - timedelta(days=8)
        await conn.execute(update(Case).values(resolved_at=long_ago))

    _, later = await bot.post_webhook(mention("2"))
    await bot.deliver()
    assert later["case_ids"] != first["case_ids"]
    assert len([m for m in slack.posts("CWEBCARE1") if m["thread_ts"] in (None, m["ts"])]) == 2


async def test_reopening_while_the_customer_has_another_open_case_is_refused_clearly(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await bot.post_webhook(mention("1"))
    await bot.deliver()
    old_card = _card(slack)
    await _resolve(bot, slack, ANNA)
    async with bot.runtime.engine.begin() as conn:
        long_ago = bot.clock.now() - timedelta(days=8)
        await conn.execute(update(Case).values(resolved_at=long_ago))
    await bot.post_webhook(mention("2"))  # after the window: a new, open case
    await bot.deliver()
    resolved = next(m for m in slack.posts("CWEBCARE1") if m["ts"] == old_card["ts"])
    await _click(bot, slack, "case_reopen", ANNA, card=resolved)
    assert slack.ephemerals[-1]["text"] == (
        "The customer already has another open case; work on that one."
    )
    async with bot.runtime.engine.connect() as conn:
        statuses = list((await conn.execute(select(Case.status).order_by(Case.id))).scalars())
    assert statuses == ["resolved", "new"]
