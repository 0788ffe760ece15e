"""The webhook's fast path keeps the contract: same answers, same errors, every mention once."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import func, select

from storage.models import Case, Mention, OutboxJob
from tests.conftest import BotUnderTest, mention


async def _count(bot: BotUnderTest, table: type) -> int:
    async with bot.runtime.engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(table))  # type: ignore[arg-type]


async def test_a_large_array_threads_every_customer_into_one_case(bot: BotUnderTest) -> None:
    # 300 mentions by 120 customers, some writing twice or three times, in one request.
    batch = [mention(str(i), author={"handle": f"customer{i % 120}"}) for i in range(300)]
    status, body = await bot.post_webhook(batch)
    assert (status, body["accepted"], body["duplicates"]) == (202, 300, 0)
    assert len(body["case_ids"]) == 120
    assert await _count(bot, Case) == 120
    async with bot.runtime.engine.connect() as conn:
        counts = (await conn.execute(select(Case.mention_count).order_by(Case.id))).scalars()
        assert sorted(set(counts)) == [2, 3]
        # One card per case, and a thread line for each later mention.
        kinds = (await conn.execute(select(OutboxJob.kind))).scalars().all()
    assert kinds.count("post_card") == 120 and kinds.count("post_mention") == 180


async def test_concurrent_requests_of_one_new_customer_share_one_case(bot: BotUnderTest) -> None:
    # Requests that arrive together are stored in one transaction: still one case.
    results = await asyncio.gather(
        *(bot.post_webhook(mention(str(i), author={"handle": "dana"})) for i in range(10)),
        bot.post_webhook(mention("3", author={"handle": "dana"})),  # and a retry
    )
    assert all(status == 202 for status, _ in results)
    assert len({body["case_ids"][0] for _, body in results}) == 1
    assert sum(body["duplicates"] for _, body in results) == 1
    assert await _count(bot, Mention) == 10
    assert await _count(bot, Case) == 1


async def test_the_answer_is_exactly_the_json_of_the_contract(bot: BotUnderTest) -> None:
    body = json.dumps(mention("1")).encode()
    status, answer = await bot.post_webhook(None, raw=body)
    assert status == 202 and answer == {"accepted": 1, "duplicates": 0, "case_ids": [1]}
    status, answer = await bot.post_webhook([mention("1"), mention("2"), mention("1")])
    assert answer == {"accepted": 1, "duplicates": 2, "case_ids": [1]}


async def test_json_the_fast_parser_refuses_gets_the_usual_answer(bot: BotUnderTest) -> None:
    # Valid for Python's json module, not for the one-step parser: both are told apart as before.
    nan = json.dumps(mention("1")).replace('"followers": 1200', '"followers": NaN')
    status, body = await bot.post_webhook(None, raw=nan.encode())
    assert (status, body["field"]) == (400, "author.followers")
    lone = json.dumps(mention("2")).replace("Hoi", "\\ud800Hoi")
    status, body = await bot.post_webhook(None, raw=lone.encode())
    assert status == 400 and body["field"] == "text"
    status, body = await bot.post_webhook(None, raw=b"[]")
    assert (status, body["error"]) == (400, "the array holds no mentions")
    status, body = await bot.post_webhook(None, raw=b' {"source": "x"')
    assert status == 400 and body["error"].startswith("body is not valid JSON")
    assert await _count(bot, Mention) == 0


async def test_a_signature_with_non_ascii_characters_is_refused(bot: BotUnderTest) -> None:
    status, body = await bot.post_webhook(mention("1"), signature="v1=é")
    assert (status, body["error"]) == (401, "bad signature")
    assert await _count(bot, Mention) == 0
