"""Fake Mastodon and Bluesky servers over real HTTP, answering in the platforms' documented
formats: Mastodon's REST API (notifications, tag timelines and v2 search with `min_id` /
`max_id` paging, `Link` headers, `X-RateLimit-*` headers, Idempotency-Key on posting) and
Bluesky's XRPC (sessions with expiring access tokens, listNotifications and searchPosts with
opaque cursors, createRecord checking a post's reply refs, `RateLimit-*` headers)."""

from __future__ import annotations

import asyncio
import html
import itertools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.core.clock import Clock

TOKEN = "mastodon-test-token-123"


def _h_cards(text: str) -> str:
    """Mentions as Mastodon publishes them: a link showing only the username."""
    return re.sub(
        r"@([\w.-]+)@([\w.:-]+)",
        r'<span class="h-card"><a href="https://\2/@\1" class="u-url mention">@<span>\1'
        r"</span></a></span>",
        text,
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@dataclass
class RateLimit:
    """X-RateLimit-* bookkeeping: `remaining` requests until `reset`."""

    limit: int = 300
    remaining: int = 300
    reset: datetime = field(default_factory=lambda: datetime.now(UTC) + timedelta(minutes=5))


class FakeMastodon:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock  # the test's clock: statuses posted here are dated by it
        self.url = ""
        self.host = ""
        self.notifications: list[dict[str, Any]] = []  # newest first, like the API
        self.tags: dict[str, list[dict[str, Any]]] = {}
        self.searchable: list[dict[str, Any]] = []
        self.posted: list[dict[str, Any]] = []
        self.requests: list[str] = []
        self.rate = RateLimit()
        self.fail_with: int | None = None
        # At most this many items a page, whatever `limit` asks: a server-side cap, or
        # filtered statuses dropped from a page, give short pages that are not the last.
        self.page_cap: int | None = None
        self.delay = 0.0
        self.post_delay = 0.0  # the reply is stored, then the answer is this late
        self.brand: dict[str, Any] = {}  # the account the token belongs to, once serving
        self._replies: list[dict[str, Any]] = []
        self._sequence = itertools.count()
        self._idempotent: dict[str, dict[str, Any]] = {}
        self._by_url: dict[str, dict[str, Any]] = {}  # every status, for resolve=true

    # -- content -----------------------------------------------------------------------------

    def account(self, username: str, *, domain: str | None = None, followers: int = 10) -> dict:
        acct = f"{username}@{domain}" if domain else username
        host = domain or self.host
        return {
            "id": str(abs(hash(acct)) % 10**6),
            "username": username,
            "acct": acct,
            "display_name": username.capitalize(),
            "locked": False,
            "bot": False,
            "created_at": "2022-01-01T00:00:00.000Z",
            "note": "",
            "url": f"https://{host}/@{username}",
            "followers_count": followers,
            "following_count": 3,
            "statuses_count": 42,
        }

    def status(
        self,
        html: str,
        *,
        account: dict[str, Any],
        at: datetime,
        visibility: str = "public",
        language: str | None = "nl",
        spoiler: str = "",
        in_reply_to_id: str | None = None,
        mentions: tuple[dict[str, Any], ...] = (),
    ) -> dict[str, Any]:
        """A status; `mentions` are the accounts it names (Mastodon lists them itself)."""
        status_id = self._snowflake(at)
        host = account["url"].split("/")[2]
        status = {
            "id": status_id,
            "created_at": _iso(at),
            "in_reply_to_id": in_reply_to_id,
            "in_reply_to_account_id": None,
            "sensitive": bool(spoiler),
            "spoiler_text": spoiler,
            "visibility": visibility,
            "language": language,
            "uri": f"https://{host}/users/{account['username']}/statuses/{status_id}",
            "url": f"https://{host}/@{account['username']}/{status_id}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "content": html,
            "reblog": None,
            "account": account,
            "media_attachments": [],
            "mentions": [
                {"id": a["id"], "username": a["username"], "url": a["url"], "acct": a["acct"]}
                for a in mentions
            ],
            "tags": [],
            "emojis": [],
        }
        self._by_url[status["url"]] = self._by_url[status["uri"]] = status
        return status

    def mention(self, status: dict[str, Any]) -> dict[str, Any]:
        """A "mention" notification about `status`, newest first in the list."""
        notification = {
            "id": self._snowflake(datetime.fromisoformat(status["created_at"])),
            "type": "mention",
            "created_at": status["created_at"],
            "account": status["account"],
            "status": status,
        }
        self.notifications.insert(0, notification)
        return notification

    def _snowflake(self, at: datetime) -> str:
        """Mastodon's ids: milliseconds since 1970 << 16, plus a sequence number."""
        return str((int(at.timestamp() * 1000) << 16) | (next(self._sequence) & 0xFFFF))

    def tagged(self, tag: str, status: dict[str, Any]) -> None:
        self.tags.setdefault(tag.lower(), []).insert(0, status)

    # -- serving -----------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[FakeMastodon]:
        app = web.Application(middlewares=[self._gate])
        app.router.add_get("/api/v1/notifications", self._notifications)
        app.router.add_get("/api/v1/timelines/tag/{tag}", self._tag)
        app.router.add_get("/api/v2/search", self._search)
        app.router.add_post("/api/v1/statuses", self._post)
        app.router.add_get("/api/v1/accounts/verify_credentials", self._me)
        app.router.add_get("/api/v1/statuses/{id}/context", self._context)
        runner, self.url = await _serve(app)
        self.host = self.url.split("//")[1]
        self.brand = self.account("acmebank")
        try:
            yield self
        finally:
            await runner.cleanup()

    def _rate_headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.rate.limit),
            "X-RateLimit-Remaining": str(max(0, self.rate.remaining)),
            "X-RateLimit-Reset": _iso(self.rate.reset),
        }

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(str(request.rel_url))
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "The access token is invalid"}, status=401)
        if self.fail_with:
            return web.json_response({"error": "Something went wrong"}, status=self.fail_with)
        if self.rate.remaining <= 0:
            return web.json_response(
                {"error": "Too many requests"}, status=429, headers=self._rate_headers()
            )
        self.rate.remaining -= 1
        response = await handler(request)
        response.headers.update(self._rate_headers())
        return response

    def _limit(self, request: web.Request) -> int:
        return min(int(request.query.get("limit", 20)), 40, self.page_cap or 40)

    def _page(self, request: web.Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Mastodon's paging over a newest-first list by id."""
        limit = self._limit(request)
        key = lambda item: int(item["id"])  # noqa: E731
        if "min_id" in request.query:  # the page right after min_id, shown newest first
            after = sorted((i for i in items if key(i) > int(request.query["min_id"])), key=key)
            return sorted(after[:limit], key=key, reverse=True)
        chosen = sorted(items, key=key, reverse=True)
        if "max_id" in request.query:
            chosen = [i for i in chosen if key(i) < int(request.query["max_id"])]
        if "since_id" in request.query:
            chosen = [i for i in chosen if key(i) > int(request.query["since_id"])]
        return chosen[:limit]

    def _linked(self, request: web.Request, page: list[dict[str, Any]]) -> web.Response:
        headers = {}
        if page:
            base = f"{self.url}{request.path}"
            extra = "&".join(
                f"{k}={v}" for k, v in request.query.items() if k not in ("min_id", "max_id")
            )
            newest, oldest = page[0]["id"], page[-1]["id"]
            headers["Link"] = (
                f'<{base}?{extra}&max_id={oldest}>; rel="next", '
                f'<{base}?{extra}&min_id={newest}>; rel="prev"'
            )
        return web.json_response(page, headers=headers)

    async def _notifications(self, request: web.Request) -> web.Response:
        types = request.query.getall("types[]", [])
        items = [n for n in self.notifications if not types or n["type"] in types]
        return self._linked(request, self._page(request, items))

    async def _tag(self, request: web.Request) -> web.Response:
        items = self.tags.get(request.match_info["tag"].lower(), [])
        return self._linked(request, self._page(request, items))

    async def _search(self, request: web.Request) -> web.Response:
        query = request.query.get("q", "").lower()
        if request.query.get("resolve") == "true" and query.startswith("https://"):
            found = self._by_url.get(request.query["q"])
            statuses = [found] if found else []
            return web.json_response({"accounts": [], "statuses": statuses, "hashtags": []})
        # As StatusesSearchService: newest first; min_id/max_id bound the range, offset pages.
        hits = sorted(
            (s for s in self.searchable if query in s["content"].lower()),
            key=lambda s: int(s["id"]),
            reverse=True,
        )
        if "min_id" in request.query:
            hits = [s for s in hits if int(s["id"]) > int(request.query["min_id"])]
        if "max_id" in request.query:
            hits = [s for s in hits if int(s["id"]) < int(request.query["max_id"])]
        limit = self._limit(request)
        offset = int(request.query.get("offset", 0))
        page = hits[offset : offset + limit]
        return web.json_response({"accounts": [], "statuses": page, "hashtags": []})

    async def _post(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        if key and key in self._idempotent:
            return web.json_response(self._idempotent[key])
        body = await request.json()
        if not body.get("status"):
            return web.json_response({"error": "Validation failed: Text can't be blank"}, 422)
        if body.get("visibility") not in ("public", "unlisted", "private", "direct"):
            return web.json_response({"error": "Visibility is not included in the list"}, 422)
        self.posted.append({**body, "idempotency_key": key})
        status = self.status(
            f"<p>{_h_cards(html.escape(body['status']))}</p>",
            account=self.brand,
            at=self.clock.now(),
            visibility=body["visibility"],
            in_reply_to_id=body.get("in_reply_to_id"),
        )
        parent = next(
            (s for s in self._by_url.values() if s["id"] == body.get("in_reply_to_id")), None
        )
        status["in_reply_to_account_id"] = parent["account"]["id"] if parent else None
        if key:
            self._idempotent[key] = status
        self._replies.append(status)
        if self.post_delay:
            await asyncio.sleep(self.post_delay)
        return web.json_response(status)

    def forget_idempotency_keys(self) -> None:
        """Mastodon keeps them for an hour."""
        self._idempotent.clear()

    async def _me(self, _request: web.Request) -> web.Response:
        return web.json_response({**self.brand, "source": {"privacy": "public"}})

    async def _context(self, request: web.Request) -> web.Response:
        status_id = request.match_info["id"]
        known = [s for s in self._by_url.values() if s["id"] == status_id]
        if not known:
            return web.json_response({"error": "Record not found"}, status=404)
        below = [r for r in self._replies if r["in_reply_to_id"] == status_id]
        return web.json_response({"ancestors": [], "descendants": below})


class FakeBluesky:
    HANDLE = "acmebank.bsky.social"
    DID = "did:plc:acmebank000000000000000"
    PASSWORD = "abcd-efgh-ijkl-mnop"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock  # the test's clock: messages sent here are dated by it
        self.url = ""
        self.notifications: list[dict[str, Any]] = []  # newest first
        self.posts: list[dict[str, Any]] = []  # searchable, newest first
        self.created: list[dict[str, Any]] = []
        self.requests: list[str] = []
        self.logins = 0
        self.create_delay = 0.0  # the post is stored, then the answer is this late
        self.dms: list[dict[str, Any]] = []  # messages sent in chat: convoId, text, sender
        self.dms_closed: set[str] = set()  # DIDs that accept no messages from the brand
        self.dm_delay = 0.0
        self.dm_access = True  # the app password was made with access to direct messages
        self.refreshes = 0
        self.remaining = 3000
        self.fail_with: int | None = None
        self._tokens = itertools.count(1)
        self._access: str | None = None
        self._refresh: str | None = None
        self._rkeys = itertools.count(1)
        self._expired: set[str] = set()
        self._by_uri: dict[str, dict[str, Any]] = {}

    def expire_access(self) -> None:
        """The access token runs out (they live minutes); the refresh token still works."""
        if self._access:
            self._expired.add(self._access)
        self._access = None

    # -- content -----------------------------------------------------------------------------

    def post(
        self,
        text: str,
        *,
        handle: str,
        at: datetime,
        reply_to: dict[str, Any] | None = None,
        langs: tuple[str, ...] = ("nl",),
    ) -> dict[str, Any]:
        """A post view; `reply_to` is the post view it answers (the thread root is kept)."""
        rkey = f"3l{next(self._rkeys):011d}"
        did = self.DID if handle == self.HANDLE else f"did:plc:{handle.split('.')[0]:0<24}"
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "createdAt": _iso(at),
            "text": text,
            "langs": list(langs),
        }
        facets = self._facets(text)
        if facets:
            record["facets"] = facets
        if reply_to is not None:
            parent = {"uri": reply_to["uri"], "cid": reply_to["cid"]}
            root = reply_to["record"].get("reply", {}).get("root", parent)
            record["reply"] = {"root": root, "parent": parent}
        view = {
            "uri": f"at://{did}/app.bsky.feed.post/{rkey}",
            "cid": f"bafyreib{rkey}cid",
            "author": {
                "did": did,
                "handle": handle,
                "displayName": handle.split(".")[0].capitalize(),
                "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did}/x@jpeg",
                "labels": [],
                "createdAt": "2023-05-01T00:00:00.000Z",
            },
            "record": record,
            "replyCount": 0,
            "repostCount": 0,
            "likeCount": 0,
            "quoteCount": 0,
            "indexedAt": _iso(at + timedelta(seconds=1)),
            "labels": [],
        }
        self._by_uri[view["uri"]] = view
        return view

    def _facets(self, text: str) -> list[dict[str, Any]]:
        """Mention facets as the app writes them: byte ranges of each @handle it resolved."""
        facets = []
        data = text.encode()
        for match in re.finditer(rb"@([a-z0-9.-]+\.[a-z]+)", data):
            handle = match.group(1).decode()
            did = self.DID if handle == self.HANDLE else f"did:plc:{handle.split('.')[0]:0<24}"
            facets.append(
                {
                    "index": {"byteStart": match.start(), "byteEnd": match.end()},
                    "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}],
                }
            )
        return facets

    def notify(self, post: dict[str, Any], reason: str = "mention") -> None:
        self.notifications.insert(
            0,
            {
                "uri": post["uri"],
                "cid": post["cid"],
                "author": post["author"],
                "reason": reason,
                "record": post["record"],
                "isRead": False,
                "indexedAt": post["indexedAt"],
                "labels": [],
            },
        )

    # -- serving -----------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[FakeBluesky]:
        app = web.Application(middlewares=[self._gate])
        app.router.add_post("/xrpc/com.atproto.server.createSession", self._create_session)
        app.router.add_post("/xrpc/com.atproto.server.refreshSession", self._refresh_session)
        app.router.add_get("/xrpc/app.bsky.notification.listNotifications", self._list)
        app.router.add_get("/xrpc/app.bsky.feed.searchPosts", self._search)
        app.router.add_post("/xrpc/com.atproto.repo.createRecord", self._create_record)
        app.router.add_get("/xrpc/com.atproto.identity.resolveHandle", self._resolve_handle)
        app.router.add_get("/xrpc/app.bsky.feed.getPosts", self._get_posts)
        app.router.add_get("/xrpc/com.atproto.repo.getRecord", self._get_record)
        app.router.add_get("/xrpc/chat.bsky.convo.getConvoForMembers", self._convo_for)
        app.router.add_get("/xrpc/chat.bsky.convo.getMessages", self._messages)
        app.router.add_post("/xrpc/chat.bsky.convo.sendMessage", self._send_message)
        runner, self.url = await _serve(app)
        try:
            yield self
        finally:
            await runner.cleanup()

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(str(request.rel_url))
        headers = {
            "RateLimit-Limit": "3000",
            "RateLimit-Remaining": str(max(0, self.remaining)),
            "RateLimit-Reset": str(int(datetime.now(UTC).timestamp()) + 300),
            "RateLimit-Policy": "3000;w=300",
        }
        if self.fail_with:
            return web.json_response(
                {"error": "InternalServerError", "message": "Internal Server Error"},
                status=self.fail_with,
                headers=headers,
            )
        if self.remaining <= 0:
            return web.json_response(
                {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                status=429,
                headers=headers,
            )
        self.remaining -= 1  # the answer reports what is left after this request
        headers["RateLimit-Remaining"] = str(self.remaining)
        response = await handler(request)
        response.headers.update(headers)
        return response

    def _authorized(self, request: web.Request) -> web.Response | None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token in self._expired:
            return web.json_response(
                {"error": "ExpiredToken", "message": "Token has expired"}, status=400
            )
        if not token or token != self._access:
            return web.json_response(
                {"error": "AuthenticationRequired", "message": "Authentication Required"},
                status=401,
            )
        return None

    def _new_tokens(self) -> dict[str, str]:
        number = next(self._tokens)
        self._access, self._refresh = f"access-{number}", f"refresh-{number}"
        return {
            "accessJwt": self._access,
            "refreshJwt": self._refresh,
            "handle": self.HANDLE,
            "did": self.DID,
        }

    async def _create_session(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("identifier") != self.HANDLE or body.get("password") != self.PASSWORD:
            return web.json_response(
                {"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
                status=401,
            )
        self.logins += 1
        return web.json_response({**self._new_tokens(), "active": True})

    async def _refresh_session(self, request: web.Request) -> web.Response:
        if await request.read():  # xrpc-server's assertEmptyBody for a procedure without input
            return web.json_response(
                {
                    "error": "InvalidRequest",
                    "message": "A request body was provided when none was expected",
                },
                status=400,
            )
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token != self._refresh:
            return web.json_response(
                {"error": "ExpiredToken", "message": "Token has expired"}, status=400
            )
        self.refreshes += 1
        return web.json_response(self._new_tokens())

    @staticmethod
    def _paged(request: web.Request, items: list[dict[str, Any]], name: str) -> web.Response:
        """Newest first; the cursor is a position in time (like the AppView's), so items that
        arrive between two pages do not shift what the next page holds."""
        limit = min(int(request.query.get("limit", 50)), 100)
        ordered = sorted(items, key=lambda i: (i["indexedAt"], i["uri"]), reverse=True)
        if cursor := request.query.get("cursor"):
            if "::" not in cursor:
                return web.json_response(
                    {"error": "InvalidRequest", "message": "Malformed cursor"}, status=400
                )
            at, _, uri = cursor.partition("::")
            ordered = [i for i in ordered if (i["indexedAt"], i["uri"]) < (at, uri)]
        page = ordered[:limit]
        body: dict[str, Any] = {name: page}
        if len(ordered) > limit:
            body["cursor"] = f"{page[-1]['indexedAt']}::{page[-1]['uri']}"
        return web.json_response(body)

    async def _list(self, request: web.Request) -> web.Response:
        if refused := self._authorized(request):
            return refused
        return self._paged(request, self.notifications, "notifications")

    async def _search(self, request: web.Request) -> web.Response:
        if refused := self._authorized(request):
            return refused
        query = request.query.get("q", "").lower()
        if request.query.get("sort") != "latest":
            return web.json_response({"error": "InvalidRequest"}, status=400)
        hits = [p for p in self.posts if query in p["record"]["text"].lower()]
        return self._paged(request, hits, "posts")

    async def _resolve_handle(self, request: web.Request) -> web.Response:
        handle = request.query.get("handle", "")
        for view in self._by_uri.values():
            if view["author"]["handle"] == handle:
                return web.json_response({"did": view["author"]["did"]})
        return web.json_response(
            {"error": "InvalidRequest", "message": "Unable to resolve handle"}, status=400
        )

    async def _get_posts(self, request: web.Request) -> web.Response:
        if refused := self._authorized(request):
            return refused
        uris = request.query.getall("uris", [])
        return web.json_response({"posts": [self._by_uri[u] for u in uris if u in self._by_uri]})

    async def _get_record(self, request: web.Request) -> web.Response:
        """As a PDS answers: public (no session needed), the repo by DID or handle, and the
        record itself as `value` with the cid createRecord gave."""
        repo, rkey = request.query.get("repo"), request.query.get("rkey")
        if not repo or not rkey or not request.query.get("collection"):
            return web.json_response({"error": "InvalidRequest"}, status=400)
        for created in self.created:
            if created["rkey"] == rkey and repo in (self.DID, self.HANDLE):
                uri = f"at://{self.DID}/{created['collection']}/{rkey}"
                value = created["record"]
                return web.json_response({"uri": uri, "cid": f"bafyreic{rkey}", "value": value})
        return web.json_response(
            {"error": "RecordNotFound", "message": f"Could not locate record: {rkey}"}, status=400
        )

    def _chat(self, request: web.Request) -> web.Response | None:
        """Chat goes through the PDS to the chat service, named in the atproto-proxy header."""
        if refused := self._authorized(request):
            return refused
        if request.headers.get("atproto-proxy") != "did:web:api.bsky.chat#bsky_chat":
            return web.json_response(
                {"error": "MethodNotImplemented", "message": "Method Not Implemented"}, status=501
            )
        if not self.dm_access:  # as the PDS answers an app password without chat access
            return web.json_response(
                {"error": "InvalidToken", "message": "Bad token method"}, status=400
            )
        return None

    async def _convo_for(self, request: web.Request) -> web.Response:
        if refused := self._chat(request):
            return refused
        members = request.query.getall("members", [])
        if not members or any(not m.startswith("did:") for m in members):
            return web.json_response({"error": "InvalidRequest"}, status=400)
        if any(m in self.dms_closed for m in members):
            return web.json_response(
                {
                    "error": "MessagesDisabled",
                    "message": "recipient has disabled incoming messages",
                },
                status=400,
            )
        convo_id = "3kconvo" + "".join(sorted(m.rsplit(":", 1)[-1] for m in members))[:12]
        return web.json_response(
            {"convo": {"id": convo_id, "rev": "1", "members": [], "muted": False, "unreadCount": 0}}
        )

    async def _messages(self, request: web.Request) -> web.Response:
        if refused := self._chat(request):
            return refused
        convo = request.query.get("convoId")
        mine = [m for m in reversed(self.dms) if m["convoId"] == convo]
        views = [
            {"id": f"m{i}", "text": m["text"], "sender": {"did": self.DID}, "sentAt": m["sentAt"]}
            for i, m in enumerate(mine)
        ]
        return web.json_response({"messages": views[: int(request.query.get("limit", 50))]})

    async def _send_message(self, request: web.Request) -> web.Response:
        if refused := self._chat(request):
            return refused
        body = await request.json()
        text = (body.get("message") or {}).get("text")
        if not body.get("convoId") or not text:
            return web.json_response({"error": "InvalidRequest"}, status=400)
        self.dms.append(
            {"convoId": body["convoId"], "text": text, "sentAt": _iso(self.clock.now())}
        )
        if self.dm_delay:
            await asyncio.sleep(self.dm_delay)
        return web.json_response(
            {"id": f"m{len(self.dms)}", "rev": "2", "text": text, "sender": {"did": self.DID}}
        )

    async def _create_record(self, request: web.Request) -> web.Response:
        if refused := self._authorized(request):
            return refused
        body = await request.json()
        record = body.get("record", {})
        problems = []
        if body.get("repo") != self.DID or body.get("collection") != "app.bsky.feed.post":
            problems.append("repo/collection")
        if record.get("$type") != "app.bsky.feed.post" or not record.get("createdAt"):
            problems.append("record type/createdAt")
        if len(record.get("text", "")) > 300:
            problems.append("Record/text must not be longer than 300 graphemes")
        reply = record.get("reply")
        if reply is not None:
            for ref in ("root", "parent"):
                strong = reply.get(ref) or {}
                if not str(strong.get("uri", "")).startswith("at://") or not strong.get("cid"):
                    problems.append(f"reply/{ref} must be a strong ref")
        if problems:
            return web.json_response(
                {"error": "InvalidRequest", "message": "; ".join(problems)}, status=400
            )
        rkey = body.get("rkey") or f"3m{next(self._rkeys):011d}"
        if any(c.get("rkey") == rkey for c in self.created if c.get("rkey")):
            return web.json_response(
                {"error": "InvalidRequest", "message": "Record already exists"}, status=400
            )
        self.created.append({**body, "rkey": rkey})
        if self.create_delay:
            await asyncio.sleep(self.create_delay)
        return web.json_response(
            {
                "uri": f"at://{self.DID}/app.bsky.feed.post/{rkey}",
                "cid": f"bafyreic{rkey}",
                "commit": {"cid": "bafyreicommit", "rev": "3m0000000000"},
                "validationStatus": "valid",
            }
        )
