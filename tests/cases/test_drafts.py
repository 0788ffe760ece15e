"""Drafting a reply in Slack: templates, the personal-data check before anything goes public,
platform length limits, a second pair of eyes where wanted, and sending."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.core.config import WebcareConfig, parse_config
from bot.intake.webhook import sign
from storage.models import Case, CaseEvent, Draft, OutboxJob
from tests.cases.test_claim import ANNA, CARLA, _buttons, _click
from tests.cases.test_forward import _submission
from tests.conftest import CONFIG, BotUnderTest, mention
from tests.fake_slack import FakeSlack

BRAM = ("U0BRAM", "Bram")
OUT_OF_DATE = (
    "This form is out of date: copy what you typed, close it and open it again from the card."
    " Nothing was saved."
)
HOOK_SECRET = "reply-hook-secret-123456"


class ReplyReceiver:
    """A source's reply endpoint: checks our signature, answers with the published URL."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail = False
        self.url = ""
        self.arrived = asyncio.Event()
        self.answer = asyncio.Event()  # cleared: the platform takes its time to publish
        self.answer.set()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        ts = request.headers["X-Webcare-Timestamp"]
        assert request.headers["X-Webcare-Signature"] == sign(HOOK_SECRET, ts, body)
        if self.fail:
            return web.json_response({"error": "down"}, status=502)
        self.received.append(json.loads(body))
        self.arrived.set()
        await self.answer.wait()
        return web.json_response({"url": "https://x.com/acme/status/999"})


@pytest.fixture
async def receiver() -> AsyncIterator[ReplyReceiver]:
    hook = ReplyReceiver()
    app = web.Application()
    app.router.add_post("/replies", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook.url = f"http://127.0.0.1:{runner.addresses[0][1]}/replies"
    yield hook
    await runner.cleanup()


@pytest.fixture
def config(receiver: ReplyReceiver) -> WebcareConfig:
    hooks = {"x": {"url": receiver.url, "secret": HOOK_SECRET}}
    return parse_config({**CONFIG, "reply_webhooks": hooks}, source="test.yml")


def _card(slack: FakeSlack, channel: str) -> dict[str, Any]:
    card = slack.last_post(channel)
    assert card is not None
    return card


def _draft_message(slack: FakeSlack, channel: str) -> dict[str, Any]:
    replies = slack.thread(channel, _card(slack, channel)["ts"])
    return [m for m in replies if m["text"].startswith("Draft reply by")][-1]


def _values(text: str, *, public: bool = True, override: bool = False) -> dict[str, Any]:
    return {
        "text": {"text": {"type": "plain_text_input", "value": text}},
        "visibility": {
            "visibility": {
                "type": "radio_buttons",
                "selected_option": {"value": "public" if public else "private"},
            }
        },
        "override": {
            "override": {
                "type": "checkboxes",
                "selected_options": [{"value": "yes"}] if override else [],
            }
        },
    }


async def _open_draft(bot: BotUnderTest, slack: FakeSlack, text: str, channel: str) -> None:
    await bot.post_webhook(mention("1", text=text))
    await bot.deliver()
    await _click(bot, slack, "case_draft_reply", ANNA, card=_card(slack, channel))
    assert slack.views[-1]["callback_id"] == "draft_modal"


async def draft_on_card(
    bot: BotUnderTest, slack: FakeSlack, text: str, *, public: bool = True
) -> dict[str, Any]:
    """Deliver what is queued, draft `text` on the newest card in the webcare channel as Anna;
    returns the draft's message in the card's thread."""
    await bot.deliver()
    card = slack.last_post("CWEBCARE1")
    assert card is not None
    await _click(bot, slack, "case_draft_reply", ANNA, card=card)
    await _submit(bot, slack, text, public=public)
    return _draft_message(slack, "CWEBCARE1")


async def _submit(
    bot: BotUnderTest, slack: FakeSlack, text: str, who: tuple[str, str] = ANNA, **options: bool
) -> dict[str, Any]:
    view = {**slack.views[-1], "state": {"values": _values(text, **options)}}
    answer = await bot.submit_view(view, user=who[0], name=who[1])
    await bot.deliver()
    return answer


async def test_a_template_is_filled_in_for_this_customer_and_agent(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _open_draft(bot, slack, "Mijn factuur klopt niet", "CBILLING1")
    modal = slack.views[-1]
    assert "Tone: Vriendelijk, je-vorm" in modal["blocks"][0]["elements"][0]["text"]
    assert "at most 280 characters" in modal["blocks"][0]["elements"][0]["text"]
    status, _ = await bot.interact(
        {
            "type": "block_actions",
            "user": {"id": ANNA[0], "name": ANNA[1]},
            "team": {"id": "T"},
            "api_app_id": "A_FAKE",
            "token": "legacy",
            "trigger_id": "1.2.3",
            "container": {"type": "view", "view_id": modal["id"]},
            "view": {**modal, "state": {"values": _values("")}},
            "actions": [
                {
                    "type": "static_select",
                    "action_id": "template",
                    "block_id": "template",
                    "selected_option": {"value": "sorry"},
                    "action_ts": "1.2",
                }
            ],
        }
    )
    assert status == 200
    await slack.wait_for(lambda: bool(slack.calls_to("views.update")))
    updated = slack.calls_to("views.update")[-1].args["view"]
    text_input = next(b for b in updated["blocks"] if b.get("block_id", "").startswith("text:"))
    assert text_input["element"]["initial_value"] == (
        "Hoi Anna de Vries, sorry voor het ongemak! Groet, Anna"
    )


async def test_personal_data_in_a_public_reply_is_stopped_unless_chosen_knowingly(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _open_draft(bot, slack, "Mijn factuur klopt niet", "CBILLING1")
    text = "Maak het over naar NL91 ABNA 0417 1643 00 o.v.v. ORD-123456"
    answer = await _submit(bot, slack, text)
    error = answer["errors"]["text"]
    assert "bank account “NL91 ABNA 0417 1643 00”" in error and "order_number “ORD-123456”" in error
    assert "private message" in error
    assert slack.thread("CBILLING1", _card(slack, "CBILLING1")["ts"]) == []

    assert await _submit(bot, slack, text, public=False) == {}  # a DM may carry it
    assert await _submit(bot, slack, text, override=True) == {}  # public, knowingly
    async with bot.runtime.engine.connect() as conn:
        details = (
            (await conn.execute(select(CaseEvent.detail).where(CaseEvent.kind == "draft_saved")))
            .scalars()
            .all()
        )
    assert [d.get("personal_data_override") for d in details] == [None, ["iban", "order_number"]]
    assert (
        ":warning: contains personal data"
        in _draft_message(slack, "CBILLING1")["blocks"][0]["elements"][0]["text"]
    )


async def test_ordinary_replies_pass_and_length_is_checked_per_platform(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _open_draft(bot, slack, "Mijn factuur klopt niet", "CBILLING1")
    answer = await _submit(bot, slack, "x" * 281)
    assert answer["errors"]["text"] == "Too long for this platform: 281 of at most 280 characters."
    ok = "Hoi Anna, we kijken er vandaag om 14:30 naar. Groet, Bram"
    assert await _submit(bot, slack, ok) == {}
    draft = _draft_message(slack, "CBILLING1")
    assert draft["blocks"][1]["elements"][0]["elements"][0]["text"] == ok
    assert _buttons(draft) == ["draft_edit", "draft_mark_sent", "draft_send"]


async def test_marking_sent_answers_the_case_and_sets_the_first_response_time(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _open_draft(bot, slack, "Mijn factuur klopt niet", "CBILLING1")
    outdated = _card(slack, "CBILLING1")  # unclaimed: with Claim, as Bram's screen shows it
    await _submit(bot, slack, "We hebben het aangepast!")
    await _click(bot, slack, "draft_mark_sent", ANNA, card=_draft_message(slack, "CBILLING1"))
    sent_modal = slack.views[-1]
    assert sent_modal["callback_id"] == "draft_sent_modal"
    url = "https://x.com/acme/status/1"
    view = {
        **sent_modal,
        "state": {"values": {"url": {"url": {"type": "url_text_input", "value": url}}}},
    }
    assert await bot.submit_view(view, user=ANNA[0], name=ANNA[1]) == {}
    await bot.deliver()

    draft = _draft_message(slack, "CBILLING1")
    assert _buttons(draft) == [] and f"<{url}|view>" in draft["blocks"][0]["elements"][0]["text"]
    notes = [m["text"] for m in slack.thread("CBILLING1", _card(slack, "CBILLING1")["ts"])]
    assert f"Anna's reply was sent: <{url}|view>" in notes
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    assert case.status == "replied" and case.first_response_at is not None
    # Anna answered a case nobody had claimed: it is hers now, not an unclaimable orphan.
    assert (case.owner_id, case.owner_name) == ANNA
    assert "case_claim" not in _buttons(_card(slack, "CBILLING1"))
    await _click(bot, slack, "case_claim", BRAM, card=outdated)
    assert slack.ephemerals[-1]["text"].startswith("<@U0ANNA> already has this case.")


async def test_a_reply_marked_sent_after_the_case_was_resolved_keeps_it_resolved(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """The hostile order: Anna drafts, Bram resolves the case, then Anna marks her reply as
    sent. The reply is recorded (its line, the first response time) and the case stays
    resolved: it is not reopened behind Bram's back (the state machine keeps RESOLVED)."""
    from tests.cases.test_claim import BRAM

    await _open_draft(bot, slack, "Mijn factuur klopt niet", "CBILLING1")
    await _submit(bot, slack, "We hebben het aangepast!")
    await _click(bot, slack, "case_resolve", BRAM, card=_card(slack, "CBILLING1"))
    values = {"closing_note": {"closing_note": {"type": "plain_text_input", "value": None}}}
    resolve = {**slack.views[-1], "state": {"values": values}}
    assert await bot.submit_view(resolve, user=BRAM[0], name=BRAM[1]) == {}
    await bot.deliver()
    await _click(bot, slack, "draft_mark_sent", ANNA, card=_draft_message(slack, "CBILLING1"))
    url = "https://x.com/acme/status/1"
    view = {
        **slack.views[-1],
        "state": {"values": {"url": {"url": {"type": "url_text_input", "value": url}}}},
    }
    assert await bot.submit_view(view, user=ANNA[0], name=ANNA[1]) == {}
    await bot.deliver()

    notes = [m["text"] for m in slack.thread("CBILLING1", _card(slack, "CBILLING1")["ts"])]
    assert f"Anna's reply was sent: <{url}|view>" in notes
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    assert case.status == "resolved" and case.resolved_at is not None
    assert case.first_response_at is not None


async def test_a_department_that_wants_approval_gets_a_second_pair_of_eyes(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _open_draft(bot, slack, "Storing bij het inloggen", "COUTAGES1")
    await _submit(bot, slack, "We zoeken het uit!")
    draft = _draft_message(slack, "COUTAGES1")
    assert _buttons(draft) == ["draft_edit", "draft_approve"]
    await _click(bot, slack, "draft_approve", ANNA, card=draft)
    assert slack.ephemerals[-1]["text"] == (
        "You wrote or edited this draft: someone else has to approve it."
    )
    await _click(bot, slack, "draft_approve", BRAM, card=draft)
    approved = _draft_message(slack, "COUTAGES1")
    assert "approved by <@U0BRAM>" in approved["blocks"][0]["elements"][0]["text"]
    assert _buttons(approved) == ["draft_edit", "draft_mark_sent", "draft_send"]


async def test_whoever_edited_a_draft_may_not_approve_it(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """Four eyes: Bram rewrites Anna's draft, then approves it himself: refused, as the text
    is his. Someone who wrote none of it approves it."""
    await _open_draft(bot, slack, "Storing bij het inloggen", "COUTAGES1")
    await _submit(bot, slack, "We zoeken het uit!")
    await _click(bot, slack, "draft_edit", BRAM, card=_draft_message(slack, "COUTAGES1"))
    await _submit(bot, slack, "Je krijgt 500 euro van ons.", who=BRAM)
    edited = _draft_message(slack, "COUTAGES1")
    await _click(bot, slack, "draft_approve", BRAM, card=edited)
    assert slack.ephemerals[-1]["text"] == (
        "You wrote or edited this draft: someone else has to approve it."
    )
    assert (
        "approved by" not in _draft_message(slack, "COUTAGES1")["blocks"][0]["elements"][0]["text"]
    )
    await _click(bot, slack, "draft_approve", ANNA, card=edited)  # she wrote it first
    assert slack.ephemerals[-1]["text"].startswith("You wrote or edited this draft")
    await _click(bot, slack, "draft_approve", CARLA, card=edited)
    approved = _draft_message(slack, "COUTAGES1")
    assert "approved by <@U0CARLA>" in approved["blocks"][0]["elements"][0]["text"]


async def test_an_approval_that_names_no_version_approves_nothing(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _open_draft(bot, slack, "Storing bij het inloggen", "COUTAGES1")
    await _submit(bot, slack, "We zoeken het uit!")
    draft = _draft_message(slack, "COUTAGES1")
    forged = json.loads(json.dumps(draft))
    for block in forged["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == "draft_approve":
                element["value"] = element["value"].partition("@")[0]  # "12", no "@version"
    await _click(bot, slack, "draft_approve", BRAM, card=forged)
    assert slack.ephemerals[-1]["text"].startswith("The draft was edited after you saw it")
    assert (
        "approved by" not in _draft_message(slack, "COUTAGES1")["blocks"][0]["elements"][0]["text"]
    )


async def test_an_approval_of_text_that_was_edited_since_is_refused(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _open_draft(bot, slack, "Storing bij het inloggen", "COUTAGES1")
    await _submit(bot, slack, "We zoeken het uit!")
    seen_by_bram = _draft_message(slack, "COUTAGES1")
    bot.clock.advance(seconds=5)
    await _click(bot, slack, "draft_edit", ANNA, card=seen_by_bram)
    await _submit(bot, slack, "We zoeken het uit! Je krijgt 50 euro.")
    # Bram's screen still shows the old text when he clicks.
    await _click(bot, slack, "draft_approve", BRAM, card=seen_by_bram)
    assert slack.ephemerals[-1]["text"].startswith("The draft was edited after you saw it")
    current = _draft_message(slack, "COUTAGES1")
    assert "approved by" not in current["blocks"][0]["elements"][0]["text"]
    await _click(bot, slack, "draft_approve", BRAM, card=current)
    approved = _draft_message(slack, "COUTAGES1")
    assert "approved by <@U0BRAM>" in approved["blocks"][0]["elements"][0]["text"]
    assert "Je krijgt 50 euro" in approved["blocks"][1]["elements"][0]["elements"][0]["text"]


async def test_send_posts_the_reply_to_the_sources_webhook_and_records_its_url(
    bot: BotUnderTest, slack: FakeSlack, receiver: ReplyReceiver
) -> None:
    await _open_draft(bot, slack, "Mijn factuur klopt niet", "CBILLING1")
    await _submit(bot, slack, "Opgelost, sorry!")
    draft = _draft_message(slack, "CBILLING1")

    receiver.fail = True
    await _click(bot, slack, "draft_send", ANNA, card=draft)
    await slack.wait_for(lambda: bool(slack.ephemerals))
    assert slack.ephemerals[-1]["text"].startswith("Sending the reply failed: HTTP 502")
    assert _buttons(_draft_message(slack, "CBILLING1")) == _buttons(draft)  # not marked sent

    receiver.fail = False
    await _click(bot, slack, "draft_send", ANNA, card=draft)
    assert receiver.received == [
        {
            "case_id": 1,
            "source": "x",
            "in_reply_to": "1",
            "visibility": "public",
            "text": "Opgelost, sorry!",
            "customer": {"handle": "anna"},
        }
    ]
    await bot.deliver()
    assert _buttons(_draft_message(slack, "CBILLING1")) == []
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    assert case.first_response_at is not None


async def _sending(
    bot: BotUnderTest, slack: FakeSlack, receiver: ReplyReceiver
) -> tuple[dict[str, Any], asyncio.Task[int]]:
    """Anna's outages draft, approved by Bram, while Anna's Send waits for the platform to
    publish it: the approved message, and the click still under way."""
    await _open_draft(bot, slack, "Storing bij het inloggen", "COUTAGES1")
    await _submit(bot, slack, "We zoeken het uit!")
    await _click(bot, slack, "draft_approve", BRAM, card=_draft_message(slack, "COUTAGES1"))
    approved = _draft_message(slack, "COUTAGES1")
    receiver.answer.clear()  # the platform takes a moment to publish
    sending = asyncio.create_task(bot.click(approved, "draft_send", user=ANNA[0], name=ANNA[1]))
    await asyncio.wait_for(receiver.arrived.wait(), 10)
    return approved, sending


async def test_a_draft_being_sent_cannot_be_edited_and_is_recorded_as_published(
    bot: BotUnderTest, slack: FakeSlack, receiver: ReplyReceiver
) -> None:
    approved, sending = await _sending(bot, slack, receiver)

    # Meanwhile Bram fixes a typo through the Edit button still on the message.
    await _click(bot, slack, "draft_edit", BRAM, card=approved)
    answer = await _submit(bot, slack, "We zoeken het uit! (typo)", who=BRAM)
    receiver.answer.set()
    assert await sending == 200
    await bot.deliver()

    assert answer == {
        "response_action": "errors",
        "errors": {"text": "This draft is being sent right now."},
    }
    assert [r["text"] for r in receiver.received] == ["We zoeken het uit!"]
    async with bot.runtime.engine.connect() as conn:
        draft = (await conn.execute(select(Draft))).one()
        case = (await conn.execute(select(Case))).one()
    # What is recorded as sent is what went out, and the case is answered.
    assert (draft.status, draft.text) == ("sent", "We zoeken het uit!")
    assert case.first_response_at is not None
    assert not [e for e in slack.ephemerals if "approved before" in e["text"]]


async def test_two_agents_clicking_send_at_once_publish_the_reply_once(
    bot: BotUnderTest, slack: FakeSlack, receiver: ReplyReceiver
) -> None:
    import asyncio

    await _open_draft(bot, slack, "Mijn factuur klopt niet", "CBILLING1")
    await _submit(bot, slack, "Opgelost!")
    draft = _draft_message(slack, "CBILLING1")
    await asyncio.gather(
        bot.click(draft, "draft_send", user=ANNA[0], name=ANNA[1]),
        bot.click(draft, "draft_send", user=BRAM[0], name=BRAM[1]),
    )
    assert len(receiver.received) == 1
    (refusal,) = slack.ephemerals
    assert refusal["text"] in (
        "This draft is being sent right now.",
        "This draft was already sent.",
    )


async def test_what_no_modal_of_ours_sends_is_refused_and_nothing_is_stored(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _open_draft(bot, slack, "Mijn factuur klopt niet", "CBILLING1")
    answer = await _submit(bot, slack, "x" * 3001)
    assert list(answer["errors"].values()) == ["At most 3000 characters, please (this is 3001)."]
    forged = {
        **slack.views[-1],
        "private_metadata": "{not json",
        "state": {"values": _values("Hoi")},
    }
    answer = await bot.submit_view(forged, user=ANNA[0], name=ANNA[1])
    assert list(answer["errors"].values()) == [OUT_OF_DATE]  # open, with the text kept
    await _submit(bot, slack, "We hebben het aangepast!")
    await _click(bot, slack, "draft_mark_sent", ANNA, card=_draft_message(slack, "CBILLING1"))
    for link in ("javascript:alert(1)", "data:text/html,hi", "x.com/acme/status/1"):
        view = {
            **slack.views[-1],
            "state": {"values": {"url": {"url": {"type": "url_text_input", "value": link}}}},
        }
        answer = await bot.submit_view(view, user=ANNA[0], name=ANNA[1])
        assert answer["errors"]["url"].startswith("Give the web link"), link
    async with bot.runtime.engine.connect() as conn:
        drafts = list(await conn.execute(select(Draft)))
    assert [(d.text, d.status, d.sent_url) for d in drafts] == [
        ("We hebben het aangepast!", "draft", None)
    ]


async def test_a_draft_modal_naming_another_case_or_sent_by_someone_else_is_refused(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """Two customers; Anna opens a draft on the first. The modal's metadata, edited to name
    the second case (or another draft), or the modal submitted by Bram, stores nothing."""
    await _open_draft(bot, slack, "Mijn factuur klopt niet", "CBILLING1")
    await bot.post_webhook(mention("2", text="Mijn pas doet het niet", author={"handle": "kim"}))
    modal = slack.views[-1]
    sealed = modal["private_metadata"]
    meta, _, mac = sealed.rpartition("|")
    other_case = json.dumps({**json.loads(meta), "case_id": 2})
    for forged, who in (
        (other_case, ANNA),  # another case, unsealed
        (f"{other_case}|{mac}", ANNA),  # another case under the first one's seal
        (sealed, BRAM),  # the right modal, submitted by someone else
    ):
        view = {**modal, "private_metadata": forged, "state": {"values": _values("Hoi")}}
        answer = await bot.submit_view(view, user=who[0], name=who[1])
        assert list(answer["errors"].values()) == [OUT_OF_DATE]
    async with bot.runtime.engine.connect() as conn:
        assert list(await conn.execute(select(Draft))) == []

    # The "mark as sent" modal of Anna's draft, submitted by Bram or naming another draft.
    await _submit(bot, slack, "We hebben het aangepast!")
    await _click(bot, slack, "draft_mark_sent", ANNA, card=_draft_message(slack, "CBILLING1"))
    sent_modal = slack.views[-1]
    # Anna's resolve modal of case 1 carries "1" sealed for her: a case id, not draft 1's.
    await _click(bot, slack, "case_resolve", ANNA, card=_card(slack, "CBILLING1"))
    resolve_seal = slack.views[-1]["private_metadata"]
    assert resolve_seal.startswith("1|")
    link = {"url": {"url": {"type": "url_text_input", "value": "https://x.com/acme/status/1"}}}
    for forged, who in (
        ("2", ANNA),
        (sent_modal["private_metadata"], BRAM),
        (resolve_seal, ANNA),
    ):
        view = {**sent_modal, "private_metadata": forged, "state": {"values": link}}
        answer = await bot.submit_view(view, user=who[0], name=who[1])
        assert list(answer["errors"].values()) == [OUT_OF_DATE]
    async with bot.runtime.engine.connect() as conn:
        drafts = list(await conn.execute(select(Draft)))
    assert [(d.case_id, d.status) for d in drafts] == [(1, "draft")]


async def test_a_template_picked_after_the_case_moved_leaves_the_draft_as_it_is(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """Anna's draft modal is open on a billing case when a colleague moves it to outages: the
    billing template she then picks is not one of outages'. The modal stays as it is (it
    crashed the handler before: Slack got a 500)."""
    await _open_draft(bot, slack, "Mijn factuur klopt niet", "CBILLING1")
    modal = {**slack.views[-1], "id": "V1", "hash": "h1"}
    await _click(bot, slack, "case_forward", ANNA, card=_card(slack, "CBILLING1"))
    moved = _submission(slack, mode="department", department="outages")
    assert await bot.submit_view(moved, user=ANNA[0], name=ANNA[1]) == {}
    status, _ = await bot.interact(
        {
            "type": "block_actions",
            "user": {"id": ANNA[0], "username": "anna", "name": ANNA[1], "team_id": "T_FAKE"},
            "team": {"id": "T_FAKE", "domain": "acme"},
            "container": {"type": "view", "view_id": "V1"},
            "trigger_id": "1.2.3",
            "view": {**modal, "state": {"values": _values("Hoi")}},
            "actions": [
                {
                    "action_id": "template",
                    "block_id": "template",
                    "type": "static_select",
                    "selected_option": {
                        "value": "sorry",
                        "text": {"type": "plain_text", "text": "x"},
                    },
                    "action_ts": "1",
                }
            ],
        }
    )
    assert status == 200
    assert not slack.calls_to("views.update")


async def test_a_draft_edited_after_its_case_moved_is_shown_in_the_new_channel(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _open_draft(bot, slack, "Mijn factuur klopt niet", "CBILLING1")
    await _submit(bot, slack, "We kijken ernaar.")
    await _click(bot, slack, "case_forward", ANNA, card=_card(slack, "CBILLING1"))
    await bot.submit_view(
        _submission(slack, mode="department", department="outages"), user=ANNA[0], name=ANNA[1]
    )
    await bot.deliver()
    await _click(bot, slack, "draft_edit", ANNA, card=_draft_message(slack, "COUTAGES1"))
    await _submit(bot, slack, "We kijken ernaar, excuses voor het wachten.")
    async with bot.runtime.engine.connect() as conn:
        dead = (await conn.execute(select(OutboxJob.kind).where(OutboxJob.status == "dead"))).all()
    assert dead == []
    # The edit updates the draft's message in the new thread: no second one.
    (shown,) = [m for m in slack.posts("COUTAGES1") if m["text"].startswith("Draft reply by")]
    assert "excuses voor het wachten" in json.dumps(shown["blocks"])


def _naming(message: dict[str, Any], draft_id: int) -> dict[str, Any]:
    """`message` as a forged payload would show it: every draft button naming `draft_id`."""
    forged = json.loads(json.dumps(message))
    for block in forged["blocks"]:
        for element in block.get("elements", []):
            if str(element.get("action_id", "")).startswith("draft_"):
                _id, at, version = element["value"].partition("@")
                element["value"] = f"{draft_id}{at}{version}"
    return forged


def _message_of_draft(slack: FakeSlack, text: str, channel: str = "COUTAGES1") -> dict[str, Any]:
    """The newest draft message in `channel` whose draft says `text`."""
    return [
        m
        for m in slack.posts(channel)
        if m["text"].startswith("Draft reply by") and text in json.dumps(m["blocks"])
    ][-1]


async def test_a_draft_button_naming_another_draft_changes_nothing(
    bot: BotUnderTest, slack: FakeSlack, receiver: ReplyReceiver
) -> None:
    """Kim's draft message, its buttons naming Lars's draft (a forged or garbled payload):
    Send, Approve and Edit leave Lars's draft as it is, and the clicker is told."""
    for n, who in ((1, "kim"), (2, "lars")):
        author = {"handle": who, "name": who.capitalize()}
        await bot.post_webhook(mention(str(n), text="Storing bij het inloggen", author=author))
        await bot.deliver()
        await _click(bot, slack, "case_draft_reply", ANNA, card=_card(slack, "COUTAGES1"))
        await _submit(bot, slack, f"Sorry {who}, we zoeken het uit!")
    kims = _message_of_draft(slack, "Sorry kim")
    views_before = len(slack.views)
    for action in ("draft_approve", "draft_edit"):
        await _click(bot, slack, action, BRAM, card=_naming(kims, 2))
        assert slack.ephemerals[-1]["text"] == (
            "This is not this draft's message (any more): use the draft in the case's thread."
            " Nothing was changed."
        )
    assert len(slack.views) == views_before  # no modal opened on Lars's draft
    async with bot.runtime.engine.connect() as conn:
        statuses = dict((await conn.execute(select(Draft.id, Draft.status))).all())
    assert statuses == {1: "draft", 2: "draft"}
    # Kim's own message still works.
    await _click(bot, slack, "draft_approve", BRAM, card=kims)
    async with bot.runtime.engine.connect() as conn:
        statuses = dict((await conn.execute(select(Draft.id, Draft.status))).all())
    assert statuses == {1: "approved", 2: "draft"}
    approved = _message_of_draft(slack, "Sorry kim")
    await _click(bot, slack, "draft_send", ANNA, card=_naming(approved, 2))
    assert receiver.received == []


async def test_a_moved_cases_draft_is_posted_again_in_its_new_thread_and_the_old_one_refused(
    bot: BotUnderTest, slack: FakeSlack, receiver: ReplyReceiver
) -> None:
    """Anna's draft on a billing case; the case moves to outages. The draft appears in the new
    card's thread, where outages approves it; its old message in billing changes nothing (it
    was the only way to the draft, and sent it past the new department's approval)."""
    await _open_draft(bot, slack, "Mijn factuur klopt niet", "CBILLING1")
    await _submit(bot, slack, "Opgelost, sorry!")
    old = _message_of_draft(slack, "Opgelost, sorry!", "CBILLING1")
    await _click(bot, slack, "case_forward", ANNA, card=_card(slack, "CBILLING1"))
    answer = await bot.submit_view(
        _submission(slack, mode="department", department="outages"), user=ANNA[0], name=ANNA[1]
    )
    assert answer == {}
    await bot.deliver()

    new = _message_of_draft(slack, "Opgelost, sorry!")
    assert new["thread_ts"] == _card(slack, "COUTAGES1")["ts"]
    assert _buttons(new) == ["draft_edit", "draft_approve"]  # outages wants approval
    await _click(bot, slack, "draft_send", ANNA, card=old)
    assert slack.ephemerals[-1]["text"].startswith("This is not this draft's message")
    assert receiver.received == []
    await _click(bot, slack, "draft_approve", BRAM, card=new)
    approved = _message_of_draft(slack, "Opgelost, sorry!")
    assert _buttons(approved) == ["draft_edit", "draft_mark_sent", "draft_send"]
    assert len([m for m in slack.posts() if m["text"].startswith("Draft reply by")]) == 2


async def test_marking_a_draft_sent_by_hand_waits_while_send_publishes_it(
    bot: BotUnderTest, slack: FakeSlack, receiver: ReplyReceiver
) -> None:
    """While Send publishes Anna's reply, Bram says he posted it by hand: refused (it was
    recorded as his, and the platform's link was lost to his)."""
    approved, sending = await _sending(bot, slack, receiver)

    await _click(bot, slack, "draft_mark_sent", BRAM, card=approved)
    link = {"url": {"url": {"type": "url_text_input", "value": "https://x.com/bram/status/9"}}}
    answer = await bot.submit_view(
        {**slack.views[-1], "state": {"values": link}}, user=BRAM[0], name=BRAM[1]
    )
    receiver.answer.set()
    assert await sending == 200
    await bot.deliver()

    assert answer == {
        "response_action": "errors",
        "errors": {"url": "This draft is being sent right now."},
    }
    async with bot.runtime.engine.connect() as conn:
        draft = (await conn.execute(select(Draft))).one()
        sent = (
            await conn.execute(select(CaseEvent.actor).where(CaseEvent.kind == "reply_sent"))
        ).all()
    assert draft.status == "sent" and draft.sent_url != "https://x.com/bram/status/9"
    assert [actor for (actor,) in sent] == [ANNA[0]]


async def test_a_draft_left_sending_by_a_send_that_died_can_be_marked_sent_by_hand(
    bot: BotUnderTest, slack: FakeSlack, receiver: ReplyReceiver
) -> None:
    """Send took the draft and never came back (the process died): after five minutes the
    reply can be marked as sent by hand (otherwise it could never leave "sending")."""
    approved, sending = await _sending(bot, slack, receiver)
    sending.cancel()  # the Send that never comes back
    bot.clock.advance(minutes=6)
    await _click(bot, slack, "draft_mark_sent", BRAM, card=approved)
    link = {"url": {"url": {"type": "url_text_input", "value": "https://x.com/bram/status/9"}}}
    answer = await bot.submit_view(
        {**slack.views[-1], "state": {"values": link}}, user=BRAM[0], name=BRAM[1]
    )
    receiver.answer.set()
    assert answer == {}
    async with bot.runtime.engine.connect() as conn:
        draft = (await conn.execute(select(Draft))).one()
    assert (draft.status, draft.sent_url) == ("sent", "https://x.com/bram/status/9")
