"""RSS and Atom feeds (Google Alerts, forums, review sites, Reddit searches) with feedparser.

Entries become mention objects: HTML turned into plain text, Google's redirect links unwrapped
to the real address, and an id derived when the feed gives none.
"""

from __future__ import annotations

import calendar
import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import feedparser

from bot.core.config.sources import FeedSource
from bot.intake.markup import plain_text
from bot.intake.mentions import fitted_id, plausible
from bot.intake.sources import shaping
from bot.intake.sources.base import (
    USER_AGENT,
    Cursor,
    Fetched,
    PolledSource,
    PollFailed,
    SourceItem,
)

LATE_OVERLAP = timedelta(days=2)
# An entry dated further ahead of the fetch than clocks differ is dated wrongly.
FUTURE_SKEW = timedelta(minutes=10)


class FeedError(Exception):
    """The feed could not be read (not XML, not a feed)."""


def real_url(url: str) -> str:
    """Google Alerts links go through google.com/url?url=…: return where they lead."""
    parsed = urlparse(url)
    if parsed.netloc.endswith("google.com") and parsed.path == "/url":
        target = parse_qs(parsed.query).get("url") or parse_qs(parsed.query).get("q")
        if target and target[0].startswith(("http://", "https://")):
            return target[0]
    return url


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def _believable(stamp: Any, fetched_at: datetime) -> datetime | None:
    """An entry's date, or None when it cannot be when it was written: a typo'd year, a wrong
    zone, epoch zero. Such an entry is shown as fetched and is not the feed's newest (the
    cursor would skip every real entry until that date)."""
    if not stamp:
        return None
    try:
        published = datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return published if plausible(published) and published <= fetched_at + FUTURE_SKEW else None


def _text(value: object, detail: object) -> str:
    """An entry's title or summary as text. The feed says which it sent: HTML is made
    readable; plain text is kept as written ("Fout <404> bij inloggen" holds no tag, and
    read as HTML it lost "<404>")."""
    if isinstance(detail, dict) and detail.get("type") == "text/plain":
        return " ".join(str(value or "").split())
    return plain_text(str(value or ""))


def parse_feed(body: bytes, *, feed: FeedSource, fetched_at: datetime) -> list[SourceItem]:
    """The feed's entries as mention objects, oldest first."""
    parsed = feedparser.parse(body)
    if parsed.bozo and not parsed.entries:
        raise FeedError(f"not a readable feed: {parsed.get('bozo_exception')!r}"[:300])
    site = urlparse(str(feed.url)).netloc
    # Links that more than one entry without an id of its own points to (a review site linking
    # every review to the company's page): those entries are told apart by their content.
    links = Counter(real_url(e.get("link") or "") for e in parsed.entries if not e.get("id"))
    items = []
    for entry in parsed.entries:
        link = real_url(entry.get("link") or "")
        title = _text(entry.get("title"), entry.get("title_detail"))
        summary = _text(entry.get("summary"), entry.get("summary_detail"))
        if not summary or summary == title:
            text = title
        elif summary.startswith(title):  # feeds often repeat the title at the start
            text = summary
        else:
            text = f"{title} — {summary}" if title else summary
        if not text:
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        published = _believable(stamp, fetched_at)
        # Without an id of its own an entry is its link (as before: an entry stored under it is
        # not taken in again, and an edited one stays one mention), or, where entries share a
        # link or have none, its link and its content.
        ident = entry.get("id") or (link if link and links[link] == 1 else None)
        if not ident:
            written = calendar.timegm(stamp) if stamp else ""
            ident = "#".join(filter(None, [link, _digest(f"{title}\n{written}\n{text}")]))
        url = shaping.web_url(link)
        # The customer is the item's author when the feed names one (a forum poster, a
        # reviewer). An unsigned item (a news article) is not a conversation: it is shown
        # under its site's name, and its own address is the handle, so it is a case of its
        # own (three articles from one site are not one customer writing again).
        named = shaping.line(plain_text(str(entry.get("author") or "")))
        host = (urlparse(url).netloc if url else None) or site
        article = url.split("://", 1)[1] if url else f"{host}/{_digest(str(ident))}"
        author = {"handle": named[:200], "name": named[:200]} if named else None
        mention: dict[str, Any] = {
            "source": feed.source,
            "external_id": fitted_id(f"{feed.name}:{ident}"),
            "text": shaping.text(text),
            "created_at": (published or fetched_at).isoformat(),
            "author": author or {"handle": article[:200], "name": host[:200]},
            "addressed": feed.addressed,
            "private": feed.private,
        }
        if url:
            mention["url"] = url
        if feed.language:
            mention["language"] = feed.language
        items.append(SourceItem(mention, published or fetched_at, dated=published is not None))
    return sorted(items, key=lambda item: item.published)


class RssFeed(PolledSource):
    """One configured feed, fetched with a conditional GET."""

    def __init__(self, feed: FeedSource) -> None:
        super().__init__(feed)
        self.feed = feed

    async def fetch(
        self, http: aiohttp.ClientSession, cursor: Cursor, *, now: datetime, backfill_from: datetime
    ) -> Fetched:
        headers = {"User-Agent": USER_AGENT}
        if cursor.etag:
            headers["If-None-Match"] = cursor.etag
        if cursor.last_modified:
            headers["If-Modified-Since"] = cursor.last_modified
        try:
            async with http.get(str(self.feed.url), headers=headers, timeout=self.timeout) as resp:
                if resp.status == 304:
                    return Fetched([], cursor, not_modified=True)
                if resp.status == 429:
                    raise PollFailed("HTTP 429", retry_after=retry_after(resp.headers))
                if resp.status >= 400:
                    raise PollFailed(f"HTTP {resp.status}")
                body = await resp.read()
                etag = resp.headers.get("ETag") or cursor.etag
                last_modified = resp.headers.get("Last-Modified") or cursor.last_modified
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self.unreachable(exc, str(self.feed.url)) from None
        try:
            items = parse_feed(body, feed=self.feed, fetched_at=now)
        except FeedError as exc:
            raise PollFailed(str(exc)) from None
        # Feeds gain back-dated entries (a review published with yesterday's date): look back
        # LATE_OVERLAP behind the newest entry seen, but never before the first poll's
        # backfill window; dedupe drops what was stored before.
        state = dict(cursor.state)
        floor = shaping.moment(state.get("floor")) or backfill_from
        state.setdefault("floor", floor.isoformat())
        # A cursor saved in the future (by a wrongly dated entry, before those were caught)
        # comes back to now, or the feed stays silent until that date.
        seen = cursor.newest_seen_at and min(cursor.newest_seen_at, now + FUTURE_SKEW)
        since = max(seen - LATE_OVERLAP, floor) if seen else floor
        # An entry without a date gets the fetch time: it must not move the cursor.
        dated = [item.published for item in items if item.dated]
        newest = max([*dated, *filter(None, [seen])], default=None)
        return Fetched(
            [item for item in items if item.published > since],
            Cursor(etag, last_modified, newest, state),
        )


def retry_after(headers: Any, default: float = 60.0) -> float:
    """Seconds from a Retry-After header (delta-seconds; a date or garbage gives `default`)."""
    try:
        return max(0.0, float(headers.get("Retry-After", default)))
    except ValueError:
        return default
