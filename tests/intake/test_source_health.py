"""A source that breaks or goes quiet is noticed: one alert in the alert channel, one
"recovered" message, listed in /webcare status, /healthz and /metrics; and a hanging source
never holds up the others, the webhook or Slack delivery."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.core.clock import PinnedClock
from bot.core.config import WebcareConfig, parse_config
from bot.intake.sources.poller import PollFailed
from storage.models import Mention
from tests.conftest import CONFIG, HEALTH_DETAIL, TEST_START, BotUnderTest, mention
from tests.fake_platforms import TOKEN, FakeBluesky, FakeMastodon
from tests.fake_slack import FakeSlack
from tests.insight.test_status import _command, _text, open_home

NOW = TEST_START
ALERTS = "C0SOURCES1"


@pytest.fixture
async def mastodon(clock: PinnedClock) -> AsyncIterator[FakeMastodon]:
    async with FakeMastodon(clock).running() as server:
        yield server


@pytest.fixture
async def bluesky(clock: PinnedClock) -> AsyncIterator[FakeBluesky]:
    async with FakeBluesky(clock).running() as server:
        yield server


@pytest.fixture
def config(mastodon: FakeMastodon, bluesky: FakeBluesky) -> WebcareConfig:
    sources = [
        {
            "name": "mastodon",
            "type": "mastodon",
            "instance": mastodon.url,
            "access_token": TOKEN,
            "timeout_seconds": 1,
            "quiet_alert_minutes": 120,
        },
        {
            "name": "bsky",
            "type": "bluesky",
            "service": bluesky.url,
            "handle": FakeBluesky.HANDLE,
            "app_password": FakeBluesky.PASSWORD,
        },
    ]
    return parse_config(
        {**CONFIG, "sources": sources, "source_alerts": {"channel": ALERTS, "after_minutes": 30}},
        source="test.yml",
    )


def _alert_texts(slack: FakeSlack) -> list[str]:
    """Alerts and all-clears (without each source's one "connected" summary)."""
    return [post["text"] for post in slack.posts(ALERTS) if "is connected" not in post["text"]]


async def _metric(bot: BotUnderTest, line_start: str) -> float:
    async with bot.session.get(f"{bot.url}/metrics") as response:
        body = await response.text()
    (line,) = [line for line in body.splitlines() if line.startswith(line_start)]
    return float(line.rsplit(" ", 1)[1])


async def test_a_failing_source_is_alerted_once_listed_in_status_and_recovers_once(
    bot: BotUnderTest, slack: FakeSlack, bluesky: FakeBluesky
) -> None:
    health = bot.runtime.poller.health
    await bot.runtime.poller.poll("bsky")
    bluesky.fail_with = 500
    with pytest.raises(PollFailed):
        await bot.runtime.poller.poll("bsky")
    assert await health.check() == 0  # failing for a moment is not down yet
    bot.clock.advance(minutes=31)
    with pytest.raises(PollFailed):
        await bot.runtime.poller.poll("bsky")
    assert await health.check() == 1
    assert await health.check() == 0  # said once
    await bot.deliver()
    (alert,) = _alert_texts(slack)
    assert alert.startswith(":warning: Source *bsky* has been failing since")
    assert "HTTP 500: InternalServerError" in alert

    status = _text(await _command(bot, "status"))
    assert "Sources down: *bsky* (HTTP 500: InternalServerError" in status
    home = await open_home(bot, slack, "U0ANNA")
    assert home["blocks"][1]["text"]["text"].startswith(":warning: Sources down: *bsky*")
    assert await _metric(bot, 'webcare_source_down{source="bsky",type="bluesky"}') == 1
    async with bot.session.get(f"{bot.url}/healthz", headers=HEALTH_DETAIL) as response:
        shown = (await response.json())["sources"]["bsky"]
    assert shown["down"] and shown["down_reason"] == "failing" and shown["failures_in_a_row"] == 2

    bluesky.fail_with = None
    await bot.runtime.poller.poll("bsky")
    assert await health.check() == 1
    assert await health.check() == 0
    await bot.deliver()
    assert _alert_texts(slack)[-1].startswith(":white_check_mark: Source *bsky* works again")
    assert "Sources down" not in _text(await _command(bot, "status"))
    assert await _metric(bot, 'webcare_source_down{source="bsky",type="bluesky"}') == 0


async def test_a_source_that_usually_brings_items_and_goes_quiet_is_alerted(
    bot: BotUnderTest, slack: FakeSlack, mastodon: FakeMastodon
) -> None:
    health = bot.runtime.poller.health
    await bot.runtime.poller.poll("mastodon")  # nothing yet: never alerted as quiet
    bot.clock.advance(hours=5)
    assert await health.check() == 0
    karin = mastodon.account("karin", domain="social.example")
    mastodon.mention(mastodon.status("<p>hoi</p>", account=karin, at=bot.clock.now()))
    await bot.runtime.poller.poll("mastodon")
    bot.clock.advance(minutes=119)
    assert await health.check() == 0
    bot.clock.advance(minutes=2)
    assert await health.check() == 1
    await bot.deliver()
    assert "Source *mastodon* has brought nothing new since" in _alert_texts(slack)[-1]
    mastodon.mention(mastodon.status("<p>weer iets</p>", account=karin, at=bot.clock.now()))
    await bot.runtime.poller.poll("mastodon")
    assert await health.check() == 1
    await bot.deliver()
    assert "Source *mastodon* works again" in _alert_texts(slack)[-1]


async def test_the_alert_is_in_dutch_for_a_dutch_team(
    bot: BotUnderTest, slack: FakeSlack, bluesky: FakeBluesky
) -> None:
    bot.runtime.worker.lang = "nl"
    bluesky.fail_with = 503
    with pytest.raises(PollFailed):
        await bot.runtime.poller.poll("bsky")
    bot.clock.advance(hours=1)
    await bot.runtime.poller.health.check()
    await bot.deliver()
    assert _alert_texts(slack)[-1].startswith(":warning: Bron *bsky* faalt sinds")


async def test_a_hanging_source_holds_up_neither_the_others_nor_the_webhook_nor_slack(
    bot: BotUnderTest, slack: FakeSlack, mastodon: FakeMastodon, bluesky: FakeBluesky
) -> None:
    mastodon.delay = 3  # every request hangs past the 1 s timeout
    bluesky.notify(bluesky.post("Acme is top", handle="els.bsky.social", at=NOW))
    polling = asyncio.create_task(bot.runtime.poller.run_forever())
    delivering = asyncio.create_task(bot.runtime.worker.run_forever())
    try:
        status, _ = await bot.post_webhook(mention("w1", text="Via de webhook"))
        assert status == 202
        await slack.wait_for(lambda: len(slack.posts("CWEBCARE1")) == 2, seconds=5)
        async with bot.runtime.engine.connect() as conn:
            sources = set(await conn.scalars(select(Mention.source)))
            count = await conn.scalar(select(func.count()).select_from(Mention))
        assert sources == {"x", "bluesky"} and count == 2
    finally:
        for task in (polling, delivering):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_busy_source_that_stops_is_noticed_from_its_own_pace(
    bot: BotUnderTest, slack: FakeSlack, bluesky: FakeBluesky
) -> None:
    from sqlalchemy import update

    from storage.models import SourceCursor

    health = bot.runtime.poller.health
    bluesky.notify(bluesky.post("hoi", handle="a.bsky.social", at=NOW - timedelta(minutes=1)))
    await bot.runtime.poller.poll("bsky")
    # Its history, as days of polling would leave it: 600 items in 50 hours (a 5-minute pace).
    async with bot.runtime.engine.begin() as conn:
        await conn.execute(
            update(SourceCursor)
            .where(SourceCursor.name == "bsky")
            .values(items_learned=600, first_success_at=bot.clock.now() - timedelta(hours=50))
        )
    async with bot.session.get(f"{bot.url}/healthz", headers=HEALTH_DETAIL) as response:
        shown = (await response.json())["sources"]["bsky"]
    assert shown["quiet_after_minutes"] == 3 * 24 * 60  # ten gaps is 50 minutes: the floor
    bot.clock.advance(hours=60)
    assert await health.check() == 0  # a quiet weekend is not an outage
    bot.clock.advance(hours=13)
    assert await health.check() == 1
    await bot.deliver()
    assert "Source *bsky* has brought nothing new since" in _alert_texts(slack)[-1]


async def test_after_a_restart_no_source_is_called_quiet_before_it_was_polled(
    bot: BotUnderTest, slack: FakeSlack, mastodon: FakeMastodon, config: WebcareConfig
) -> None:
    from bot.app.runtime import Runtime
    from tests.conftest import make_settings

    karin = mastodon.account("karin", domain="social.example")
    mastodon.mention(mastodon.status("<p>hoi</p>", account=karin, at=bot.clock.now()))
    await bot.runtime.poller.poll("mastodon")
    bot.clock.advance(hours=5)  # the bot was down longer than the source's quiet time
    restarted = Runtime(make_settings(slack), config, engine=bot.runtime.engine, clock=bot.clock)
    try:
        assert await restarted.poller.health.check() == 0  # not judged before its first poll
        await restarted.poller.poll("mastodon")  # works, and brings nothing new
        assert await restarted.poller.health.check() == 1  # now it is quiet, truly
    finally:
        await restarted.http.close()
        await restarted.sources_http.close()


async def test_a_source_too_new_to_know_its_pace_is_never_called_quiet(
    bot: BotUnderTest, slack: FakeSlack, bluesky: FakeBluesky
) -> None:
    health = bot.runtime.poller.health
    bluesky.notify(bluesky.post("hoi", handle="a.bsky.social", at=NOW - timedelta(minutes=1)))
    await bot.runtime.poller.poll("bsky")  # one item: no pace to learn from yet
    bot.clock.advance(days=3)
    assert await health.check() == 0
    assert _alert_texts(slack) == []


def test_quiet_alerts_can_be_switched_off_per_source(config: WebcareConfig) -> None:
    from types import SimpleNamespace

    from bot.intake.sources.health import quiet_after

    busy = SimpleNamespace(
        items_learned=500,
        first_success_at=NOW - timedelta(days=2),
        last_item_at=NOW,
    )
    slow = SimpleNamespace(
        items_learned=60, first_success_at=NOW - timedelta(days=60), last_item_at=NOW
    )
    learning = config.sources[1].model_copy(update={"quiet_alert_minutes": None})
    off = config.sources[1].model_copy(update={"quiet_alert_minutes": 0})
    assert quiet_after(learning, busy) == timedelta(days=3)  # the floor
    assert quiet_after(learning, slow) == timedelta(days=10)  # one a day: ten days
    assert quiet_after(off, busy) is None
    assert quiet_after(config.sources[0], busy) == timedelta(minutes=120)


async def test_the_first_poll_says_how_many_items_its_backfill_took_in(
    bot: BotUnderTest, slack: FakeSlack, mastodon: FakeMastodon
) -> None:
    karin = mastodon.account("karin", domain="social.example")
    # A source added on Monday morning: Friday afternoon's mention is still taken in.
    for hours in (80, 66, 2):
        mastodon.mention(
            mastodon.status(
                f"<p>@acmebank {hours}</p>", account=karin, at=NOW - timedelta(hours=hours)
            )
        )
    assert (await bot.runtime.poller.poll("mastodon")).stored == 2
    mastodon.mention(mastodon.status("<p>@acmebank nu</p>", account=karin, at=NOW))
    assert (await bot.runtime.poller.poll("mastodon")).stored == 1
    await bot.deliver()
    (summary,) = [p["text"] for p in slack.posts(ALERTS)]  # the first poll's only
    assert summary.startswith(":satellite_antenna: Source *mastodon* is connected")
    assert "took in 2 item(s) posted since" in summary
