"""Mastodon through its REST API: the brand account's mentions (notifications) and searches
(full text, or a #hashtag's timeline), and replies posted back in the conversation.

Each stream keeps its own `min_id` cursor. A poll pages forward from it (Mastodon's `Link:
rel="prev"`, newest last) so a burst bigger than one page is read in full and in order; a
first poll reads backwards (`rel="next"`) only as far as the backfill window. The
`X-RateLimit-*` headers are read on every answer: paging stops while a few requests are left and
the poller waits for the window to reset.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlparse

import aiohttp

from bot.config import MastodonSource
from bot.sources.base import USER_AGENT, Cursor, Fetched, PollFailed, SourceItem
from bot.sources.feeds import plain_text
from bot.sources.platform_http import failure, nearly_exhausted, seconds_until_reset

PAGE = 40  # Mastodon's maximum page size
MAX_PAGES = 10  # per stream and poll; the rest comes next poll (the cursor has moved on)
RATE = ("X-RateLimit-Remaining", "X-RateLimit-Reset")


class ReplyRefused(Exception):
    """The instance did not publish the reply; the reason is fit to show the agent."""


class Mastodon:
    def __init__(self, config: MastodonSource) -> None:
        self.config = config
        self.name = config.name
        self.timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)
        self.interval_seconds = config.interval_seconds
        self.base = str(config.instance).rstrip("/")
        self.host = urlparse(self.base).netloc
        self.headers = {
            "Authorization": f"Bearer {config.access_token}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }

    def _streams(self) -> list[tuple[str, str, dict[str, str], bool]]:
        """(cursor key, path, query, addressed) per stream; notifications first, so a post that
        mentions the account and matches a search counts as addressed."""
        streams = []
        if self.config.notifications:
            streams.append(("notifications", "/api/v1/notifications", {"types[]": "mention"}, True))
        for term in self.config.search:
            if term.startswith("#"):
                path = f"/api/v1/timelines/tag/{quote(term[1:], safe='')}"
                streams.append((f"tag:{term[1:].lower()}", path, {}, False))
            else:
                query = {"q": term, "type": "statuses", "resolve": "false"}
                streams.append((f"search:{term.lower()}", "/api/v2/search", query, False))
        return streams

    async def fetch(
        self, http: aiohttp.ClientSession, cursor: Cursor, *, now: datetime, backfill_from: datetime
    ) -> Fetched:
        state = dict(cursor.state)
        found: dict[str, SourceItem] = {}
        wait: float | None = None
        for key, path, query, addressed in self._streams():
            items, newest_id, wait = await self._read_stream(
                http,
                path,
                query,
                addressed=addressed,
                min_id=state.get(key),
                backfill_from=backfill_from,
            )
            for item in items:
                found.setdefault(item.mention["external_id"], item)
            if newest_id is not None:
                state[key] = newest_id
            if wait is not None:
                break  # rate limit nearly used up: the other streams wait for the next poll
        items = sorted(found.values(), key=lambda item: item.published)
        newest = max((item.published for item in items), default=cursor.newest_seen_at)
        if cursor.newest_seen_at and newest and newest < cursor.newest_seen_at:
            newest = cursor.newest_seen_at
        return Fetched(items, Cursor(newest_seen_at=newest, state=state), wait_seconds=wait)

    async def _read_stream(
        self,
        http: aiohttp.ClientSession,
        path: str,
        query: dict[str, str],
        *,
        addressed: bool,
        min_id: str | None,
        backfill_from: datetime,
    ) -> tuple[list[SourceItem], str | None, float | None]:
        """New items of one stream, the newest id seen, and how long to wait (rate limit)."""
        first = min_id is None
        params = {**query, "limit": str(PAGE)}
        if min_id is not None:
            params["min_id"] = min_id
        url: str | None = f"{self.base}{path}?{urlencode(params)}"
        items: list[SourceItem] = []
        newest_id: str | None = None
        for page in range(MAX_PAGES):
            assert url is not None
            try:
                statuses, links, headers = await self._get(http, url)
            except PollFailed as failed:
                if page == 0 or failed.retry_after is None:
                    raise
                return items, newest_id, failed.retry_after  # 429 mid-way: keep what we have
            page_ids = [entry["id"] for entry in statuses if isinstance(entry.get("id"), str)]
            if page_ids:
                top = max(page_ids, key=_id_order)
                if newest_id is None or _id_order(top) > _id_order(newest_id):
                    newest_id = top
            parsed = [self._item(entry, addressed=addressed) for entry in statuses]
            page_items = [item for item in parsed if item is not None]
            items += [i for i in page_items if not first or i.published > backfill_from]
            if nearly_exhausted(headers, remaining=RATE[0]):
                return items, newest_id, seconds_until_reset(headers, names=RATE) or 60.0
            if len(statuses) < PAGE:
                break  # a short page is the last one
            if first:  # backwards, until the page reaches back past the backfill window
                if min(i.published for i in page_items) <= backfill_from if page_items else True:
                    break
                url = links.get("next")
            else:  # forwards from the cursor
                url = links.get("prev") or _with_min_id(url, newest_id)
            if url is None:
                break
        return items, newest_id, None

    async def _get(
        self, http: aiohttp.ClientSession, url: str
    ) -> tuple[list[dict[str, Any]], dict[str, str], Any]:
        try:
            async with http.get(url, headers=self.headers, timeout=self.timeout) as resp:
                body = await _json(resp)
                if resp.status >= 400:
                    raise failure(resp.status, body, resp.headers, RATE)
                links = {
                    str(rel): str(link["url"])
                    for rel, link in resp.links.items()
                    if link.get("url") is not None
                }
                headers = resp.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PollFailed(f"{type(exc).__name__}: {exc}"[:300]) from None
        if isinstance(body, dict) and "statuses" in body:  # /api/v2/search
            body = body["statuses"]
        if not isinstance(body, list):
            raise PollFailed("the instance answered something other than a list")
        return [entry for entry in body if isinstance(entry, dict)], links, headers

    def _item(self, entry: dict[str, Any], *, addressed: bool) -> SourceItem | None:
        """A status (or a mention notification's status) as a mention object."""
        status = entry.get("status") if "type" in entry else entry
        if not isinstance(status, dict) or not isinstance(status.get("account"), dict):
            return None
        try:
            published = datetime.fromisoformat(str(status["created_at"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            return None
        account = status["account"]
        acct = str(account.get("acct") or account.get("username") or "")
        if acct and "@" not in acct:
            acct = f"{acct}@{self.host}"  # a local account: give its full address
        text = plain_text(str(status.get("content") or ""))
        if status.get("spoiler_text"):
            text = f"[CW: {plain_text(str(status['spoiler_text']))}] {text}".strip()
        if not text and status.get("media_attachments"):
            text = f"[{len(status['media_attachments'])} attachment(s), no text]"
        if not text or not acct or not status.get("uri"):
            return None
        visibility = str(status.get("visibility") or "public")
        mention: dict[str, Any] = {
            "source": "mastodon",
            "external_id": str(status["uri"])[:255],  # the same post through any stream
            "text": text,
            "created_at": published.isoformat(),
            "author": {
                "handle": acct[:200],
                "name": str(account.get("display_name") or account.get("username") or acct)[:200],
                "followers": account.get("followers_count"),
                "url": account.get("url"),
            },
            "addressed": addressed,
            "private": visibility == "direct",
        }
        if str(status.get("url") or status["uri"]).startswith(("https://", "http://")):
            mention["url"] = str(status.get("url") or status["uri"])
        if status.get("language"):
            mention["language"] = status["language"]
        if status.get("in_reply_to_id"):
            mention["in_reply_to"] = str(status["in_reply_to_id"])
        ref = {"status_id": str(status["id"]), "visibility": visibility, "acct": acct}
        return SourceItem(mention, published, reply_ref=ref)

    async def resolve(self, http: aiohttp.ClientSession, url: str) -> dict[str, Any] | None:
        """The reply ref of a post known only by its URL (a mention that came in through the
        webhook): the instance looks it up, fetching it from its home server if need be."""
        query = urlencode({"q": url, "type": "statuses", "resolve": "true", "limit": "1"})
        try:
            statuses, _links, _headers = await self._get(http, f"{self.base}/api/v2/search?{query}")
        except PollFailed as failed:
            raise ReplyRefused(f"could not look the post up: {failed}") from None
        item = self._item(statuses[0], addressed=False) if statuses else None
        return item.reply_ref if item is not None else None

    async def post_reply(
        self,
        http: aiohttp.ClientSession,
        ref: dict[str, Any],
        *,
        text: str,
        private: bool,
        idempotency_key: str,
    ) -> str:
        """Publish `text` as a reply to the status in `ref`; returns the reply's URL.

        The reply is as visible as the post it answers (a direct message stays direct), and
        direct when the agent chose a private reply. It names the customer, as Mastodon only
        delivers a direct reply to the accounts it mentions."""
        visibility = "direct" if private or ref["visibility"] == "direct" else ref["visibility"]
        acct = str(ref["acct"])
        local = acct.removesuffix(f"@{self.host}")
        if f"@{acct}".lower() not in text.lower() and f"@{local}".lower() not in text.lower():
            text = f"@{acct} {text}"
        body = {"status": text, "in_reply_to_id": ref["status_id"], "visibility": visibility}
        headers = {**self.headers, "Idempotency-Key": idempotency_key}
        try:
            async with http.post(
                f"{self.base}/api/v1/statuses", json=body, headers=headers, timeout=self.timeout
            ) as resp:
                answer = await _json(resp)
                if resp.status >= 300:
                    raise ReplyRefused(str(failure(resp.status, answer, resp.headers, RATE)))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ReplyRefused(f"{type(exc).__name__}") from None
        url = answer.get("url") or answer.get("uri") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ReplyRefused("the instance's answer has no URL of the reply")
        return url


async def _json(resp: aiohttp.ClientResponse) -> Any:
    try:
        return await resp.json(content_type=None)
    except (json.JSONDecodeError, aiohttp.ContentTypeError, UnicodeDecodeError):
        return None


def _id_order(status_id: str) -> tuple[int, str]:
    """Mastodon ids are numeric strings (snowflakes): longer is newer, then by digits."""
    return (len(status_id), status_id)


def _with_min_id(url: str, min_id: str | None) -> str | None:
    """The next page of an endpoint without Link headers (search), forwards from `min_id`."""
    if min_id is None:
        return None
    parsed = urlparse(url)
    query = dict(parse_qsl(parsed.query))
    query["min_id"] = min_id
    return parsed._replace(query=urlencode(query)).geturl()
