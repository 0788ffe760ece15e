"""The webhook's fast path keeps the contract: same answers, same errors, every mention once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time

import pytest
from sqlalchemy import func, select, text

from bot.core import background
from storage.db import is_sqlite
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
    assert status == 202 and body["normalised"][0]["field"] == "author.followers"
    lone = json.dumps(mention("2")).replace("Hoi", "\\ud800Hoi")
    status, body = await bot.post_webhook(None, raw=lone.encode())
    assert status == 202 and body["normalised"][0]["field"] == "text"
    status, body = await bot.post_webhook(None, raw=b"[]")
    assert (status, body["error"]) == (400, "the array holds no mentions")
    status, body = await bot.post_webhook(None, raw=b' {"source": "x"')
    assert status == 400 and body["error"].startswith("body is not valid JSON")
    assert await _count(bot, Mention) == 2


async def test_a_signature_with_non_ascii_characters_is_refused(bot: BotUnderTest) -> None:
    status, body = await bot.post_webhook(mention("1"), signature="v1=é")
    assert (status, body["error"]) == (401, "bad signature")
    assert await _count(bot, Mention) == 0


async def test_a_signature_header_that_is_not_utf8_is_refused(bot: BotUnderTest) -> None:
    body = json.dumps(mention("1")).encode()
    request = (
        b"POST /ingest/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"X-Webcare-Timestamp: " + str(int(time.time())).encode() + b"\r\n"
        b"X-Webcare-Signature: v1=\xff\xfe\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", bot.runtime.port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 401") and b"bad signature" in answer
    assert await _count(bot, Mention) == 0


async def test_while_another_process_writes_a_mention_waits_and_is_stored(
    bot: BotUnderTest,
) -> None:
    if not is_sqlite(bot.runtime.engine):
        pytest.skip("SQLite's write lock")
    path = bot.runtime.engine.url.database
    assert path is not None
    other = sqlite3.connect(path, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # e.g. `webcare import` in another process
    post = asyncio.create_task(bot.post_webhook(mention("1")))
    await asyncio.sleep(0.3)
    # The event loop is not stuck behind the lock: the bot still answers.
    async with bot.session.get(f"{bot.url}/metrics") as response:
        assert response.status == 200
    assert not post.done()
    other.commit()
    other.close()
    status, body = await post
    assert (status, body["accepted"]) == (202, 1)
    assert await _count(bot, Mention) == 1


async def test_a_broken_database_is_a_503_and_stores_nothing(bot: BotUnderTest) -> None:
    async with bot.runtime.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE mentions RENAME TO mentions_gone"))
    status, body = await bot.post_webhook(mention("1"))
    assert status == 503 and "nothing was stored" in body["error"]
    async with bot.runtime.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE mentions_gone RENAME TO mentions"))
    assert await _count(bot, Case) == 0


async def test_the_write_ahead_log_is_checkpointed_under_a_stream_of_mentions(
    bot: BotUnderTest,
) -> None:
    if not is_sqlite(bot.runtime.engine):
        pytest.skip("SQLite's write-ahead log")
    for i in range(100):  # one transaction each
        assert (await bot.post_webhook(mention(str(i), author={"handle": f"w{i}"})))[0] == 202
    await asyncio.sleep(0.2)  # the last checkpoint, in the writer thread
    path = bot.runtime.engine.url.database
    assert path is not None
    with contextlib.closing(sqlite3.connect(path)) as db:
        _busy, frames, _done = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    # Within SQLite's own auto-checkpoint size (1,000 pages); 100 commits write far more.
    assert frames < 1000


async def test_one_id_twice_in_a_request_under_two_authors_is_stored_once(
    bot: BotUnderTest,
) -> None:
    first = mention("dup", author={"handle": "anna"})
    second = mention("dup", author={"handle": "someone-else"}, text="Zelfde id, andere naam")
    status, body = await bot.post_webhook([first, second])
    assert status == 202 and (body["accepted"], body["duplicates"]) == (1, 1)
    assert await _count(bot, Mention) == 1


async def test_postgresql_gets_statistics_while_a_new_database_fills_up(bot: BotUnderTest) -> None:
    """A fresh database's planner thinks the tables are empty and reads them whole for every
    batch; the bot analyses them as they grow, so ingest does not slow down."""
    if is_sqlite(bot.runtime.engine):
        pytest.skip("PostgreSQL's planner statistics")
    for batch in range(12):
        body = [mention(f"{batch}-{i}", author={"handle": f"p{batch}-{i}"}) for i in range(100)]
        assert (await bot.post_webhook(body))[0] == 202
    await background.drain()
    async with bot.runtime.engine.connect() as conn:
        analysed = await conn.execute(
            text(
                "SELECT reltuples FROM pg_class WHERE oid IN"
                " (to_regclass('cases'), to_regclass('mentions'))"
            )
        )
        assert [row.reltuples >= 1000 for row in analysed] == [True, True]
