"""Every text exists in English and Dutch, with the same placeholders; every key the code
asks for exists; and a Dutch team sees Dutch."""

from __future__ import annotations

import asyncio
import re
import string
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.config import WebcareConfig
from bot.core.i18n import LANGUAGES, catalogue_path
from tests.conftest import BotUnderTest, make_settings, mention, running_bot
from tests.fake_slack import FakeSlack
from tests.shown import shown

ROOT = Path(__file__).resolve().parents[2]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _catalogue(lang: str) -> dict[str, tuple[str, ...]]:
    """Each key's text (a plural: its forms), as the .po file has it."""
    with catalogue_path(lang).open("rb") as po:  # type: ignore[arg-type]
        catalog = read_po(po)
    assert not catalog.fuzzy and all(not m.fuzzy for m in catalog)
    return {
        (m.id if isinstance(m.id, str) else m.id[0]): (
            (m.string,) if isinstance(m.string, str) else tuple(m.string)
        )
        for m in catalog
        if m.id
    }


CATALOGUES = {lang: _catalogue(lang) for lang in LANGUAGES}
KEYS = sorted(CATALOGUES["en"])


def test_both_languages_have_every_text() -> None:
    assert len(KEYS) > 200
    assert sorted(CATALOGUES["nl"]) == KEYS


@pytest.mark.parametrize("key", KEYS)
def test_both_languages_say_the_same_things(key: str) -> None:
    english, dutch = CATALOGUES["en"][key], CATALOGUES["nl"][key]
    assert len(english) == len(dutch) and all(english + dutch), "a form is missing"
    for one, other in zip(english, dutch, strict=True):  # the same form in both languages
        assert _fields(one) == _fields(other)


def test_every_key_the_code_uses_exists() -> None:
    used: dict[str, set[str]] = {"t": set(), "tn": set()}
    call = re.compile(r"""\b(t|tn|t_or)\(\s*["']([a-z_]+\.[a-z_.]+)["']""")
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/*.py")]:
        for function, key in call.findall(path.read_text()):
            if key.endswith("."):
                continue  # a prefix completed at run time ("report.outcome." + outcome)
            used["tn" if function == "tn" else "t"].add(key)
    assert len(used["t"]) > 100 and used["tn"], "found too few keys: the pattern is broken"
    for lang, texts in CATALOGUES.items():
        assert sorted(used["t"] - set(texts)) == [], lang
        plurals = {key for key, forms in texts.items() if len(forms) == 2}
        assert sorted(used["tn"] - plurals) == [], lang


@pytest.fixture
async def dutch_bot(
    engine: AsyncEngine, config: WebcareConfig, slack: FakeSlack
) -> AsyncIterator[BotUnderTest]:
    async with running_bot(make_settings(slack, webcare_language="nl"), config, engine) as bot:
        yield bot


async def test_a_dutch_team_gets_dutch_cards(dutch_bot: BotUnderTest, slack: FakeSlack) -> None:
    await dutch_bot.post_webhook(mention("1", text="Mijn factuur klopt niet"))
    await dutch_bot.deliver()
    card = slack.last_post("CBILLING1")
    assert card is not None
    assert card["text"].startswith("Nieuwe vermelding op X van @anna")
    buttons = [
        el["text"]["text"] for b in card["blocks"] if b["type"] == "actions" for el in b["elements"]
    ]
    assert buttons == ["Oppakken", "Doorsturen", "Antwoord opstellen", "Opvolgen", "Afhandelen"]
    assert "1,2K volgers" in shown(card)


async def test_a_dutch_team_gets_dutch_status_and_reports(
    dutch_bot: BotUnderTest, slack: FakeSlack
) -> None:
    from tests.insight.test_status import _command

    await dutch_bot.post_webhook(mention("1", text="Mijn factuur klopt niet"))
    await dutch_bot.deliver()
    status = await _command(dutch_bot, "status billing")
    assert status["blocks"][0]["text"]["text"] == "Hoe we ervoor staan"
    assert "*Billing* — nieuw 1 · opgepakt 0" in status["blocks"][1]["text"]["text"]
    await _command(dutch_bot, "report today", response_url=slack.response_url())
    (report,) = slack.responses
    assert report["blocks"][0]["text"]["text"] == "Rapport: vandaag"
    assert "Binnen de SLA beantwoord" in report["blocks"][2]["text"]["text"]
    unknown = await _command(dutch_bot, "rapport")
    assert unknown["text"] == "`/webcare rapport` ken ik niet. Probeer `/webcare help`."


@pytest.fixture
async def mixed_bot(
    engine: AsyncEngine, config: WebcareConfig, slack: FakeSlack
) -> AsyncIterator[BotUnderTest]:
    """An English team that answers each person in their own Slack language."""
    async with running_bot(make_settings(slack, webcare_user_language=True), config, engine) as bot:
        yield bot


async def test_each_person_is_answered_in_their_slack_language_the_channel_in_the_teams(
    mixed_bot: BotUnderTest, slack: FakeSlack
) -> None:
    from tests.insight.test_status import _command

    slack.users["U0ANNA"] = {"locale": "nl-NL"}
    slack.users["U0BRAM"] = {"locale": "de-DE"}  # a language the bot does not speak
    await mixed_bot.post_webhook(mention("1", text="Mijn factuur klopt niet"))
    await mixed_bot.deliver()
    # The first answer to someone new never waits for Slack: the team's language.
    first = await _command(mixed_bot, "status billing")
    assert first["blocks"][0]["text"]["text"] == "Where we stand"
    await slack.wait_for(lambda: len(slack.calls_to("users.info")) >= 1)
    assert slack.calls_to("users.info")[0].args["include_locale"] in (True, "true", "1")
    await _until(lambda: _learnt(mixed_bot, "U0ANNA"))
    status = await _command(mixed_bot, "status billing")
    assert status["blocks"][0]["text"]["text"] == "Hoe we ervoor staan"
    await _command(mixed_bot, "status billing", user="U0BRAM")
    await _until(lambda: _learnt(mixed_bot, "U0BRAM"))
    bram = await _command(mixed_bot, "status billing", user="U0BRAM")
    assert bram["blocks"][0]["text"]["text"] == "Where we stand"
    card = slack.last_post("CBILLING1")
    assert card is not None and card["text"].startswith("New mention on X")


async def _until(condition: Callable[[], bool], seconds: float = 5) -> None:
    """Wait for something the bot does after Slack answered (no further call to wait on)."""
    for _ in range(int(seconds * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("the bot did not get there")


def _learnt(bot: BotUnderTest, user: str) -> bool:
    languages = bot.runtime.services.languages
    assert languages is not None
    return languages.knows(user)


async def test_a_forwarded_case_reaches_the_person_in_their_language(
    mixed_bot: BotUnderTest, slack: FakeSlack
) -> None:
    from tests.cases.test_forward import _forward_to_petra

    slack.users["UBILLING1"] = {"locale": "nl-NL"}
    languages = mixed_bot.runtime.services.languages
    assert languages is not None
    languages.lang_for("UBILLING1")  # Petra used the bot before: her language is known
    await _until(lambda: languages.knows("UBILLING1"))
    dm = await _forward_to_petra(mixed_bot, slack)
    assert dm["blocks"][0]["text"]["text"].startswith("*Anna heeft case #1 in <#CBILLING1>")
    card = slack.last_post("CBILLING1")
    assert card is not None and "Forwarded to <@UBILLING1>" in str(card["blocks"])


async def test_when_slack_cannot_say_a_language_it_is_not_asked_on_every_click(
    mixed_bot: BotUnderTest, slack: FakeSlack
) -> None:
    from tests.insight.test_status import _command

    slack.fail_next("users.info", status=200, error="ratelimited", count=1)
    for _ in range(5):
        answer = await _command(mixed_bot, "status billing")
        assert answer["blocks"][0]["text"]["text"] == "Where we stand"  # the team's language
        await asyncio.sleep(0.02)
    assert len([c for c in slack.calls if c.method == "users.info"]) == 1


async def test_without_permission_to_read_profiles_the_team_language_is_used_quietly(
    mixed_bot: BotUnderTest, slack: FakeSlack
) -> None:
    from tests.insight.test_status import _command

    slack.fail_next("users.info", status=200, error="missing_scope", count=1)
    await _command(mixed_bot, "status", user="U0ANNA")
    languages = mixed_bot.runtime.services.languages
    assert languages is not None
    await _until(lambda: not languages.enabled)
    await _command(mixed_bot, "status", user="U0BRAM")  # someone new: nothing asked
    assert len([c for c in slack.calls if c.method == "users.info"]) == 1
