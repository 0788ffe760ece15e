"""Two `webcare serve` replicas on one PostgreSQL database, driven from outside as a load
balancer would: every card posted exactly once, and one owner however clicks are spread."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from sqlalchemy import select

from bench._common import CHANNEL_TEXTS
from storage.db import create_engine
from storage.models import Case
from tests.app.test_outage import _post, pg_database  # noqa: F401 (a fixture)
from tests.conftest import PG_URL, click_payload, mention, slack_signed
from tests.fake_slack import FakeSlack
from tests.serve_process import serve_env, webcare_serve

pytestmark = pytest.mark.skipif(not PG_URL, reason="set WEBCARE_TEST_DATABASE_URL")
TEXTS = list(CHANNEL_TEXTS.values())


@asynccontextmanager
async def two_replicas(
    tmp_path: Path, slack: FakeSlack, database_url: str
) -> AsyncIterator[tuple[list[str], aiohttp.ClientSession]]:
    """Two `webcare serve` processes on one database: their URLs, and a client session."""
    env = serve_env(tmp_path, slack, database_url)
    async with (
        webcare_serve(env, tmp_path) as one,
        webcare_serve(env, tmp_path) as two,
        aiohttp.ClientSession() as session,
    ):
        yield [one.url, two.url], session


async def test_two_replicas_post_every_card_exactly_once(
    pg_database: str,  # noqa: F811
    slack: FakeSlack,
    tmp_path: Path,
) -> None:
    async with two_replicas(tmp_path, slack, pg_database) as (replicas, session):
        sent = [
            mention(str(n), text=TEXTS[n % 3], author={"handle": f"klant{n}"}) for n in range(120)
        ]
        answers = await asyncio.gather(
            *(_post(session, replicas[n % 2], body) for n, body in enumerate(sent))
        )
        assert {status for status, _ in answers} == {202}
        await slack.wait_for(lambda: len(_cards(slack)) >= 120, seconds=60)
        await asyncio.sleep(1)  # anything posted twice would show by now
    cards = _cards(slack)
    assert len(cards) == 120 and max(Counter(cards).values()) == 1
    assert {m["channel"] for m in slack.posts()} == {"CWEBCARE1", "CBILLING1", "COUTAGES1"}


def _cards(slack: FakeSlack) -> list[int]:
    """The case id of every card posted (its buttons carry it)."""
    found = []
    for message in slack.posts():
        if message.get("thread_ts") not in (None, message["ts"]):
            continue
        for block in message.get("blocks") or []:
            if block.get("type") == "actions" and block.get("block_id", "").startswith("case:"):
                found.append(int(block["block_id"].split(":")[1]))
    return found


async def test_a_claim_race_spread_over_two_replicas_has_one_owner(
    pg_database: str,  # noqa: F811
    slack: FakeSlack,
    tmp_path: Path,
) -> None:
    async with two_replicas(tmp_path, slack, pg_database) as (replicas, session):
        assert (await _post(session, replicas[0], mention("1")))[0] == 202
        await slack.wait_for_posts(1)
        (card,) = slack.posts("CWEBCARE1")
        clickers = [f"U0AGENT{n:02d}" for n in range(20)]
        statuses = await asyncio.gather(
            *(_click(session, replicas[n % 2], card, user) for n, user in enumerate(clickers))
        )
        assert set(statuses) == {200}
        await slack.wait_for(lambda: len(slack.ephemerals) >= 19, seconds=30)
    engine = create_engine(pg_database)
    try:
        async with engine.connect() as conn:
            (owner,) = (await conn.execute(select(Case.owner_id))).scalars()
    finally:
        await engine.dispose()
    assert owner in clickers
    told = [e["user"] for e in slack.ephemerals]
    assert sorted(told) == sorted(c for c in clickers if c != owner)  # each loser is told


async def _click(session: aiohttp.ClientSession, base: str, card: dict, user: str) -> int:
    body = urlencode(
        {"payload": json.dumps(click_payload(card, "case_claim", user=user, name=user))}
    )
    async with session.post(f"{base}/slack/events", data=body, headers=slack_signed(body)) as r:
        return r.status
