"""Bluesky through the AT Protocol's XRPC HTTP API: the brand account's notifications
(mentions, replies, quotes) and `searchPosts` for keywords; replies posted in the thread with
the right `reply.root` / `reply.parent` refs.

Both listings run newest first with an opaque `cursor` to older pages, so a stream's cursor is
the newest `indexedAt` it has seen: a poll reads pages until it reaches that time (or, on the
first poll, the backfill window). The session (access and refresh JWT from an app password)
lives in memory and is refreshed when the server says it has expired.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.core.config.sources import BlueskySource
from bot.intake.mentions import fitted_id, plausible
from bot.intake.sources import shaping
from bot.intake.sources.base import (
    USER_AGENT,
    Cursor,
    Fetched,
    PolledSource,
    PollFailed,
    ReplyRefused,
    SourceItem,
)
from bot.intake.sources.bluesky_chat import BlueskyChat
from bot.intake.sources.platform_http import failure, nearly_exhausted, seconds_until_reset

PAGE = 50
MAX_PAGES = 10
RATE = ("RateLimit-Remaining", "RateLimit-Reset")
LATE_OVERLAP = timedelta(minutes=15)
REASONS = ("mention", "reply", "quote")  # not likes, reposts or follows
_POST_URL = re.compile(r"^https://bsky\.app/profile/([^/]+)/post/([A-Za-z0-9]+)$")


@dataclass(frozen=True, slots=True)
class Stream:
    key: str  # its cursor's name in the source's state
    method: str
    query: dict[str, str]
    field: str  # where the listing's entries are in the answer
    addressed: bool
    late: bool = False  # entries can be indexed late: look back LATE_OVERLAP


class Bluesky(BlueskyChat, PolledSource):
    config: BlueskySource

    def __init__(self, config: BlueskySource) -> None:
        super().__init__(config)
        self.base = str(config.service).rstrip("/")
        self._session: dict[str, str] | None = None
        self._login = asyncio.Lock()

    # -- session ---------------------------------------------------------------------------

    async def _xrpc(
        self,
        http: aiohttp.ClientSession,
        method: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        proxy: str | None = None,
    ) -> tuple[Any, Any]:
        """Call an XRPC method with the session, logging in or refreshing once when needed;
        `proxy` names the service the PDS forwards it to (Bluesky's chat)."""
        for attempt in range(2):
            session = await self._ensure_session(http, renew=attempt > 0)
            status, answer, headers = await self._call(
                http, method, params=params, body=body, token=session["accessJwt"], proxy=proxy
            )
            error = answer.get("error") if isinstance(answer, dict) else None
            message = str(answer.get("message") or "") if isinstance(answer, dict) else ""
            # "InvalidToken: Bad token method/scope" is a token without the right (e.g. no
            # access to direct messages): a new session would not help.
            expired = status in (400, 401) and (
                error == "ExpiredToken" or (error == "InvalidToken" and "Bad token" not in message)
            )
            if not expired:
                if status >= 400:
                    raise failure(status, answer, headers, RATE)
                return answer, headers
        raise PollFailed("Bluesky keeps refusing the session (check handle and app password)")

    async def _ensure_session(self, http: aiohttp.ClientSession, *, renew: bool) -> dict[str, str]:
        async with self._login:
            if self._session is not None and not renew:
                return self._session
            if self._session is not None:  # try the refresh token before logging in again
                status, answer, _ = await self._call(
                    http,
                    "com.atproto.server.refreshSession",
                    post=True,  # a procedure without input: the server refuses any body
                    token=self._session["refreshJwt"],
                )
                if status < 300 and isinstance(answer, dict) and "accessJwt" in answer:
                    self._session = {**self._session, **answer}
                    return self._session
            status, answer, headers = await self._call(
                http,
                "com.atproto.server.createSession",
                body={"identifier": self.config.handle, "password": self.config.app_password},
            )
            if status >= 400 or not isinstance(answer, dict) or "accessJwt" not in answer:
                raise failure(status if status >= 400 else 502, answer, headers, RATE)
            self._session = answer
            return answer

    async def _call(
        self,
        http: aiohttp.ClientSession,
        method: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        post: bool = False,
        proxy: str | None = None,
    ) -> tuple[int, Any, Any]:
        url = f"{self.base}/xrpc/{method}" + (f"?{urlencode(params)}" if params else "")
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if proxy:
            headers["atproto-proxy"] = proxy
        try:
            request = http.post if post or body is not None else http.get
            async with request(url, json=body, headers=headers, timeout=self.timeout) as resp:
                try:
                    answer = await resp.json(content_type=None)
                except (json.JSONDecodeError, aiohttp.ContentTypeError, UnicodeDecodeError):
                    answer = None
                return resp.status, answer, resp.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self.unreachable(exc, url) from None

    # -- listening -------------------------------------------------------------------------

    async def fetch(
        self, http: aiohttp.ClientSession, cursor: Cursor, *, now: datetime, backfill_from: datetime
    ) -> Fetched:
        state = dict(cursor.state)
        found: dict[str, SourceItem] = {}
        wait: float | None = None
        streams: list[Stream] = []
        if self.config.notifications:
            method = "app.bsky.notification.listNotifications"
            streams.append(Stream("notifications", method, {}, "notifications", True))
        for term in self.config.search:
            query = {"q": term, "sort": "latest"}
            key = f"search:{term.lower()}"
            # Search indexing lags: look back a little behind the newest post seen.
            streams.append(Stream(key, "app.bsky.feed.searchPosts", query, "posts", False, True))
        for stream in streams:
            items, wait = await self._read_stream(http, stream, state, backfill_from)
            for item in items:
                found.setdefault(item.mention["external_id"], item)
            if wait is not None:
                break
        items = sorted(found.values(), key=lambda item: item.published)
        newest_at = max((item.published for item in items), default=cursor.newest_seen_at)
        if cursor.newest_seen_at and newest_at and newest_at < cursor.newest_seen_at:
            newest_at = cursor.newest_seen_at
        return Fetched(items, Cursor(newest_seen_at=newest_at, state=state), wait_seconds=wait)

    async def _read_stream(
        self,
        http: aiohttp.ClientSession,
        stream: Stream,
        state: dict[str, Any],
        backfill_from: datetime,
    ) -> tuple[list[SourceItem], float | None]:
        """Entries indexed since the stream's cursor, newest first, down to the cursor.

        The cursor (the newest `indexedAt` seen) moves only once a read has come all the way
        down to it. A read cut short (rate limit, page cap) keeps the page cursor where it
        stopped in `state`, and the next poll goes on from there before starting at the top
        again, so a burst bigger than a poll is never skipped. Updates `state` in place."""
        resume_key = f"{stream.key}#resume"
        seen = shaping.moment(state.get(stream.key)) or backfill_from
        cutoff = seen - LATE_OVERLAP if stream.late and stream.key in state else seen
        resume = state.get(resume_key) if isinstance(state.get(resume_key), dict) else None
        page_cursor: str | None = resume["cursor"] if resume else None
        top = shaping.moment(resume["newest"]) if resume else None
        items: list[SourceItem] = []
        for page in range(MAX_PAGES):
            params = {**stream.query, "limit": str(PAGE)}
            if page_cursor:
                params["cursor"] = page_cursor
            try:
                answer, headers = await self._xrpc(http, stream.method, params=params)
            except PollFailed as failed:
                if page == 0 and resume and str(failed).startswith("HTTP 400"):
                    # A page cursor it no longer takes: start over from the top.
                    state.pop(resume_key, None)
                    resume, page_cursor, top = None, None, None
                    continue
                if page == 0 or failed.retry_after is None:
                    raise
                _suspend(state, resume_key, page_cursor, top)
                return items, failed.retry_after
            entries = answer.get(stream.field) if isinstance(answer, dict) else None
            if not isinstance(entries, list):
                raise PollFailed(f"{stream.method} answered without {stream.field!r}")
            reached = False
            for entry in entries:
                indexed = (
                    shaping.moment(entry.get("indexedAt")) if isinstance(entry, dict) else None
                )
                if indexed is None:
                    continue
                top = indexed if top is None or indexed > top else top
                if indexed <= cutoff:
                    reached = True
                    continue
                if stream.field == "notifications" and entry.get("reason") not in REASONS:
                    continue
                brand = (self._session or {}).get("did")
                item = _item(entry, addressed=stream.addressed, published=indexed, brand=brand)
                if item is not None:
                    items.append(item)
            next_cursor = answer.get("cursor")
            if reached or not entries or not next_cursor:
                if top is not None and top > seen:
                    state[stream.key] = top.isoformat()
                state.pop(resume_key, None)
                return items, None
            page_cursor = str(next_cursor)
            if nearly_exhausted(headers, remaining=RATE[0]):
                _suspend(state, resume_key, page_cursor, top)
                return items, seconds_until_reset(headers, names=RATE) or 60.0
        _suspend(state, resume_key, page_cursor, top)
        return items, None

    # -- replying --------------------------------------------------------------------------

    async def resolve(self, http: aiohttp.ClientSession, url: str) -> dict[str, Any] | None:
        """The reply ref of a post known only by its bsky.app URL (a mention that came in
        through the webhook): the author's handle to a DID, then the post's uri and cid."""
        match = _POST_URL.match(url)
        if match is None:
            return None
        actor, rkey = match.groups()
        try:
            if not actor.startswith("did:"):
                answer, _ = await self._xrpc(
                    http, "com.atproto.identity.resolveHandle", params={"handle": actor}
                )
                actor = str(answer.get("did") or "") if isinstance(answer, dict) else ""
            uri = f"at://{actor}/app.bsky.feed.post/{rkey}"
            answer, _ = await self._xrpc(http, "app.bsky.feed.getPosts", params={"uris": uri})
        except PollFailed as failed:
            raise ReplyRefused(f"could not look the post up: {failed}") from None
        posts = answer.get("posts") if isinstance(answer, dict) else None
        if not posts or not isinstance(posts[0], dict):
            return None
        item = _item(posts[0], addressed=False, published=datetime.now(UTC))
        return item.reply_ref if item is not None else None

    async def post_reply(
        self,
        http: aiohttp.ClientSession,
        ref: dict[str, Any],
        *,
        text: str,
        private: bool,
        rkey: str,
        since: datetime,
    ) -> str:
        """Publish `text` in the thread of the post in `ref`; returns the reply's URL.

        The record key is fixed per draft (`rkey`, a TID): createRecord has no idempotency
        key, so a record with that key already in the repo (a Send whose answer was lost) is
        returned instead of posting the reply twice. Posts cannot be private: a private reply
        goes to the customer as a direct message in Bluesky's chat."""
        if private:
            return await self._direct_message(http, ref, text=text, since=since)
        parent = {"uri": ref["uri"], "cid": ref["cid"]}
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "reply": {"root": ref.get("root") or parent, "parent": parent},
        }
        collection = "app.bsky.feed.post"
        try:
            session = await self._ensure_session(http, renew=False)
            where = {"repo": session["did"], "collection": collection, "rkey": rkey}
            try:
                answer, _ = await self._xrpc(http, "com.atproto.repo.getRecord", params=where)
            except PollFailed as missing:
                if "RecordNotFound" not in str(missing):
                    raise
                answer, _ = await self._xrpc(
                    http, "com.atproto.repo.createRecord", body={**where, "record": record}
                )
        except PollFailed as failed:
            raise ReplyRefused(str(failed)) from None
        uri = answer.get("uri") if isinstance(answer, dict) else None
        if not isinstance(uri, str) or not uri.startswith("at://"):
            raise ReplyRefused("Bluesky's answer has no uri of the reply")
        return post_url(session.get("handle") or self.config.handle, uri)


_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable


def tid(moment: datetime, clock_id: int) -> str:
    """An AT Protocol TID (13 characters): microseconds since 1970 and a 10-bit clock id."""
    value = ((int(moment.timestamp() * 1_000_000) << 10) | (clock_id & 0x3FF)) & ((1 << 63) - 1)
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _suspend(
    state: dict[str, Any], key: str, page_cursor: str | None, top: datetime | None
) -> None:
    """Remember where an unfinished read stopped (and the newest item it saw on top)."""
    if page_cursor is None:
        return  # stopped on the very first page: the next poll simply starts over
    state[key] = {"cursor": page_cursor, "newest": top.isoformat() if top else None}


def post_url(handle: str, uri: str) -> str:
    """The bsky.app address of a post, from its at:// uri."""
    return f"https://bsky.app/profile/{handle}/post/{uri.rsplit('/', 1)[-1]}"


def _addresses(record: dict[str, Any], brand: str | None) -> bool:
    """Whether a post names the brand account (a mention facet) or answers one of its posts
    (its reply refs), however it was found."""
    if not brand:
        return False
    reply = record.get("reply") if isinstance(record.get("reply"), dict) else {}
    for ref in (reply.get("parent"), reply.get("root")):
        if isinstance(ref, dict) and str(ref.get("uri", "")).startswith(f"at://{brand}/"):
            return True
    facets = record.get("facets") if isinstance(record.get("facets"), list) else []
    return any(
        isinstance(feature, dict)
        and feature.get("$type") == "app.bsky.richtext.facet#mention"
        and feature.get("did") == brand
        for facet in facets
        if isinstance(facet, dict) and isinstance(facet.get("features"), list)
        for feature in facet["features"]
    )


def _without_text(embed: object) -> str | None:
    """What a post without text holds, for its card: its images or video (with the
    descriptions their author gave them) or the link it shares; None for anything else (a
    quote of another post with nothing added is no message to answer)."""
    if not isinstance(embed, dict):
        return None
    media = embed.get("media") if isinstance(embed.get("media"), dict) else embed
    kind = str(media.get("$type", ""))
    if kind.startswith("app.bsky.embed.images") and isinstance(media.get("images"), list):
        images = [image for image in media["images"] if isinstance(image, dict)]
        return shaping.without_text(len(images), [i.get("alt") for i in images]) if images else None
    if kind.startswith("app.bsky.embed.video"):
        return shaping.without_text(1, [media.get("alt")])
    external = media.get("external") if kind.startswith("app.bsky.embed.external") else None
    if isinstance(external, dict) and (link := shaping.web_url(external.get("uri"))):
        title = shaping.line(external.get("title"), 300)
        return f"[a link, no text{f': {title}' if title else ''}] {link}"
    return None


def _item(
    entry: dict[str, Any], *, addressed: bool, published: datetime, brand: str | None = None
) -> SourceItem | None:
    """A post (search hit) or a notification about a post, as a mention object; None for
    anything that is not a readable post."""
    record, author = entry.get("record"), entry.get("author")
    uri, cid = entry.get("uri"), entry.get("cid")
    if not (isinstance(record, dict) and isinstance(author, dict)):
        return None
    if not (isinstance(uri, str) and uri.startswith("at://") and isinstance(cid, str) and cid):
        return None
    body = record.get("text")
    if not isinstance(body, str) or not body.strip():
        body = _without_text(record.get("embed"))  # a photo of the broken card, say
    handle = shaping.line(author.get("handle")) or shaping.line(author.get("did"))
    if not body or handle is None or " " in handle:
        return None
    # createdAt is what the app says (any year: apps set it); indexedAt is when Bluesky saw
    # the post. As Bluesky sorts them: the earlier of the two, indexedAt when createdAt
    # cannot be when somebody wrote (such a date would cost the mention its validation).
    created = shaping.moment(record.get("createdAt"))
    if created is None or not plausible(created) or created > published:
        created = published
    mention: dict[str, Any] = {
        "source": "bluesky",
        "external_id": fitted_id(uri),
        "url": post_url(handle, uri),
        "text": shaping.text(body),
        "created_at": created.isoformat(),
        "author": shaping.author(
            handle[:200],
            name=author.get("displayName"),
            followers=author.get("followersCount"),
            url=f"https://bsky.app/profile/{handle}",
        ),
        "addressed": addressed or _addresses(record, brand),
        "private": False,
    }
    langs = record.get("langs")
    if isinstance(langs, list) and langs and (language := shaping.language(langs[0])):
        mention["language"] = language
    reply = record.get("reply") if isinstance(record.get("reply"), dict) else None
    parent = {"uri": uri, "cid": cid}
    root = reply.get("root") if reply else None
    parent_ref = reply.get("parent") if reply else None
    if isinstance(parent_ref, dict) and (parent_uri := shaping.line(parent_ref.get("uri"), 8192)):
        mention["in_reply_to"] = fitted_id(parent_uri)  # as the parent's own id was stored
    strong_root = isinstance(root, dict) and isinstance(root.get("uri"), str) and root.get("cid")
    ref = {**parent, "root": {"uri": root["uri"], "cid": root["cid"]} if strong_root else parent}
    return SourceItem(mention, published, reply_ref=ref)
