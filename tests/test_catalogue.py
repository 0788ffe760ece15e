"""Every text exists in English and Dutch, with the same placeholders; every key the code
asks for exists; and a Dutch team sees Dutch."""

from __future__ import annotations

import re
import string
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.catalogue import CATALOGUE
from bot.config import WebcareConfig
from bot.runtime import Runtime
from tests.conftest import BotUnderTest, make_settings, mention
from tests.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[1]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_both_languages_say_the_same_things(key: str) -> None:
    texts = CATALOGUE[key]
    assert set(texts) == {"en", "nl"}
    assert _fields(texts["en"]) == _fields(texts["nl"])


def test_every_key_the_code_uses_exists() -> None:
    used: set[str] = set()
    call = re.compile(r"""\b(t|tn|t_or)\(\s*["']([a-z_]+\.[a-z_.]+)["']""")
    for path in [*ROOT.glob("bot/*.py"), *ROOT.glob("handlers/*.py")]:
        for function, key in call.findall(path.read_text()):
            if key.endswith("."):
                continue  # a prefix completed at run time ("report.outcome." + outcome)
            used |= {f"{key}.one", f"{key}.other"} if function == "tn" else {key}
    assert used, "found no catalogue keys: the pattern is broken"
    assert sorted(used - set(CATALOGUE)) == []


@pytest.fixture
async def dutch_bot(
    engine: AsyncEngine, config: WebcareConfig, slack: FakeSlack
) -> AsyncIterator[BotUnderTest]:
    runtime = Runtime(make_settings(slack, webcare_language="nl"), config, engine=engine)
    await runtime.start(run_worker=False)
    async with aiohttp.ClientSession() as session:
        yield BotUnderTest(runtime, session)
    await runtime.stop()


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
    assert "1,2K volgers" in card["blocks"][0]["text"]["text"]


async def test_a_dutch_team_gets_dutch_status_and_reports(
    dutch_bot: BotUnderTest, slack: FakeSlack
) -> None:
    from tests.test_status import _command

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
