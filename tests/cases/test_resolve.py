"""Resolving: a closing note for the team, and for conversations that went private, whether
the public thread was closed ("we sorted this out in DM")."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from storage.models import CaseEvent
from tests.cases.test_claim import ANNA, _notes, _resolve
from tests.conftest import BotUnderTest, mention
from tests.fake_slack import FakeSlack


async def _resolution(bot: BotUnderTest) -> dict[str, object]:
    async with bot.runtime.engine.connect() as conn:
        return (
            await conn.execute(select(CaseEvent.detail).where(CaseEvent.kind == "resolve"))
        ).scalar_one()


async def test_a_closing_note_lands_in_the_thread(bot: BotUnderTest, slack: FakeSlack) -> None:
    await bot.post_webhook(mention("1"))
    await bot.deliver()
    modal = await _resolve(bot, slack, ANNA, note="Pas vervangen <!channel>")
    assert [b["block_id"] for b in modal["blocks"]] == ["closing_note"]  # public: no question
    assert _notes(slack) == ["Anna resolved this: Pas vervangen &lt;!channel&gt;"]
    assert (await _resolution(bot))["closing_note"] == "Pas vervangen <!channel>"


async def test_a_conversation_that_went_private_asks_about_the_public_close(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await bot.post_webhook(mention("1", text="@acmebank mijn pas doet het niet"))
    await bot.post_webhook(mention("2", text="Mijn klantnummer is 12345", private=True))
    await bot.deliver()
    modal = await _resolve(bot, slack, ANNA, public_close="no")
    assert "public_close" in [b.get("block_id") for b in modal["blocks"]]
    assert (await _resolution(bot))["public_close"] is False


async def test_a_closing_note_longer_than_the_modal_allows_is_refused_there(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    from storage.models import Case
    from tests.cases.test_claim import _click

    await bot.post_webhook(mention("1"))
    await bot.deliver()
    await _click(bot, slack, "case_resolve", ANNA)
    values = {"closing_note": {"closing_note": {"type": "plain_text_input", "value": "<" * 2001}}}
    answer = await bot.submit_view(
        {**slack.views[-1], "state": {"values": values}}, user=ANNA[0], name=ANNA[1]
    )
    assert answer["errors"] == {"closing_note": "At most 2000 characters, please (this is 2001)."}
    async with bot.runtime.engine.connect() as conn:
        assert (await conn.execute(select(Case.status))).scalar_one() == "new"


async def test_notes_that_escaping_makes_longer_still_fit_slack(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """2,000 "<" become 8,000 characters once escaped: the line is cut after escaping, never
    inside an entity, so Slack takes it (the fake Slack refuses text objects over 3,000)."""
    from bot.render.mrkdwn import NOTE_LIMIT, escape_within

    await bot.post_webhook(mention("1"))
    await bot.deliver()
    await _resolve(bot, slack, ANNA, note="<" * 2000)
    (line,) = _notes(slack)
    assert line.startswith("Anna resolved this: &lt;&lt;") and line.endswith("&lt;…")
    assert not slack.block_errors
    assert (await _resolution(bot))["closing_note"] == "<" * 2000  # stored whole
    for text in ("&" * 1000, "a&" * 700, "é" * 3000):
        cut = escape_within(text)
        assert len(cut) <= NOTE_LIMIT and not cut.rstrip("…").endswith(("&", "&a", "&am"))


async def test_a_resolve_modal_closes_only_its_own_case_and_only_for_its_opener(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """A submission is a payload like any other: private_metadata naming another case, or the
    modal submitted by someone it was not opened for, changes nothing."""
    from storage.models import Case
    from tests.cases.test_claim import BRAM, _click

    await bot.post_webhook([mention("1"), mention("2", author={"handle": "bram"})])
    await bot.deliver()
    await _click(bot, slack, "case_resolve", ANNA, card=slack.posts("CWEBCARE1")[0])
    modal = slack.views[-1]
    sealed = modal["private_metadata"]
    values = {"closing_note": {"closing_note": {"type": "plain_text_input", "value": None}}}
    for forged, who in (
        ("2", ANNA),  # another case, unsealed
        (sealed.replace("1|", "2|", 1), ANNA),  # another case under case 1's seal
        (sealed, BRAM),  # the right modal, submitted by someone else
    ):
        view = {**modal, "private_metadata": forged, "state": {"values": values}}
        answer = await bot.submit_view(view, user=who[0], name=who[1])
        assert answer["errors"]["closing_note"].startswith("This form is out of date")
    async with bot.runtime.engine.connect() as conn:
        assert list((await conn.execute(select(Case.status).order_by(Case.id))).scalars()) == [
            "new",
            "new",
        ]
    view = {**modal, "state": {"values": values}}
    assert await bot.submit_view(view, user=ANNA[0], name=ANNA[1]) == {}
    async with bot.runtime.engine.connect() as conn:
        assert list((await conn.execute(select(Case.status).order_by(Case.id))).scalars()) == [
            "resolved",
            "new",
        ]


async def test_a_case_resolved_while_the_modal_was_open_is_refused_in_the_modal(
    bot: BotUnderTest, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """The hostile order: Anna opens the resolve modal, Bram resolves the case meanwhile, then
    Anna submits. The state machine refuses; the refusal is shown where she typed, nothing
    is written twice, and no error reaches the log or Slack as a 500."""
    from storage.models import Case
    from tests.cases.test_claim import BRAM, _click

    await bot.post_webhook(mention("1"))
    await bot.deliver()
    await _click(bot, slack, "case_resolve", ANNA)
    annas_modal = slack.views[-1]
    await _resolve(bot, slack, BRAM, note="Opgelost")
    values = {"closing_note": {"closing_note": {"type": "plain_text_input", "value": "Ook klaar"}}}
    answer = await bot.submit_view(
        {**annas_modal, "state": {"values": values}}, user=ANNA[0], name=ANNA[1]
    )
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["closing_note"]
    assert "resolved" in answer["errors"]["closing_note"]
    async with bot.runtime.engine.connect() as conn:
        assert (await conn.execute(select(Case.status))).scalar_one() == "resolved"
        resolves = await conn.execute(select(CaseEvent.id).where(CaseEvent.kind == "resolve"))
        assert len(resolves.all()) == 1
    assert _notes(slack) == ["Bram resolved this: Opgelost"]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
