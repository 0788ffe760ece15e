"""Mastodon through its REST API: the brand account's mentions (notifications) and searches
(full text, or a #hashtag's timeline); replies posted back are in mastodon_replies.py.

Each stream keeps its own `min_id` cursor. A poll pages forward from it (Mastodon's `Link:
rel="prev"`, newest last) so a burst bigger than one page is read in full and in order; a
first poll reads backwards (`rel="next"`) only as far as the backfill window. Paging goes on
until a page comes back empty or without the link: a short page is not the last one (Mastodon
drops filtered statuses from a page, and instances cap pages). The `X-RateLimit-*` headers are
read on every answer: paging stops while a few requests are left, the poller waits for the
window to reset, and the next poll resumes where this one stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlparse

import aiohttp

from bot.core.config.sources import MastodonSource
from bot.intake.markup import plain_text
from bot.intake.mentions import fitted_id
from bot.intake.sources import shaping
from bot.intake.sources.base import (
    USER_AGENT,
    Cursor,
    Fetched,
    PolledSource,
    PollFailed,
    SourceItem,
)
from bot.intake.sources.mastodon_replies import RATE, MastodonReplies
from bot.intake.sources.platform_http import (
    failure,
    nearly_exhausted,
    read_json,
    seconds_until_reset,
)

PAGE = 40  # Mastodon's maximum page size
SEARCH = "/api/v2/search"
LATE_OVERLAP = timedelta(minutes=15)  # how far tag and search streams look back for late posts
MAX_PAGES = 10  # per stream and poll; the rest comes next poll (the cursor has moved on)


@dataclass(frozen=True, slots=True)
class Stream:
    key: str  # its cursor's name in the source's state
    path: str
    query: dict[str, str]
    addressed: bool
    late: bool = False  # posts can show up with an id older than the cursor


class Mastodon(MastodonReplies, PolledSource):
    config: MastodonSource

    def __init__(self, config: MastodonSource) -> None:
        super().__init__(config)
        self.base = str(config.instance).rstrip("/")
        self.host = urlparse(self.base).netloc
        self._account_id: str | None = None  # the brand account's id, once asked
        self.headers = {
            "Authorization": f"Bearer {config.access_token}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }

    def _streams(self) -> list[Stream]:
        """The brand's mention notifications, then each search. A post counts as addressed
        by its own `mentions` list, whichever stream brings it."""
        streams = []
        if self.config.notifications:
            # include_filtered: Mastodon 4.3+ holds back private mentions from accounts the
            # brand does not follow (a notification policy); a webcare team needs them all.
            query = {"types[]": "mention", "include_filtered": "true"}
            streams.append(Stream("notifications", "/api/v1/notifications", query, True))
        for term in self.config.search:
            if term.startswith("#"):
                path = f"/api/v1/timelines/tag/{quote(term[1:], safe='')}"
                streams.append(Stream(f"tag:{term[1:].lower()}", path, {}, False, late=True))
            else:
                query = {"q": term, "type": "statuses", "resolve": "false"}
                streams.append(Stream(f"search:{term.lower()}", SEARCH, query, False, late=True))
        return streams

    async def fetch(
        self, http: aiohttp.ClientSession, cursor: Cursor, *, now: datetime, backfill_from: datetime
    ) -> Fetched:
        state = dict(cursor.state)
        found: dict[str, SourceItem] = {}
        wait: float | None = None
        await self._brand_account(http)
        for stream in self._streams():
            forward = stream.key in state and stream.path != SEARCH
            if forward and not isinstance(state.get(_resume(stream)), dict):
                items, wait = await self._forward(http, stream, state)
            else:
                items, wait = await self._backward(http, stream, state, backfill_from)
            for item in items:
                found.setdefault(item.mention["external_id"], item)
            if wait is not None:
                break  # rate limit nearly used up: the other streams wait for the next poll
        items = sorted(found.values(), key=lambda item: item.published)
        newest = max((item.published for item in items), default=cursor.newest_seen_at)
        if cursor.newest_seen_at and newest and newest < cursor.newest_seen_at:
            newest = cursor.newest_seen_at
        return Fetched(items, Cursor(newest_seen_at=newest, state=state), wait_seconds=wait)

    def _url(self, stream: Stream, **bounds: str | None) -> str:
        params = {**stream.query, "limit": str(PAGE)}
        params.update({name: value for name, value in bounds.items() if value is not None})
        return f"{self.base}{stream.path}?{urlencode(params)}"

    async def _forward(
        self, http: aiohttp.ClientSession, stream: Stream, state: dict[str, Any]
    ) -> tuple[list[SourceItem], float | None]:
        """Notifications and tag timelines after the first poll: oldest first from `min_id`,
        following `Link: rel="prev"` until a page comes back empty or without the link. A
        page shorter than asked for is not the end: Mastodon drops filtered and hidden
        statuses from a page, and instances cap pages. Tag timelines start LATE_OVERLAP
        behind the cursor (posts from other servers arrive late with older ids); a read cut
        short leaves a resume point past what it read, so the look-back never holds it up.
        Updates `state` in place."""
        cursor, resume_key = str(state[stream.key]), f"{stream.key}#resume"
        start = state.get(resume_key) or (_earlier(cursor, LATE_OVERLAP) if stream.late else cursor)
        url: str | None = self._url(stream, min_id=str(start))
        items: list[SourceItem] = []
        newest: str | None = None
        for page in range(MAX_PAGES):
            assert url is not None
            try:
                entries, links, headers = await self._get(http, url)
            except PollFailed as failed:
                if page == 0 or failed.retry_after is None:
                    raise
                _moved(state, stream.key, newest, done=False)
                return items, failed.retry_after
            if not entries:
                break
            newest = _newest(entries, newest)
            items += self._items(entries, stream)
            url = links.get("prev")
            if url is None:
                break
            if nearly_exhausted(headers, remaining=RATE[0]):
                _moved(state, stream.key, newest, done=False)
                return items, seconds_until_reset(headers, names=RATE) or 60.0
        else:
            _moved(state, stream.key, newest, done=False)
            return items, None
        _moved(state, stream.key, newest, done=True)
        return items, None

    async def _backward(
        self, http: aiohttp.ClientSession, stream: Stream, state: dict[str, Any], backfill: datetime
    ) -> tuple[list[SourceItem], float | None]:
        """Newest first: a stream's first poll (down to the backfill window, by `Link:
        rel="next"`) and search (down to its cursor, LATE_OVERLAP back, by `max_id`). A read
        cut short keeps where it stopped in `state` and the next poll goes on from there, so
        a burst bigger than a poll is never skipped. Updates `state` in place."""
        resume_key = _resume(stream)
        resume = state.get(resume_key) if isinstance(state.get(resume_key), dict) else {}
        cursor = state.get(stream.key)
        if "bound" in resume:
            bound = resume["bound"]
        elif cursor is not None:
            bound = _earlier(str(cursor), LATE_OVERLAP) if stream.late else str(cursor)
        else:
            bound = None
        top: str | None = resume.get("top")
        oldest: str | None = resume.get("max_id")
        url: str | None = self._url(stream, min_id=bound, max_id=oldest)
        items: list[SourceItem] = []
        for page in range(MAX_PAGES):
            assert url is not None
            try:
                entries, links, headers = await self._get(http, url)
            except PollFailed as failed:
                if page == 0 or failed.retry_after is None:
                    raise
                state[resume_key] = {"bound": bound, "top": top, "max_id": oldest}
                return items, failed.retry_after
            if not entries:
                break
            top = _newest(entries, top)
            ids = [entry["id"] for entry in entries if isinstance(entry.get("id"), str)]
            oldest = min(ids, key=_id_order) if ids else oldest
            page_items = self._items(entries, stream)
            if bound is None:  # a first poll: only as far back as the backfill window
                items += [item for item in page_items if item.published > backfill]
                times = [item.published for item in page_items]
                if not times or min(times) <= backfill:
                    break
            else:
                items += page_items
            if stream.path == SEARCH:
                url = self._url(stream, min_id=bound, max_id=oldest)
            else:
                url = links.get("next")
            if url is None:
                break
            if nearly_exhausted(headers, remaining=RATE[0]):
                state[resume_key] = {"bound": bound, "top": top, "max_id": oldest}
                return items, seconds_until_reset(headers, names=RATE) or 60.0
        else:
            state[resume_key] = {"bound": bound, "top": top, "max_id": oldest}
            return items, None
        state.pop(resume_key, None)
        if top is not None and (cursor is None or _id_order(top) > _id_order(str(cursor))):
            state[stream.key] = top
        return items, None

    def _items(self, entries: list[dict[str, Any]], stream: Stream) -> list[SourceItem]:
        return [
            item
            for item in (self._item(entry, addressed=stream.addressed) for entry in entries)
            if item is not None
        ]

    async def _get(
        self, http: aiohttp.ClientSession, url: str
    ) -> tuple[list[dict[str, Any]], dict[str, str], Any]:
        try:
            async with http.get(url, headers=self.headers, timeout=self.timeout) as resp:
                body = await read_json(resp)
                if resp.status >= 400:
                    raise failure(resp.status, body, resp.headers, RATE)
                links = {
                    str(rel): str(link["url"])
                    for rel, link in resp.links.items()
                    if link.get("url") is not None
                }
                headers = resp.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self.unreachable(exc, url) from None
        if isinstance(body, dict) and "statuses" in body:  # /api/v2/search
            body = body["statuses"]
        if not isinstance(body, list):
            raise PollFailed("the instance answered something other than a list")
        return [entry for entry in body if isinstance(entry, dict)], links, headers

    async def _brand_account(self, http: aiohttp.ClientSession) -> str:
        """The id of the account the token belongs to (asked once)."""
        if self._account_id is None:
            try:
                me = await self._object(http, "/api/v1/accounts/verify_credentials")
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise self.unreachable(exc, self.base) from None
            self._account_id = str(me.get("id"))
        return self._account_id

    def _addresses_brand(self, status: dict[str, Any]) -> bool:
        """Whether the status itself names the brand account (its `mentions` list) or
        answers one of its posts, through whichever stream it was found."""
        brand = self._account_id
        if brand is None:
            return False
        if str(status.get("in_reply_to_account_id")) == brand:
            return True
        mentions = status.get("mentions")
        return isinstance(mentions, list) and any(
            isinstance(m, dict) and str(m.get("id")) == brand for m in mentions
        )

    def _item(self, entry: dict[str, Any], *, addressed: bool) -> SourceItem | None:
        """A status (or a mention notification's status) as a mention object; None for
        anything that is not a readable post."""
        status = entry.get("status") if "type" in entry else entry
        if not isinstance(status, dict) or not isinstance(status.get("account"), dict):
            return None
        published, uri = shaping.moment(status.get("created_at")), status.get("uri")
        account = status["account"]
        acct = shaping.line(account.get("acct")) or shaping.line(account.get("username"))
        status_id = status.get("id")
        if published is None or acct is None or not isinstance(uri, str) or not uri.strip():
            return None
        if not isinstance(status_id, str) or not status_id:
            return None  # no id: nothing to answer it with
        if "@" not in acct:
            acct = f"{acct}@{self.host}"  # a local account: give its full address
        body = plain_text(str(status.get("content") or ""))
        if warning := shaping.line(status.get("spoiler_text"), 500):
            body = f"[CW: {plain_text(warning)}] {body}".strip()
        media = status.get("media_attachments")
        if not body and isinstance(media, list) and media:
            described = [m.get("description") for m in media if isinstance(m, dict)]
            body = shaping.without_text(len(media), described)
        if not body:
            return None
        visibility = str(status.get("visibility") or "public")
        mention: dict[str, Any] = {
            "source": "mastodon",
            "external_id": fitted_id(uri.strip()),  # the same post through any stream
            "text": shaping.text(body),
            "created_at": published.isoformat(),
            "author": shaping.author(
                acct[:200],
                name=account.get("display_name") or account.get("username"),
                followers=account.get("followers_count"),
                url=account.get("url"),
            ),
            "addressed": addressed or self._addresses_brand(status),
            "private": visibility == "direct",
        }
        if url := shaping.web_url(status.get("url")) or shaping.web_url(uri):
            mention["url"] = url
        if language := shaping.language(status.get("language")):
            mention["language"] = language
        if reply_to := shaping.line(status.get("in_reply_to_id"), 8192):
            mention["in_reply_to"] = fitted_id(reply_to)
        ref = {"status_id": status_id, "visibility": visibility, "acct": acct}
        return SourceItem(mention, published, reply_ref=ref)

    async def _object(self, http: aiohttp.ClientSession, path: str) -> dict[str, Any]:
        """GET a JSON object from the instance; PollFailed when it answers anything else."""
        async with http.get(
            f"{self.base}{path}", headers=self.headers, timeout=self.timeout
        ) as resp:
            answer = await read_json(resp)
            if resp.status >= 300 or not isinstance(answer, dict):
                raise failure(resp.status, answer, resp.headers, RATE)
            return answer


def _id_order(status_id: str) -> tuple[int, str]:
    """Mastodon ids are numeric strings (snowflakes): longer is newer, then by digits."""
    return (len(status_id), status_id)


def _newest(entries: list[dict[str, Any]], newest: str | None) -> str | None:
    """The newest id among `entries` and `newest`."""
    ids = [entry["id"] for entry in entries if isinstance(entry.get("id"), str)]
    if newest is not None:
        ids.append(newest)
    return max(ids, key=_id_order) if ids else None


def _resume(stream: Stream) -> str:
    return f"{stream.key}#resume"


def _moved(state: dict[str, Any], key: str, newest: str | None, *, done: bool) -> None:
    """After a forward read: the cursor never goes back, and a read cut short resumes right
    after what it read (not LATE_OVERLAP behind it again, which could hold it up for good)."""
    if newest is not None and _id_order(newest) > _id_order(str(state[key])):
        state[key] = newest
    if done:
        state.pop(f"{key}#resume", None)
    elif newest is not None:
        state[f"{key}#resume"] = newest


def _earlier(status_id: str, by: timedelta) -> str:
    """A Mastodon id `by` earlier: ids are Snowflakes, milliseconds since 1970 shifted left by
    16 bits, so subtracting moves the bound back in time."""
    try:
        return str(max(0, int(status_id) - (int(by.total_seconds() * 1000) << 16)))
    except ValueError:
        return status_id
