"""Two `webcare serve` replicas on one PostgreSQL database under faults, judged by what the fake
Slack received: a replica killed or stopped mid-delivery, and Slack failing mid-burst."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from bench._common import CHANNEL_TEXTS
from bot.app.runtime import WEB_SHUTDOWN_TIMEOUT
from bot.delivery.worker import IN_FLIGHT, LEASE, STOP_GRACE
from storage.db import create_engine
from storage.models import ChannelLease, Mention, OutboxJob
from tests.app.test_outage import _post, pg_database  # noqa: F401 (a fixture)
from tests.app.test_replicas import TEXTS, _cards, two_replicas
from tests.conftest import PG_URL, mention
from tests.fake_slack import FakeSlack
from tests.serve_process import serve_env, webcare_serve

pytestmark = pytest.mark.skipif(not PG_URL, reason="set WEBCARE_TEST_DATABASE_URL")
SLACK_FAULT_SECONDS = 10.0  # Slack failing this long mid-burst (each test stays under 30 s)


def _mentions(count: int, start: int = 0) -> list[dict]:
    """Mentions of different customers, spread over the three department channels, written
    just now: the serve processes run on the real clock, as in production (a fixed date would
    put their deadlines in the past and add warnings to the queues)."""
    now = datetime.now(UTC).isoformat()
    return [
        mention(str(n), text=TEXTS[n % 3], author={"handle": f"klant{n}"}, created_at=now)
        for n in range(start, start + count)
    ]


def _exactly_once(slack: FakeSlack, expected: int) -> None:
    """`expected` cards, each once, and no channel message (thread lines too) twice."""
    cards = _cards(slack)
    doubled = [case for case, times in Counter(cards).items() if times > 1]
    assert not doubled, f"cards posted twice: {doubled}"
    assert len(cards) == expected
    # Every post names its outbox job. DMs are not looked for before a retry (that needs
    # im:history; a repeated DM is harmless), so only channel messages count here.
    jobs = Counter(
        m["metadata"]["event_payload"]["job_id"]
        for m in slack.posts()
        if m["channel"].startswith("C") and m.get("metadata")
    )
    assert [job for job, times in jobs.items() if times > 1] == []


async def _leases(database_url: str) -> dict[str, str]:
    """Which worker holds which channel now."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(ChannelLease.channel, ChannelLease.holder))
            return {channel: holder for channel, holder in rows}
    finally:
        await engine.dispose()


async def _unsent_cards(database_url: str) -> dict[str, int]:
    """New cards not done, by status (later thread lines may still be on their way)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(OutboxJob.status, func.count())
                .where(OutboxJob.kind == "post_card", OutboxJob.status != "sent")
                .group_by(OutboxJob.status)
            )
            return {status: n for status, n in rows}
    finally:
        await engine.dispose()


async def test_a_killed_replicas_channels_are_taken_over_within_seconds(
    pg_database: str,  # noqa: F811
    slack: FakeSlack,
    tmp_path: Path,
) -> None:
    # Slack takes each card at once but answers late: SIGKILL lands with posts in flight.
    slack.set_delay(0.2, methods={"chat.postMessage"})
    env = serve_env(
        tmp_path, slack, pg_database, WEBCARE_CHANNEL_INTERVAL="0.1", WEBCARE_DIGEST_AFTER="0"
    )
    async with webcare_serve(env, tmp_path) as doomed, aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(_post(session, doomed.url, m) for m in _mentions(60)))
        assert {status for status, _ in answers} == {202}
        await slack.wait_for(lambda: len(_cards(slack)) >= 3, seconds=10)
        (doomed_holder,) = set((await _leases(pg_database)).values())
        # The survivor starts while the first one drains the channels.
        async with webcare_serve(env, tmp_path) as survivor:
            held = await _leases(pg_database)
            doomed.process.kill()
            killed_at = time.monotonic()
            await doomed.process.wait()
            orphaned = {channel for channel, holder in held.items() if holder == doomed_holder}
            assert orphaned, "the killed replica held no channel: nothing to take over"
            await slack.wait_for(lambda: len(_cards(slack)) >= 60, seconds=30)
            first_after = {
                channel: min(
                    c.at
                    for c in slack.calls
                    if c.args.get("channel") == channel
                    and c.method == "chat.postMessage"
                    and c.at > killed_at
                )
                for channel in orphaned
            }
            took_over = max(first_after.values()) - killed_at
            assert survivor.process.returncode is None

            # The cards the killed one had in flight are settled once their Slack calls must
            # have ended (IN_FLIGHT): found in Slack, not posted again.
            for _ in range(int(IN_FLIGHT.total_seconds() + 10) * 2):
                if not await _unsent_cards(pg_database):
                    break
                await asyncio.sleep(0.5)
            # The killed one comes back: all is sent, it posts nothing again.
            cards_before = len(_cards(slack))
            async with webcare_serve(env, tmp_path):
                await asyncio.sleep(2)
            assert len(_cards(slack)) == cards_before
    print(f"took over {sorted(orphaned)} after {took_over:.1f}s")
    assert took_over < LEASE.total_seconds() + 2  # within a lease (6 s), not a minute
    _exactly_once(slack, 60)
    assert await _unsent_cards(pg_database) == {}


async def test_sigterm_during_a_burst_stores_what_it_acked_and_hands_over_its_posts(
    pg_database: str,  # noqa: F811
    slack: FakeSlack,
    tmp_path: Path,
) -> None:
    slack.set_delay(0.1, methods={"chat.postMessage"})  # posts are in flight at the signal
    env = serve_env(
        tmp_path, slack, pg_database, WEBCARE_CHANNEL_INTERVAL="0.05", WEBCARE_DIGEST_AFTER="0"
    )
    sent = _mentions(150)
    async with (
        webcare_serve(env, tmp_path) as other,
        aiohttp.ClientSession() as session,
        webcare_serve(env, tmp_path) as stopping,
    ):
        acked_by_stopping: list[str] = []
        refused: list[dict] = []
        gate = asyncio.Semaphore(4)  # a steady stream
        halfway, signalled, exited = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def send(n: int, body: dict) -> None:
            if n >= len(sent) // 3:  # the rest of the burst: as the signal lands, and after
                await (signalled if n % 2 else exited).wait()
            async with gate:
                try:
                    status, _ = await _post(session, stopping.url, body)
                except aiohttp.ClientError:
                    status = 0
            if status == 202:
                acked_by_stopping.append(body["external_id"])
                if len(acked_by_stopping) == len(sent) // 3:
                    halfway.set()
            else:  # as a load balancer would: the other replica takes it
                refused.append(body)

        burst = asyncio.gather(*(send(n, body) for n, body in enumerate(sent)))
        await halfway.wait()
        await slack.wait_for(lambda: len(_cards(slack)) >= 3, seconds=15)
        stopping.process.terminate()
        signalled.set()
        started = time.monotonic()
        code = await stopping.process.wait()
        took = time.monotonic() - started
        exited.set()
        await burst
        for body in refused:
            assert (await _post(session, other.url, body))[0] == 202
        await slack.wait_for(lambda: len(_cards(slack)) >= 150, seconds=25)
        await asyncio.sleep(0.5)  # anything posted twice would show by now
    print(f"stopped {took:.1f}s after SIGTERM; acked {len(acked_by_stopping)}/{len(sent)}")
    assert code == 0 and took < STOP_GRACE + WEB_SHUTDOWN_TIMEOUT
    assert b"Traceback" not in stopping.log
    assert refused  # what came after the exit went to the other replica
    engine = create_engine(pg_database)
    try:
        async with engine.connect() as conn:
            stored = set((await conn.execute(select(Mention.external_id))).scalars())
    finally:
        await engine.dispose()
    assert set(acked_by_stopping) <= stored  # every 202 it gave was kept
    _exactly_once(slack, 150)
    assert await _unsent_cards(pg_database) == {}


@pytest.mark.parametrize("fault", ["5xx", "no answer"])
async def test_slack_failing_mid_burst_loses_nothing_and_posts_nothing_twice(
    fault: str,
    pg_database: str,  # noqa: F811
    slack: FakeSlack,
    tmp_path: Path,
) -> None:
    async with two_replicas(tmp_path, slack, pg_database) as (replicas, session):
        answers = await asyncio.gather(
            *(_post(session, replicas[n % 2], m) for n, m in enumerate(_mentions(90)))
        )
        assert {status for status, _ in answers} == {202}
        await slack.wait_for(lambda: len(_cards(slack)) >= 10, seconds=15)
        if fault == "5xx":
            slack.set_down(True)
        else:  # Slack takes each call but answers after the bot's 10 s timeout
            slack.set_delay(11)
        await asyncio.sleep(SLACK_FAULT_SECONDS)
        slack.set_down(False)
        slack.set_delay(0)
        # More arrive while the outbox catches up.
        answers = await asyncio.gather(
            *(_post(session, replicas[n % 2], m) for n, m in enumerate(_mentions(30, 90)))
        )
        assert {status for status, _ in answers} == {202}
        await slack.wait_for(lambda: len(_cards(slack)) >= 120, seconds=25)
        await asyncio.sleep(0.5)
    _exactly_once(slack, 120)
    assert await _unsent_cards(pg_database) == {}


PER_CHANNEL_RATE = 15.0  # posts/s the fake Slack allows per channel (Slack: ~1; faster here)
BURST = 2  # Slack lets a channel burst a little over its pace


async def test_a_thousand_mentions_over_two_replicas_are_paced_at_slacks_rate(
    pg_database: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    async with FakeSlack(post_rate_per_channel=PER_CHANNEL_RATE, post_burst=BURST) as slack:
        env = serve_env(  # one card per case: no storm digests, whatever the backlog
            tmp_path,
            slack,
            pg_database,
            WEBCARE_CHANNEL_INTERVAL=str(1 / PER_CHANNEL_RATE),
            WEBCARE_DIGEST_AFTER="0",
        )
        async with (
            webcare_serve(env, tmp_path) as one,
            webcare_serve(env, tmp_path) as two,
            aiohttp.ClientSession() as session,
        ):
            sent = _mentions(1000)
            answers = await asyncio.gather(
                *(
                    _post(session, (one, two)[n % 2].url, sent[start : start + 50])
                    for n, start in enumerate(range(0, 1000, 50))
                )
            )
            assert {status for status, _ in answers} == {202}
            stored_at = time.monotonic()  # from here every channel has a queue to work off
            await slack.wait_for(lambda: len(_cards(slack)) >= 1000, seconds=60)
            await asyncio.sleep(0.5)
        _exactly_once(slack, 1000)
        rates = {}
        for channel in CHANNEL_TEXTS:
            # Pacing while there is work to pace: the cards posted once every mention was stored
            # (before that, how fast mentions arrive may set the pace, not the bot).
            posts = [c for c in slack.calls_to("chat.postMessage") if c.args["channel"] == channel]
            times = [c.at for c in posts if not c.args.get("thread_ts") and c.at >= stored_at]
            assert len(times) >= 100, "too few cards left after the mentions were stored"
            rates[channel] = (len(times) - 1) / (times[-1] - times[0])
        print(
            {
                channel: f"{rate / PER_CHANNEL_RATE:.3f} of the allowed rate"
                for channel, rate in rates.items()
            }
        )
        assert slack.ratelimited_count == 0
        # Within Slack's pace and close to it: 0.985 measured on a loaded machine. (At 25 posts
        # a second it was 0.93: per-post work then eats into the 40 ms gaps; Slack's own pace
        # is one a second.)
        assert all(0.95 * PER_CHANNEL_RATE <= rate <= PER_CHANNEL_RATE for rate in rates.values())
