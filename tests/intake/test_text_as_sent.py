"""Text as the platforms send it: HTML passed on by a sender, names and notes with mrkdwn
characters in them, and mentions that do not say their language."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.clock import PinnedClock
from bot.core.config import WebcareConfig, parse_config
from bot.core.config.base import ConfigError
from bot.intake.markup import readable
from storage.models import Mention
from tests.cases.test_claim import ANNA, _card, _resolve
from tests.conftest import CONFIG, BotUnderTest, make_settings, mention, running_bot
from tests.fake_slack import FakeSlack
from tests.shown import quoted, shown, texts


def _config_with_rules(*rules: dict[str, Any]) -> WebcareConfig:
    raw = copy.deepcopy(CONFIG)
    raw["rules"] = [*rules, *raw["rules"]]
    return parse_config(raw, source="test.yml")


DIRECT_DEBIT = {
    "name": "Direct debit",
    "match": {"keywords": ["geïncasseerd", "R&D"]},
    "department": "billing",
}
DUTCH = {"name": "Dutch", "match": {"languages": ["nl"]}, "department": "billing"}


@pytest.fixture
async def ruled_bot(
    engine: AsyncEngine, slack: FakeSlack, clock: PinnedClock
) -> AsyncIterator[BotUnderTest]:
    config = _config_with_rules(DIRECT_DEBIT, DUTCH)
    async with running_bot(make_settings(slack), config, engine, clock) as under_test:
        yield under_test


async def _stored(bot: BotUnderTest, external_id: str) -> Any:
    async with bot.runtime.engine.connect() as conn:
        return (await conn.execute(select(Mention).where(Mention.external_id == external_id))).one()


async def test_html_from_a_sender_is_routed_and_shown_as_text_and_kept_as_sent(
    ruled_bot: BotUnderTest, slack: FakeSlack
) -> None:
    sent = "<p>Er is 2x ge&iuml;ncasseerd &amp; niemand helpt</p><p>Graag <b>snel</b>!</p>"
    status, _ = await ruled_bot.post_webhook(mention("1", text=sent, language="nl"))
    assert status == 202
    row = await _stored(ruled_bot, "1")
    assert row.text == "Er is 2x geïncasseerd & niemand helpt\n\nGraag snel!"  # paragraphs
    assert row.raw_text == sent  # nothing the sender sent is lost
    await ruled_bot.deliver()
    card = slack.last_post("CBILLING1")  # the keyword in the decoded word matched
    assert card is not None and "rule: Direct debit" in shown(card)
    assert quoted(card) == row.text
    assert "&iuml;" not in json.dumps(card) and "<b>" not in json.dumps(card)


@pytest.mark.parametrize(
    "plain", ["AT&T and R&D <3", "a < b and c > d", "press <Enter> twice", "&nbsp without end"]
)
async def test_plain_text_with_angle_brackets_and_ampersands_is_left_as_typed(
    bot: BotUnderTest, slack: FakeSlack, plain: str
) -> None:
    await bot.post_webhook(mention("1", text=plain))
    row = await _stored(bot, "1")
    assert row.text == plain and row.raw_text is None
    await bot.deliver()
    assert quoted(slack.posts("CWEBCARE1")[0]) == plain


async def test_a_sender_cannot_set_the_raw_text_or_claim_a_detected_language(
    bot: BotUnderTest,
) -> None:
    body = {**mention("1", language="en"), "raw_text": "forged", "language_detected": True}
    assert (await bot.post_webhook(body))[0] == 202
    row = await _stored(bot, "1")
    assert row.raw_text is None and row.language == "en" and not row.language_detected


@given(st.text(alphabet=st.characters(blacklist_characters="<&"), max_size=200))
def test_text_without_markup_is_never_changed(text: str) -> None:
    assert readable(text) == text


_WORDS = st.text(alphabet="abcdeéëï", min_size=1, max_size=8)
_TAGS = st.sampled_from(["<p>", "</p>", "<br>", "<br/>", "<b>", "</b>", '<a href="x">', "</a>"])


@given(st.lists(st.tuples(_WORDS, _TAGS), min_size=1, max_size=30))
def test_html_loses_its_tags_and_keeps_every_word(pieces: list[tuple[str, str]]) -> None:
    fragment = "".join(f"{tag}{word} " for word, tag in pieces)
    assert readable(fragment).split() == [word for word, _ in pieces]


async def test_mrkdwn_in_a_customers_name_is_shown_as_typed(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    name = "*Anna* _de_ ~Vries~ `x`"
    await bot.post_webhook(mention("1", author={"handle": "anna_de_vries", "name": name}))
    await bot.deliver()
    card = slack.posts("CWEBCARE1")[0]
    # Rich text is shown literally; in mrkdwn the name would turn bold, italic and struck out.
    assert name in shown(card) and "@anna_de_vries" in shown(card)
    blocks = texts(card)[1:]  # the mrkdwn in the card (not the notification text)
    assert not any(name in text or "anna_de_vries" in text for text in blocks)


async def test_mrkdwn_in_a_closing_note_is_shown_as_typed(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await bot.post_webhook(mention("1"))
    await bot.deliver()
    await _click_claim(bot, slack)
    await _resolve(bot, slack, ANNA, note="*Pas* vervangen_ <!channel>")
    line = slack.thread("CWEBCARE1", _card(slack)["ts"])[-1]
    assert quoted(line) == "*Pas* vervangen_ <!channel>"
    assert line["blocks"][0]["elements"][0]["text"].startswith("Anna resolved this · <!date^")
    assert not any("*Pas*" in text or "<!channel>" in text for text in texts(line)[1:])


async def _click_claim(bot: BotUnderTest, slack: FakeSlack) -> None:
    await bot.click(_card(slack), "case_claim", user=ANNA[0], name=ANNA[1])
    await bot.deliver()


async def test_a_mention_without_a_language_is_detected_and_routed_by_it(
    ruled_bot: BotUnderTest, slack: FakeSlack
) -> None:
    dutch = "Ik kan sinds gisteren niet meer inloggen op mijn rekening, wat is er aan de hand?"
    english = "I have not been able to log in to my account since yesterday, what is going on?"
    await ruled_bot.post_webhook(
        [
            mention("1", text=dutch, author={"handle": "anna"}),
            mention("2", text=english, author={"handle": "bram"}),
            mention("3", text="Hallo?", author={"handle": "carla"}),  # too short to tell
            mention("4", text=english, language="nl", author={"handle": "dirk"}),  # as told
        ]
    )
    rows = {n: await _stored(ruled_bot, n) for n in "1234"}
    assert (rows["1"].language, rows["1"].language_detected) == ("nl", True)
    assert (rows["2"].language, rows["2"].language_detected) == ("en", True)
    assert rows["3"].language is None and not rows["3"].language_detected
    assert (rows["4"].language, rows["4"].language_detected) == ("nl", False)
    await ruled_bot.deliver()
    billing = slack.posts("CBILLING1")
    assert [quoted(card) for card in billing] == [dutch, english]  # routed by language
    assert "Dutch (detected)" in shown(billing[0]) and "rule: Dutch" in shown(billing[0])
    assert "Dutch" in shown(billing[1]) and "(detected)" not in shown(billing[1])
    webcare = {quoted(card): card for card in slack.posts("CWEBCARE1")}
    assert "English (detected)" in shown(webcare[english])
    unsure = shown(webcare["Hallo?"])
    assert "Dutch" not in unsure and "English" not in unsure


def test_the_teams_languages_are_checked_and_default_to_what_the_config_names() -> None:
    assert _config_with_rules().team_languages() == {"en", "nl"}
    german = {"name": "German", "match": {"languages": ["de-AT"]}, "department": "billing"}
    assert _config_with_rules(german).team_languages() == {"en", "nl", "de"}
    raw = {**copy.deepcopy(CONFIG), "languages": ["nl", "fr"]}
    assert parse_config(raw, source="test.yml").team_languages() == {"nl", "fr"}
    with pytest.raises(ConfigError, match="unknown language 'xx'"):
        parse_config({**copy.deepcopy(CONFIG), "languages": ["nl", "xx"]}, source="test.yml")


async def test_the_draft_offers_templates_in_the_customers_language_first(
    engine: AsyncEngine, slack: FakeSlack, clock: PinnedClock
) -> None:
    raw = copy.deepcopy(CONFIG)
    billing = next(d for d in raw["departments"] if d["key"] == "billing")
    billing["templates"] = [
        {"key": "sorry-en", "title": "Apology", "text": "Hi {customer_name}!", "language": "en"},
        {"key": "plain", "title": "Any language", "text": "…"},
        {"key": "sorry-nl", "title": "Excuses", "text": "Hoi {customer_name}!", "language": "nl"},
    ]
    config = parse_config(raw, source="test.yml")
    async with running_bot(make_settings(slack), config, engine, clock) as bot:
        text = "Mijn factuur van deze maand is twee keer afgeschreven, hoe kan dat?"
        await bot.post_webhook(mention("1", text=text))
        await bot.deliver()
        card = slack.last_post("CBILLING1")
        assert card is not None
        await bot.click(card, "case_draft_reply", user=ANNA[0], name=ANNA[1])
        modal = slack.views[-1]
        assert "The customer writes Dutch (detected)" in shown({"blocks": modal["blocks"]})
        (select_block,) = [b for b in modal["blocks"] if b.get("block_id") == "template"]
        options = [o["value"] for o in select_block["element"]["options"]]
        assert options == ["sorry-nl", "plain", "sorry-en"]


async def test_without_language_rules_the_card_detects_the_language_when_it_is_shown(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """Detecting costs as much as reading a mention: the webhook leaves it to the card when no
    rule routes by language."""
    text = "Ik kan sinds gisteren niet meer inloggen op mijn rekening, wat is er aan de hand?"
    await bot.post_webhook(mention("1", text=text))
    row = await _stored(bot, "1")
    assert row.language is None and not row.language_detected
    await bot.deliver()
    assert "Dutch (detected)" in shown(slack.posts("CWEBCARE1")[0])


async def test_html_that_would_stall_a_parser_is_read_in_one_pass(bot: BotUnderTest) -> None:
    """Broken markup that makes html.parser quadratic (CVE-2025-6069): read, stored, and
    nothing the customer wrote is lost (bench/markup.py measures the time)."""
    hostile = "<b>Help</b> " + "<a" * 30_000 + " <!--" * 5_000 + " end"
    status, _ = await bot.post_webhook(mention("1", text=hostile))
    assert status == 202
    row = await _stored(bot, "1")
    assert row.text.startswith("Help <a<a") and row.text.endswith("end")
    assert row.raw_text == hostile


async def test_a_nul_in_html_text_is_stored_on_every_database(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    status, _ = await bot.post_webhook(mention("1", text="<p>hoi\u0000 daar</p>"))
    assert status == 202
    row = await _stored(bot, "1")
    assert row.text == "hoi daar" and row.raw_text == "<p>hoi daar</p>"
    await bot.deliver()
    assert quoted(slack.posts("CWEBCARE1")[0]) == "hoi daar"


@pytest.mark.parametrize("contact", ["http:// x", "https://a b", "https://"])
async def test_a_broken_author_link_is_shown_as_text_not_linked(
    bot: BotUnderTest, slack: FakeSlack, contact: str
) -> None:
    await bot.post_webhook(mention("1", author={"handle": "anna", "name": "Anna", "url": contact}))
    await bot.deliver()
    card = slack.posts("CWEBCARE1")[0]
    assert contact in shown(card) and '"type": "link"' not in json.dumps(card["blocks"][1])
