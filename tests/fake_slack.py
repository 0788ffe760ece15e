"""A fake Slack Web API and Socket Mode server over real HTTP, for tests.

Point the bot at it with ``AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)``.
It records every call, answers in Slack's documented shapes, enforces Slack's Block Kit and rate
limits, and can be told to fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from tests.fake_slack_blocks import message_errors, view_errors

TEAM_ID = "T_FAKE"
BOT_USER_ID = "U_FAKEBOT"
BOT_ID = "B_FAKEBOT"
APP_ID = "A_FAKE"
MAX_TEXT_LENGTH = 40_000
JSON_FIELDS = ("blocks", "attachments", "metadata", "view")
_CONTENT_FIELDS = ("text", "blocks", "attachments", "metadata")
_HTTP_ERRORS = {429: "ratelimited", 503: "service_unavailable"}

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Call:
    """One Web API call as the fake received and answered it."""

    method: str
    args: dict[str, Any]
    token: str | None
    status: int
    response: dict[str, Any]
    at: float


class _Fail(Exception):
    """Ends a call with ``{"ok": false, "error": error, **extra}``."""

    def __init__(
        self, error: str, *, status: int = 200, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(error)
        self.error, self.status, self.headers, self.extra = error, status, headers or {}, extra


@dataclass
class _TokenBucket:
    rate: float  # tokens per second
    capacity: int
    tokens: float = field(init=False)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def take(self) -> float:
        """Take a token; return 0, or the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class FakeSlack:
    """Fake Slack on 127.0.0.1 (random port); use as ``async with FakeSlack() as fake``."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
        post_rate_per_channel: float | None = None,
        post_burst: int = 1,
        update_rate_per_minute: float | None = None,
        update_burst: int = 1,
    ) -> None:
        self.bot_token, self.app_token = bot_token, app_token
        self.calls: list[Call] = []
        self.ratelimited_count = 0
        self.block_errors: list[str] = []
        self.missing_channels: set[str] = set()
        self.unjoined_channels: set[str] = set()
        self.ephemerals: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []
        self.home_views: dict[str, dict[str, Any]] = {}
        self.files: list[dict[str, Any]] = []  # shared files: id, title, channel, comment, data
        self.responses: list[dict[str, Any]] = []  # posts to response_url (delayed answers)
        self._uploads: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}  # per-user overrides merged into users.info
        self._messages: list[dict[str, Any]] = []
        self._post_rate, self._post_burst = post_rate_per_channel, post_burst
        self._post_buckets: dict[str, _TokenBucket] = {}
        self._update_bucket = (
            _TokenBucket(update_rate_per_minute / 60, update_burst)
            if update_rate_per_minute
            else None
        )
        self._failures: dict[str, deque[tuple[int, int | None, str | None]]] = {}
        self._down = False
        self._delay = 0.0
        self._delayed_methods: set[str] | None = None
        self._last_ts_us = 0
        self._tickets: set[str] = set()
        self._sockets: set[web.WebSocketResponse] = set()
        self._socket: web.WebSocketResponse | None = None
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._changed = asyncio.Condition()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._methods: dict[str, Handler] = {
            "apps.connections.open": self._connections_open,
            "auth.test": self._auth_test,
            "chat.getPermalink": self._get_permalink,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "conversations.join": self._join,
            "conversations.open": self._open,
            "users.info": self._users_info,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve on 127.0.0.1 on a free port."""
        self._stopping.clear()
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_get("/link/", self._handle_socket)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_post("/respond/{token}", self._handle_respond)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Close Socket Mode connections, cut delayed answers short and stop serving."""
        self._stopping.set()
        for waiter in self._acks.values():
            waiter.cancel()
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        """Web API base URL with a trailing slash, as slack_sdk's ``base_url`` expects."""
        if self._port is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self._port}/api/"

    # -- inspection --------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        """Successful (``ok: true``) calls to ``method``."""
        return [c for c in self.calls if c.method == method and c.response.get("ok")]

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages as they stand now (updates applied), top-level and replies, oldest first."""
        return [dict(m) for m in self._messages if channel in (None, m["channel"])]

    def last_post(self, channel: str) -> dict[str, Any] | None:
        """The newest top-level message in ``channel``."""
        top = [m for m in self.posts(channel) if not _is_reply(m)]
        return top[-1] if top else None

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Replies in the thread under ``ts``, oldest first."""
        return [m for m in self.posts(channel) if _is_reply(m) and m["thread_ts"] == ts]

    async def wait_for_posts(
        self,
        n: int,
        channel: str | None = None,
        timeout: float = 10,  # noqa: ASYNC109 - agreed API
    ) -> None:
        """Wait until at least ``n`` messages were posted (to ``channel``); raise TimeoutError."""
        await self._wait_until(lambda: len(self.posts(channel)) >= n, timeout)

    async def wait_for(self, predicate: Callable[[], bool], seconds: float = 10) -> None:
        """Wait until ``predicate()`` holds after some call; raise TimeoutError."""
        await self._wait_until(predicate, seconds)

    # -- failure injection -------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 500,
        count: int = 1,
        retry_after: int | None = None,
        error: str | None = None,
    ) -> None:
        """Answer the next ``count`` calls to ``method`` with HTTP ``status`` (and ``error``)."""
        self._failures.setdefault(method, deque()).extend([(status, retry_after, error)] * count)

    def set_down(self, down: bool) -> None:
        """While down, every Web API call is answered with HTTP 503."""
        self._down = down

    def set_delay(self, seconds: float, *, methods: set[str] | None = None) -> None:
        """Hold Web API answers (of `methods`, or all) back this long; the call itself takes
        effect at once."""
        self._delay = seconds
        self._delayed_methods = methods

    # -- Socket Mode -------------------------------------------------------------------------

    async def wait_for_socket(self, timeout: float = 10) -> None:  # noqa: ASYNC109 - agreed API
        """Wait until a Socket Mode client is connected and was sent ``hello``."""
        await self._wait_until(lambda: self._socket is not None, timeout)

    async def send_envelope(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        timeout: float = 5,  # noqa: ASYNC109 - agreed API
    ) -> dict[str, Any]:
        """Send an envelope to the connected Socket Mode client and return its ack message."""
        envelope_id = str(uuid.uuid4())
        self._acks[envelope_id] = waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await self.wait_for_socket(timeout)
                socket = self._socket
                if socket is None:
                    raise ConnectionError("the Socket Mode client disconnected")
                envelope = {
                    "envelope_id": envelope_id,
                    "type": envelope_type,
                    "payload": payload,
                    "accepts_response_payload": True,
                }
                await socket.send_json(envelope)
                return await waiter
        finally:
            del self._acks[envelope_id]

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("ticket") not in self._tickets:
            raise web.HTTPUnauthorized()
        ws = web.WebSocketResponse()  # autoping answers the client's pings
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "fake-applink", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": APP_ID},
                }
            )
            self._socket = ws
            await self._notify()
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._on_socket_text(message.data)
        finally:
            self._sockets.discard(ws)
            if self._socket is ws:
                self._socket = None
        return ws

    def _on_socket_text(self, data: str) -> None:
        ack = json.loads(data)
        waiter = self._acks.get(ack.get("envelope_id", ""))
        if waiter is not None and not waiter.done():
            waiter.set_result(ack)

    # -- Web API plumbing --------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = {}
        token = _bearer_token(request)
        try:
            args = await _read_args(request)
            token = token or args.get("token")
            args.pop("token", None)
            status, headers, body = 200, {}, {"ok": True, **self._answer(method, args, token)}
        except _Fail as fail:
            status, headers = fail.status, fail.headers
            body = {"ok": False, "error": fail.error, **fail.extra}
        if status == 429:
            self.ratelimited_count += 1
        self.calls.append(Call(method, args, token, status, body, time.monotonic()))
        await self._notify()
        if self._delay and (self._delayed_methods is None or method in self._delayed_methods):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._delay)
        return web.json_response(body, status=status, headers=headers)

    def _answer(self, method: str, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        if self._down:
            raise _Fail("service_unavailable", status=503)
        if self._failures.get(method):
            status, retry_after, error = self._failures[method].popleft()
            headers = {"Retry-After": str(retry_after or 1)} if status == 429 else {}
            error = error or _HTTP_ERRORS.get(status, "internal_error")
            raise _Fail(error, status=status, headers=headers)
        handler = self._methods.get(method)
        if handler is None:
            raise _Fail("unknown_method")
        if not token:
            raise _Fail("not_authed")
        if token != (self.app_token if method == "apps.connections.open" else self.bot_token):
            raise _Fail("invalid_auth")
        return handler(args)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _wait_until(self, predicate: Callable[[], bool], seconds: float) -> None:
        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(predicate)

    def _next_ts(self) -> str:
        """A message ts: real time in microseconds, strictly increasing."""
        self._last_ts_us = max(time.time_ns() // 1000, self._last_ts_us + 1)
        seconds, micros = divmod(self._last_ts_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _channel(self, args: dict[str, Any], *, member: bool = False) -> str:
        channel = args.get("channel")
        if not channel or channel in self.missing_channels:
            raise _Fail("channel_not_found")
        if member and channel in self.unjoined_channels:
            raise _Fail("not_in_channel")
        return str(channel)

    def _find(self, channel: str, ts: Any) -> dict[str, Any]:
        for message in self._messages:
            if message["channel"] == channel and message["ts"] == ts:
                return message
        raise _Fail("message_not_found")

    def _throttle(self, bucket: _TokenBucket | None) -> None:
        wait = bucket.take() if bucket else 0.0
        if wait:
            retry_after = str(max(1, math.ceil(wait)))
            raise _Fail("ratelimited", status=429, headers={"Retry-After": retry_after})

    def _check_blocks(self, errors: list[str]) -> None:
        if errors:
            self.block_errors.extend(errors)
            raise _Fail("invalid_blocks", errors=errors)

    def _check_content(self, args: dict[str, Any]) -> None:
        text = args.get("text")
        if not (text or args.get("blocks") or args.get("attachments")):
            raise _Fail("no_text")
        if isinstance(text, str) and len(text) > MAX_TEXT_LENGTH:
            self.block_errors.append(f"must be less than {MAX_TEXT_LENGTH + 1} characters [text]")
            raise _Fail("msg_too_long")
        if "blocks" in args:
            self._check_blocks(message_errors(args["blocks"]))
        metadata = args.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
        ):
            raise _Fail("invalid_metadata_format")

    # -- Web API methods ---------------------------------------------------------------------

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake.slack.com/",
            "team": "Fake Team",
            "user": "webcare",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self._port}/link/?ticket={ticket}"}

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args, member=True)
        if self._post_rate and channel not in self._post_buckets:
            self._post_buckets[channel] = _TokenBucket(self._post_rate, self._post_burst)
        self._throttle(self._post_buckets.get(channel))
        self._check_content(args)
        message = {
            "type": "message",
            "channel": channel,
            "ts": self._next_ts(),
            "thread_ts": args.get("thread_ts") or None,
            "text": args.get("text") or "",
            "blocks": args.get("blocks"),
            "attachments": args.get("attachments"),
            "metadata": args.get("metadata"),
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
        }
        parent = next((m for m in self._messages if _is_parent_of(m, message)), None)
        if parent is not None:
            parent["thread_ts"] = parent["ts"]
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            parent["latest_reply"] = message["ts"]
        self._messages.append(message)
        return {"channel": channel, "ts": message["ts"], "message": _public(message)}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        message = self._find(channel, args.get("ts"))
        self._throttle(self._update_bucket)
        self._check_content(args)
        message.update({k: args[k] for k in _CONTENT_FIELDS if k in args})
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        public = _public(message)
        return {"channel": channel, "ts": message["ts"], "text": message["text"], "message": public}

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args, member=True)
        if not args.get("user"):
            raise _Fail("user_not_in_channel")
        self._check_content(args)
        ts = self._next_ts()
        keys = ("user", "thread_ts", "text", "blocks", "attachments")
        self.ephemerals.append({"channel": channel, "ts": ts, **{k: args.get(k) for k in keys}})
        return {"message_ts": ts}

    def _get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        message = self._find(channel, args.get("message_ts"))
        link = f"https://fake.slack.com/archives/{channel}/p{message['ts'].replace('.', '')}"
        if _is_reply(message):
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"channel": channel, "permalink": link}

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or math.inf)
        inclusive, bounds = _truthy(args.get("inclusive")), (args.get("oldest"), args.get("latest"))
        found = [
            m
            for m in reversed(self._messages)
            if m["channel"] == channel
            and not _is_reply(m)
            and (oldest < float(m["ts"]) < latest or (inclusive and m["ts"] in bounds))
        ]
        limit = int(args.get("limit") or 100)
        with_metadata = _truthy(args.get("include_all_metadata"))
        return {
            "messages": [_public(m, with_metadata=with_metadata) for m in found[:limit]],
            "has_more": len(found) > limit,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread: its parent first, then the replies, oldest first (as Slack answers)."""
        channel, parent_ts = self._channel(args), args.get("ts")
        if not parent_ts:
            raise _Fail("invalid_arguments")
        thread = [
            m
            for m in self._messages
            if m["channel"] == channel and (m["ts"] == parent_ts or m["thread_ts"] == parent_ts)
        ]
        if not thread:
            raise _Fail("thread_not_found")
        oldest = float(args.get("oldest") or 0)
        shown = [m for m in thread if m["ts"] == parent_ts or float(m["ts"]) > oldest]
        limit = int(args.get("limit") or 1000)
        with_metadata = _truthy(args.get("include_all_metadata"))
        return {
            "messages": [_public(m, with_metadata=with_metadata) for m in shown[:limit]],
            "has_more": len(shown) > limit,
        }

    def _join(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        self.unjoined_channels.discard(channel)
        return {"channel": {"id": channel, "is_channel": True, "is_member": True}}

    def _open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = args.get("users") or ""
        ids = sorted(u.strip() for u in (users if isinstance(users, list) else users.split(",")))
        if not any(ids):
            raise _Fail("users_list_not_supplied")
        return {"channel": {"id": "D_" + "_".join(ids), "is_im": len(ids) == 1}}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user") or "")
        if not user.startswith(("U", "W")):
            raise _Fail("user_not_found")
        name = f"User {user}"
        info = {
            "id": user,
            "team_id": TEAM_ID,
            "name": user.lower(),
            "real_name": name,
            "tz": "Europe/Amsterdam",
            "tz_label": "Central European Time",
            "tz_offset": 3600,
            "is_bot": False,
            "deleted": False,
            "profile": {"real_name": name, "display_name": user.lower()},
        }
        if _truthy(args.get("include_locale")):  # only asked for, as Slack does
            info["locale"] = "en-US"
        overrides = self.users.get(user, {})
        if "locale" in overrides and not _truthy(args.get("include_locale")):
            overrides = {k: v for k, v in overrides.items() if k != "locale"}
        return {"user": {**info, **overrides}}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id"):
            raise _Fail("invalid_arguments")
        return self._save_view(args, view_id=_new_view_id())

    def response_url(self, token: str = "cmd") -> str:
        """A response_url for interaction payloads; what the app posts there is recorded."""
        return f"http://127.0.0.1:{self._port}/respond/{token}"

    async def _handle_respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.responses.append({"token": request.match_info["token"], **body})
        await self._notify()
        return web.Response(text="ok")

    def _upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        """files.getUploadURLExternal: a URL on this server to POST the bytes to."""
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            raise _Fail("invalid_arguments")
        file_id = f"F{len(self._uploads) + 1:08d}"
        self._uploads[file_id] = {"name": args["filename"], "length": int(args["length"])}
        return {"upload_url": f"http://127.0.0.1:{self._port}/upload/{file_id}", "file_id": file_id}

    async def _handle_upload(self, request: web.Request) -> web.Response:
        upload = self._uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="unknown upload")
        upload["data"] = await request.read()
        return web.Response(text=f"OK - {len(upload['data'])}")

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        """files.completeUploadExternal: share the uploaded files in a channel."""
        files = args.get("files")
        files = json.loads(files) if isinstance(files, str) else files
        if not files:
            raise _Fail("invalid_arguments")
        shared = []
        for item in files:
            upload = self._uploads.get(item.get("id"))
            if upload is None or "data" not in upload:
                raise _Fail("file_not_found")
            if len(upload["data"]) != upload["length"]:
                raise _Fail("file_upload_size_mismatch")
            record = {
                "id": item["id"],
                "title": item.get("title"),
                "name": upload["name"],
                "channel": args.get("channel_id"),
                "comment": args.get("initial_comment"),
                "data": upload["data"],
            }
            self.files.append(record)
            shared.append({"id": item["id"], "title": item.get("title"), "name": upload["name"]})
        return {"files": shared}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        if not any(v["id"] == args.get("view_id") for v in self.views):
            raise _Fail("not_found")
        return self._save_view(args, view_id=args["view_id"])

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user = args.get("user_id")
        if not user:
            raise _Fail("invalid_arguments")
        old = self.home_views.get(user)
        result = self._save_view(args, view_id=old["id"] if old else _new_view_id())
        self.home_views[user] = result["view"]
        return result

    def _save_view(self, args: dict[str, Any], *, view_id: str) -> dict[str, Any]:
        view = args.get("view")
        if not isinstance(view, dict):
            raise _Fail("invalid_arguments")
        self._check_blocks(view_errors(view))
        saved = {
            "private_metadata": "",
            "callback_id": "",
            **view,
            "id": view_id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "hash": self._next_ts(),
            "state": {"values": {}},
        }
        self.views.append(saved)
        return {"view": saved}


def _is_reply(message: dict[str, Any]) -> bool:
    return message["thread_ts"] not in (None, message["ts"])


def _is_parent_of(candidate: dict[str, Any], reply: dict[str, Any]) -> bool:
    return (
        reply["thread_ts"] is not None
        and candidate["channel"] == reply["channel"]
        and candidate["ts"] == reply["thread_ts"]
    )


def _public(message: dict[str, Any], *, with_metadata: bool = True) -> dict[str, Any]:
    """A stored message as the Web API shows it: no channel, no empty fields."""
    hidden = {"channel"} if with_metadata else {"channel", "metadata"}
    return {k: v for k, v in message.items() if v is not None and k not in hidden}


def _new_view_id() -> str:
    return "V" + uuid.uuid4().hex[:10].upper()


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


async def _read_args(request: web.Request) -> dict[str, Any]:
    """Merge query-string, JSON and form arguments; decode JSON-string fields such as blocks."""
    args: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _Fail("invalid_json") from None
            if not isinstance(body, dict):
                raise _Fail("json_not_object")
            args.update(body)
        else:  # x-www-form-urlencoded and multipart/form-data; file parts are skipped
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
    for key in JSON_FIELDS:
        if isinstance(args.get(key), str):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(args[key])
    return args
