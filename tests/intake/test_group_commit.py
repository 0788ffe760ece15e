"""Group commit: under load requests wait a moment to share a transaction; alone, never."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.intake import ingest
from tests.conftest import BotUnderTest, mention


async def _transactions(bot: BotUnderTest) -> float:
    """Ingest transactions committed so far, as /metrics tells an operator."""
    async with bot.session.get(f"{bot.url}/metrics") as response:
        found = re.search(r"^webcare_ingest_batch_size_count (\S+)$", await response.text(), re.M)
    return float(found.group(1)) if found else 0.0


async def _post_one_by_one(bot: BotUnderTest, prefix: str, count: int) -> list[int]:
    """`count` requests, each started a few milliseconds after the one before."""
    posts = []
    for i in range(count):
        author = {"handle": f"{prefix}{i}"}
        posts.append(asyncio.create_task(bot.post_webhook(mention(f"{prefix}{i}", author=author))))
        await asyncio.sleep(0.005)
    return [status for status, _ in await asyncio.gather(*posts)]


async def _post_at_once(bot: BotUnderTest, prefix: str, count: int) -> list[tuple[int, int]]:
    """`count` requests sent together, each by a new customer: (status, accepted) of each."""
    posts = [
        bot.post_webhook(mention(f"{prefix}{i}", author={"handle": f"{prefix}{i}"}))
        for i in range(count)
    ]
    return [(status, body["accepted"]) for status, body in await asyncio.gather(*posts)]


async def test_under_load_a_trickle_of_requests_shares_one_commit(
    bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No time limit on the wait: only as many requests as the last transaction held end it.
    monkeypatch.setattr(ingest, "LINGER_S", 60.0)
    assert await _post_at_once(bot, "a", 6) == [(202, 1)] * 6
    before = await _transactions(bot)
    async with asyncio.timeout(30):
        statuses = await _post_one_by_one(bot, "b", 6)
    assert statuses == [202] * 6
    assert await _transactions(bot) - before == 1  # six requests, one commit


async def test_a_lone_request_is_stored_at_once(
    bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Were a lone request held for the linger, these would wait a minute each.
    monkeypatch.setattr(ingest, "LINGER_S", 60.0)
    async with asyncio.timeout(30):
        for i in range(3):
            status, body = await bot.post_webhook(mention(f"c{i}", author={"handle": f"c{i}"}))
            assert (status, body["accepted"]) == (202, 1)


async def test_when_the_load_ends_the_last_requests_are_stored_after_the_linger(
    bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "LINGER_S", 0.05)
    assert await _post_at_once(bot, "d", 8) == [(202, 1)] * 8
    # Fewer than the last transaction held: they wait out the linger, then go in together.
    before = await _transactions(bot)
    assert await _post_at_once(bot, "e", 2) == [(202, 1)] * 2
    assert await _transactions(bot) - before == 1
