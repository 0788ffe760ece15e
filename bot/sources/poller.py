"""Polling feeds: conditional GETs, a cursor per feed in the database (a restart neither
re-ingests nor misses anything), and backoff with jitter when a feed fails. A failing feed
never holds up the others, the webhook or Slack delivery."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.config import FeedSource, WebcareConfig
from bot.ingest import Ingestor
from bot.mentions import MentionError, MentionIn, parse_mentions
from bot.sources.feeds import FeedError, parse_feed
from storage import cursors

log = logging.getLogger(__name__)
TIMEOUT = aiohttp.ClientTimeout(total=30)
MAX_BACKOFF = 3600.0


@dataclass(frozen=True, slots=True)
class PollResult:
    stored: int  # new mentions ingested
    not_modified: bool = False


class PollFailed(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class FeedPoller:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        ingestor: Ingestor,
        config: WebcareConfig,
        clock: Clock,
        session: aiohttp.ClientSession,
    ) -> None:
        self.engine = engine
        self.ingestor = ingestor
        self.config = config
        self.clock = clock
        self.session = session

    async def poll(self, feed: FeedSource) -> PollResult:
        """Fetch the feed once and ingest what is new; records the outcome on its cursor."""
        now = self.clock.now()
        try:
            result = await self._poll(feed, now)
        except PollFailed as failed:
            async with self.engine.begin() as conn:
                await cursors.save_failure(conn, name=feed.name, now=now, error=str(failed))
            raise
        return result

    async def _poll(self, feed: FeedSource, now: datetime) -> PollResult:
        async with self.engine.connect() as conn:
            cursor = await cursors.get_cursor(conn, name=feed.name)
        headers = {"User-Agent": "webcare-router (+https://github.com/)"}
        if cursor is not None and cursor.etag:
            headers["If-None-Match"] = cursor.etag
        if cursor is not None and cursor.last_modified:
            headers["If-Modified-Since"] = cursor.last_modified
        try:
            async with self.session.get(str(feed.url), headers=headers, timeout=TIMEOUT) as resp:
                if resp.status == 304:
                    await self._saved(feed, now, cursor, resp, newest=None, stored=0)
                    return PollResult(0, not_modified=True)
                if resp.status == 429:
                    retry = float(resp.headers.get("Retry-After", "60") or 60)
                    raise PollFailed("HTTP 429", retry_after=retry)
                if resp.status >= 400:
                    raise PollFailed(f"HTTP {resp.status}")
                body = await resp.read()
                items = parse_feed(body, feed=feed, fetched_at=now)
                since = (
                    cursor.newest_seen_at
                    if cursor is not None and cursor.newest_seen_at
                    else now - timedelta(hours=self.config.backfill_hours)
                )
                fresh = [item for item in items if item.published > since]
                mentions = _valid(feed, [item.mention for item in fresh])
                stored = (await self.ingestor.ingest(mentions)).accepted if mentions else 0
                newest = max((item.published for item in items), default=None)
                await self._saved(feed, now, cursor, resp, newest=newest, stored=stored)
                return PollResult(stored)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PollFailed(f"{type(exc).__name__}: {exc}"[:300]) from None
        except FeedError as exc:
            raise PollFailed(str(exc)) from None

    async def _saved(self, feed, now, cursor, resp, *, newest, stored) -> None:  # type: ignore[no-untyped-def]
        async with self.engine.begin() as conn:
            await cursors.save_success(
                conn,
                name=feed.name,
                now=now,
                etag=resp.headers.get("ETag") or (cursor.etag if cursor else None),
                last_modified=resp.headers.get("Last-Modified")
                or (cursor.last_modified if cursor else None),
                newest_seen_at=newest,
                items=stored,
            )

    async def run_forever(self) -> None:
        """Poll every feed on its own schedule until cancelled."""
        tasks = [
            asyncio.create_task(self._keep_polling(feed), name=f"feed {feed.name}")
            for feed in self.config.sources
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _keep_polling(self, feed: FeedSource) -> None:
        failures = 0
        while True:
            try:
                await self.poll(feed)
                failures, delay = 0, float(feed.interval_seconds)
            except PollFailed as failed:
                failures += 1
                backoff = min(MAX_BACKOFF, feed.interval_seconds * 2.0**failures)
                delay = max(failed.retry_after or 0.0, backoff * random.uniform(0.5, 1.0))
                log.warning("feed %s failed (%s); next try in %.0fs", feed.name, failed, delay)
            except Exception:
                log.exception("feed %s: unexpected error", feed.name)
                delay = float(feed.interval_seconds)
            await asyncio.sleep(delay)


def _valid(feed: FeedSource, items: list[dict[str, object]]) -> list[MentionIn]:
    """The entries that make valid mentions; a broken entry is logged, not fatal."""
    mentions = []
    for item in items:
        try:
            mentions += parse_mentions(item)
        except MentionError as exc:
            log.warning("feed %s: skipping an entry: %s", feed.name, exc)
    return mentions
