"""When the database goes away: clear 503s, a quiet log, and recovery without anyone's help.
Also: one `webcare serve` per SQLite file."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.config import WebcareConfig
from bot.intake import webhook
from storage.db import create_engine
from tests.conftest import (
    PG_URL,
    make_settings,
    mention,
    running_bot,
    webhook_signed,
)
from tests.fake_network import TcpProxy
from tests.fake_slack import FakeSlack
from tests.scratch_databases import fresh_postgres_database
from tests.serve_process import serve_env, webcare_serve

needs_pg = pytest.mark.skipif(not PG_URL, reason="set WEBCARE_TEST_DATABASE_URL")


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database of its own (a `webcare serve` process cannot be
    pointed at a schema); yields its URL."""
    assert PG_URL
    async with fresh_postgres_database(PG_URL) as url:
        yield url


@pytest.fixture
async def proxy(pg_database: str) -> AsyncIterator[TcpProxy]:
    url = make_url(pg_database)
    async with TcpProxy(url.host or "127.0.0.1", url.port or 5432).running() as running:
        yield running


def _through(proxy: TcpProxy, database_url: str) -> str:
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


async def _post(session: aiohttp.ClientSession, base: str, body: object) -> tuple[int, dict]:
    raw = json.dumps(body).encode()
    headers = webhook_signed(raw)
    async with session.post(f"{base}/ingest/webhook", data=raw, headers=headers) as response:
        return response.status, await response.json()


async def _health(session: aiohttp.ClientSession, base: str) -> tuple[int, dict]:
    async with session.get(f"{base}/healthz") as response:
        return response.status, await response.json()


@needs_pg
async def test_the_webhook_answers_503_while_the_database_is_away_and_recovers_by_itself(
    proxy: TcpProxy,
    pg_database: str,
    config: WebcareConfig,
    slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = create_engine(_through(proxy, pg_database))
    caplog.set_level(logging.INFO)
    try:
        async with running_bot(make_settings(slack), config, engine) as bot:
            assert (await bot.post_webhook(mention("1")))[0] == 202

            proxy.set("refuse")
            for n in range(2, 6):  # the database refuses connections
                status, body = await bot.post_webhook(mention(str(n)))
                assert status == 503, body  # never 202, never a 500
                assert body["error"].startswith("database unavailable")
            status, health = await _health(bot.session, bot.url)
            assert status == 503 and health["database"].startswith("down")

            proxy.set("blackhole")  # accepted, never answered: the sender is not left hanging
            async with asyncio.timeout(20):
                status, body = await bot.post_webhook(mention("6"))
            assert status == 503 and body["error"].startswith("database unavailable")

            proxy.set("pass")
            status, body = await bot.post_webhook(mention("7"))
            assert status == 202 and body["accepted"] == 1
            assert (await _health(bot.session, bot.url))[0] == 200
    finally:
        await engine.dispose()
    outage = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(outage) == 1 and outage[0].exc_info is None  # one line, no traceback flood
    assert sum("database available again" in r.getMessage() for r in caplog.records) == 1
    assert not [r for r in caplog.records if r.exc_info]


@needs_pg
async def test_serve_started_while_the_database_is_down_serves_503_and_starts_when_it_is_back(
    proxy: TcpProxy, pg_database: str, slack: FakeSlack, tmp_path: Path
) -> None:
    proxy.set("refuse")
    env = serve_env(tmp_path, slack, _through(proxy, pg_database))
    async with webcare_serve(env, tmp_path) as serving, aiohttp.ClientSession() as session:
        status, health = await _health(session, serving.url)
        assert status == 503 and health["database"].startswith("down")
        assert (await _post(session, serving.url, mention("1")))[0] == 503

        proxy.set("pass")
        async with asyncio.timeout(30):
            while (await _health(session, serving.url))[0] != 200:  # noqa: ASYNC110 (over HTTP)
                await asyncio.sleep(0.2)
        status, body = await _post(session, serving.url, mention("2"))
        assert status == 202 and body["accepted"] == 1
        await slack.wait_for_posts(1)  # its outbox started: the card reaches Slack
        await serving.read_until(rb"database available again")
    assert serving.log.count(b"database unavailable") == 1
    assert b"Traceback" not in serving.log


async def test_a_second_serve_on_the_same_sqlite_file_is_refused_with_the_reason(
    slack: FakeSlack, tmp_path: Path
) -> None:
    env = serve_env(tmp_path, slack, f"sqlite+aiosqlite:///{tmp_path / 'webcare.db'}")
    async with webcare_serve(env, tmp_path) as first:
        async with webcare_serve(env, tmp_path, wait_listening=False) as second:
            async with asyncio.timeout(30):
                assert await second.process.wait() == 2
            await second.stop()
            message = second.log.decode()
        assert "another `webcare serve`" in message and str(first.process.pid) in message
        assert "PostgreSQL" in message
        assert first.process.returncode is None  # the first one serves on
    # The lock goes with the process: a new one starts once the first has stopped.
    async with webcare_serve(env, tmp_path) as again:
        assert again.port


async def test_no_warning_about_an_unused_token_at_start(slack: FakeSlack, tmp_path: Path) -> None:
    env = serve_env(tmp_path, slack, f"sqlite+aiosqlite:///{tmp_path / 'webcare.db'}")
    async with webcare_serve(env, tmp_path) as serving:
        pass
    assert b"will be unused" not in serving.log
    assert b"WARNING" not in serving.log, serving.log.decode()


async def test_a_store_that_does_not_finish_in_time_answers_503_and_the_retry_is_a_duplicate(
    engine: AsyncEngine,
    config: WebcareConfig,
    slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Another process holds SQLite's write lock longer than the webhook waits: the sender gets
    its 503 instead of a hanging request, and the mention, stored once the lock is free, is
    answered as a duplicate when the sender tries again."""
    if engine.dialect.name != "sqlite":
        pytest.skip("holds SQLite's write lock")
    monkeypatch.setattr(webhook, "STORE_TIMEOUT", 0.2)
    async with running_bot(make_settings(slack), config, engine) as bot:
        other = sqlite3.connect(tmp_path / "webcare.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            status, body = await bot.post_webhook([mention("1"), mention("2")])
            assert status == 503 and body["error"].startswith("database unavailable")
        finally:
            other.execute("ROLLBACK")
            other.close()
        for _ in range(200):  # the first try's transaction goes ahead once the lock is free
            status, body = await bot.post_webhook([mention("1"), mention("2")])
            if status == 202 and body["duplicates"] == 2:
                break
            await asyncio.sleep(0.05)
        assert status == 202 and body == {"accepted": 0, "duplicates": 2, "case_ids": [1]}
