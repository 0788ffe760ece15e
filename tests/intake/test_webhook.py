"""POST /ingest/webhook: the contract sources rely on, and nothing half-stored on bad input."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import func, select

from storage.models import Case, Mention, OutboxJob
from tests.conftest import BotUnderTest, mention

README = Path(__file__).resolve().parents[2] / "README.md"


async def _count(bot: BotUnderTest, table: type) -> int:
    async with bot.runtime.engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(table))  # type: ignore[arg-type]


async def _stored_nothing(bot: BotUnderTest) -> bool:
    return all([await _count(bot, t) == 0 for t in (Case, Mention, OutboxJob)])


async def test_a_signed_mention_is_accepted_with_its_case(bot: BotUnderTest) -> None:
    status, body = await bot.post_webhook(mention("100"))
    assert status == 202
    assert body["accepted"] == 1 and body["duplicates"] == 0
    assert len(body["case_ids"]) == 1
    assert await _count(bot, Mention) == 1


async def test_an_array_is_stored_and_duplicates_are_counted_not_stored(
    bot: BotUnderTest,
) -> None:
    batch = [mention(str(i), author={"handle": f"user{i}"}) for i in range(5)]
    status, body = await bot.post_webhook(batch)
    assert (status, body["accepted"], body["duplicates"]) == (202, 5, 0)

    # The source retries the whole batch plus one new mention.
    status, again = await bot.post_webhook([*batch, mention("5", author={"handle": "user5"})])
    assert (status, again["accepted"], again["duplicates"]) == (202, 1, 5)
    assert set(body["case_ids"]) < set(again["case_ids"])
    assert await _count(bot, Mention) == 6


async def test_the_same_mention_twice_in_one_request_is_stored_once(bot: BotUnderTest) -> None:
    status, body = await bot.post_webhook([mention("7"), mention("7")])
    assert (status, body["accepted"], body["duplicates"]) == (202, 1, 1)
    assert await _count(bot, Mention) == 1


async def test_a_customer_writing_again_joins_their_open_case(bot: BotUnderTest) -> None:
    _, first = await bot.post_webhook(mention("1", text="Mijn pas is geblokkeerd"))
    _, second = await bot.post_webhook(mention("2", text="Hallo?? Nog iemand daar?"))
    _, other = await bot.post_webhook(mention("3", author={"handle": "bram"}))
    # "@Anna" on the same platform is the same customer.
    _, third = await bot.post_webhook(mention("4", author={"handle": "@Anna"}))
    assert first["case_ids"] == second["case_ids"] == third["case_ids"]
    assert other["case_ids"] != first["case_ids"]
    # The same handle on another platform is another conversation.
    _, elsewhere = await bot.post_webhook(mention("5", source="mastodon"))
    assert elsewhere["case_ids"] != first["case_ids"]
    assert await _count(bot, Case) == 3


async def test_bad_signature_is_refused_and_nothing_is_stored(bot: BotUnderTest) -> None:
    status, body = await bot.post_webhook(mention(), secret="wrong-secret")
    assert status == 401 and "signature" in body["error"]
    status, body = await bot.post_webhook(mention(), signature="v1=" + "0" * 64)
    assert status == 401
    assert await _stored_nothing(bot)


async def test_stale_or_future_timestamps_are_refused(bot: BotUnderTest) -> None:
    for skew in (-301, 301):
        status, body = await bot.post_webhook(mention(), timestamp=int(time.time()) + skew)
        assert status == 401 and "stale" in body["error"]
    assert await _stored_nothing(bot)


async def test_missing_signature_headers_are_refused(bot: BotUnderTest) -> None:
    async with bot.session.post(f"{bot.url}/ingest/webhook", json=mention()) as response:
        assert response.status == 401
        assert "X-Webcare-Signature" in (await response.json())["error"]
    assert await _stored_nothing(bot)


async def test_invalid_json_is_a_400(bot: BotUnderTest) -> None:
    status, body = await bot.post_webhook(None, raw=b'{"source": "x", ')
    assert status == 400 and "not valid JSON" in body["error"]
    assert body["field"] is None


async def test_a_bad_field_names_where_it_is_and_the_batch_is_not_half_stored(
    bot: BotUnderTest,
) -> None:
    good = mention("1")
    bad = mention("2")
    del bad["external_id"]  # without an id of its own it cannot be a case
    status, body = await bot.post_webhook([good, bad])
    assert status == 400
    assert body["field"] == "[1].external_id"
    assert await _stored_nothing(bot)

    no_source = mention("3")
    del no_source["source"]
    status, body = await bot.post_webhook(no_source)
    assert status == 400 and body["field"] == "source"
    status, body = await bot.post_webhook([])
    assert status == 400 and "no mentions" in body["error"]
    status, body = await bot.post_webhook("just a string")
    assert status == 400
    assert await _stored_nothing(bot)


async def test_a_body_over_one_mebibyte_is_a_413(bot: BotUnderTest) -> None:
    huge = [mention(str(i), text="x" * 30_000) for i in range(40)]
    status, body = await bot.post_webhook(huge)
    assert status == 413 and "bytes" in body["error"]
    assert len(json.dumps(huge)) > 1024 * 1024
    assert await _stored_nothing(bot)


async def test_concurrent_requests_each_get_their_own_answer(bot: BotUnderTest) -> None:
    import asyncio

    results = await asyncio.gather(
        *(bot.post_webhook(mention(str(i), author={"handle": f"c{i}"})) for i in range(40))
    )
    assert all(status == 202 and body["accepted"] == 1 for status, body in results)
    assert len({body["case_ids"][0] for _s, body in results}) == 40
    assert await _count(bot, Mention) == 40


async def test_the_readme_contact_form_example_works_as_written(bot: BotUnderTest) -> None:
    import asyncio
    import re

    from tests.conftest import WEBHOOK_SECRET

    readme = await asyncio.to_thread(README.read_text)
    (code,) = [
        b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "send_to_webcare" in b
    ]
    namespace: dict[str, object] = {}
    exec(code, namespace)  # the README's own example, unchanged
    send = namespace["send_to_webcare"]
    answer = await asyncio.to_thread(
        send,
        "<abc@mail.example>",
        "anna@example.nl",
        "Anna",
        "Mijn pas is kwijt",  # type: ignore[operator]
        WEBHOOK_SECRET,
        f"{bot.url}/ingest/webhook",
    )
    assert answer["accepted"] == 1
    async with bot.runtime.engine.connect() as conn:
        mention = (await conn.execute(select(Mention))).one()
    assert (mention.source, mention.private, mention.author_handle) == (
        "email",
        True,
        "anna@example.nl",
    )


async def test_values_that_only_grow_too_long_after_normalising_are_kept_short(
    bot: BotUnderTest,
) -> None:
    status, body = await bot.post_webhook(mention("1", author={"handle": "ß" * 150}))
    assert status == 202  # folded to 300 characters, kept as the first 200
    long_url = "https://example.com/" + "a" * 2100
    status, body = await bot.post_webhook(mention("2", url=long_url))
    assert status == 202 and body["normalised"][0]["field"] == "url"
    status, body = await bot.post_webhook(mention("3\x00", text="nul in the id"))
    assert status == 202
