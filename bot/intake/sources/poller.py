"""Polling sources: a task per source on its own interval, a cursor per source in the database
(a restart neither re-ingests nor misses anything), backoff with jitter when a source fails,
and a pause when its platform's rate limit says so. A failing source never holds up the
others, the webhook or Slack delivery."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.clock import Clock
from bot.core.config import WebcareConfig
from bot.core.config.sources import BlueskySource, FeedSource, MastodonSource
from bot.intake.ingest import Ingestor
from bot.intake.mentions import MentionError, MentionIn, parse_mentions
from bot.intake.sources.base import Cursor, Fetched, PollFailed, Source, SourceItem
from bot.intake.sources.bluesky import Bluesky
from bot.intake.sources.feeds import RssFeed
from bot.intake.sources.health import SourceHealth
from bot.intake.sources.mastodon import Mastodon
from storage import cursors

__all__ = ["PollFailed", "PollResult", "SourcePoller", "build_sources"]

log = logging.getLogger(__name__)
MAX_BACKOFF = 3600.0
HEALTH_CHECK_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class PollResult:
    stored: int  # new mentions ingested
    not_modified: bool = False
    wait_seconds: float | None = None  # the platform asked for a pause (rate limit)


def build_sources(config: WebcareConfig) -> dict[str, Source]:
    """One fetcher per configured source, by name."""
    built: dict[str, Source] = {}
    for entry in config.sources:
        if isinstance(entry, MastodonSource):
            built[entry.name] = Mastodon(entry)
        elif isinstance(entry, BlueskySource):
            built[entry.name] = Bluesky(entry)
        else:
            built[entry.name] = RssFeed(entry)
    return built


class SourcePoller:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        ingestor: Ingestor,
        config: WebcareConfig,
        clock: Clock,
        session: aiohttp.ClientSession,
        sources: dict[str, Source],
        on_alert: Any = None,  # called after a source alert is queued (wakes the outbox)
    ) -> None:
        self.engine = engine
        self.ingestor = ingestor
        self.config = config
        self.clock = clock
        self.session = session
        self.sources = sources
        self.health = SourceHealth(engine=engine, config=config, clock=clock, on_alert=on_alert)

    async def poll(self, source: FeedSource | MastodonSource | BlueskySource | str) -> PollResult:
        """Fetch the source once and ingest what is new; records the outcome on its cursor."""
        name = source if isinstance(source, str) else source.name
        fetcher = self.sources[name]
        now = self.clock.now()
        async with self.engine.connect() as conn:
            row = await cursors.get_cursor(conn, name=name)
        cursor = _cursor(row)
        first = row is None or row.first_success_at is None
        backfill_from = now - timedelta(hours=self.config.backfill_hours)
        try:
            fetched = await fetcher.fetch(
                self.session, cursor, now=now, backfill_from=backfill_from
            )
            stored = await self._store(name, fetched.items)
        except PollFailed as failed:
            await self._failed(name, now, str(failed))
            raise
        except Exception as exc:  # a bug or the database: still a failing source to alert on
            await self._failed(name, now, f"{type(exc).__name__}: {exc}"[:300])
            raise
        await self._saved(name, now, fetched, stored)
        self.health.polled_ok(name)
        if first:
            await self.health.first_poll(name, items=stored, since=backfill_from, now=now)
        return PollResult(stored, fetched.not_modified, fetched.wait_seconds)

    async def _failed(self, name: str, now: Any, error: str) -> None:
        with contextlib.suppress(Exception):  # the database may be what failed
            async with self.engine.begin() as conn:
                await cursors.save_failure(conn, name=name, now=now, error=error)

    async def _store(self, name: str, items: list[SourceItem]) -> int:
        mentions, targets = _valid(name, items)
        if targets:  # before the mentions: a reply may be sent as soon as the card is up
            async with self.engine.begin() as conn:
                await cursors.save_reply_targets(conn, source_name=name, targets=targets)
        return (await self.ingestor.ingest(mentions)).accepted if mentions else 0

    async def _saved(self, name: str, now: Any, fetched: Fetched, stored: int) -> None:
        new = fetched.cursor
        async with self.engine.begin() as conn:
            await cursors.save_success(
                conn,
                name=name,
                now=now,
                etag=new.etag,
                last_modified=new.last_modified,
                newest_seen_at=new.newest_seen_at,
                items=stored,
                state=new.state,
            )

    async def run_forever(self) -> None:
        """Poll every source on its own schedule, and watch their health, until cancelled."""
        tasks = [
            asyncio.create_task(self._keep_polling(name), name=f"source {name}")
            for name in self.sources
        ]
        tasks.append(asyncio.create_task(self._keep_checking(), name="source health"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _keep_polling(self, name: str) -> None:
        interval = float(self.sources[name].interval_seconds)
        failures = 0
        while True:
            try:
                result = await self.poll(name)
                failures = 0
                delay = max(interval, result.wait_seconds or 0.0)
            except PollFailed as failed:
                failures += 1
                backoff = min(MAX_BACKOFF, interval * 2.0**failures)
                delay = max(failed.retry_after or 0.0, backoff * random.uniform(0.5, 1.0))
                log.warning("source %s failed (%s); next try in %.0fs", name, failed, delay)
            except Exception:
                log.exception("source %s: unexpected error", name)
                delay = interval
            await asyncio.sleep(delay)

    async def _keep_checking(self) -> None:
        while True:
            try:
                await self.health.check()
            except Exception:
                log.exception("source health check failed")
            await asyncio.sleep(HEALTH_CHECK_SECONDS)


def _cursor(row: Any) -> Cursor:
    if row is None:
        return Cursor()
    return Cursor(row.etag, row.last_modified, row.newest_seen_at, dict(row.state or {}))


def _valid(
    name: str, items: list[SourceItem]
) -> tuple[list[MentionIn], list[tuple[str, str, dict[str, Any]]]]:
    """The entries that make valid mentions, and their reply refs; a broken entry is logged,
    not fatal."""
    mentions: list[MentionIn] = []
    targets: list[tuple[str, str, dict[str, Any]]] = []
    for item in items:
        try:
            parsed = parse_mentions(item.mention)
        except MentionError as exc:
            log.warning("source %s: skipping an entry: %s", name, exc)
            continue
        mentions += parsed
        if item.reply_ref is not None:
            targets += [(m.source, m.external_id, item.reply_ref) for m in parsed]
    return mentions, targets
