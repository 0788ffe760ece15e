"""The Slack side: Web API clients and the Bolt app with our listeners."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.app.settings import Settings
from handlers.services import Services

log = logging.getLogger(__name__)


class _NoTokenWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and, as we hand it a client
    made with that same token, warns that "`token` will be unused" at every start: a warning
    nobody can act on, as a newcomer's first log line. Only that message is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


logging.getLogger("slack_bolt.AsyncApp").addFilter(_NoTokenWarning())


def listener_client(
    settings: Settings, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """For listeners: waits out 429s and retries 5xx, since a reply to a click must arrive.

    Pass a long-lived `session`: without one, slack_sdk opens a new connection for every call.
    """
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        session=session,
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def outbox_client(
    settings: Settings, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """For the outbox, which handles 429 and 5xx itself so one channel's pause stalls no other."""
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        session=session,
        timeout=10,
        retry_handlers=[],
    )


def build_bolt_app(
    settings: Settings, *, services: Services, session: aiohttp.ClientSession | None = None
) -> AsyncApp:
    """A Bolt app with every listener registered; HTTP requests are verified unless Socket Mode."""
    from handlers import register_listeners

    app = _WebcareApp(
        client=listener_client(settings, session),
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not settings.socket_mode,
        process_before_response=settings.webcare_ack_after_work,
    )

    app.middleware(_AddServices(services, ack_after_work=settings.webcare_ack_after_work))
    register_listeners(app)
    return app


class _WebcareApp(AsyncApp):
    """Bolt's app, telling listeners when a request's answer to Slack is on its way.

    `context["answered"]` is done once the dispatch has returned the answer (the ack, in
    HTTP and Socket Mode alike). Work a listener hands to handlers.payloads.after_ack starts
    only then: it never delays its own click's answer, and in a burst of clicks the database
    work of the first ones does not compete with the acks of the rest for the event loop and
    the GIL while those are still being read.
    """

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        answered = asyncio.get_running_loop().create_future()
        req.context["answered"] = answered
        try:
            return await super().async_dispatch(req)
        finally:
            if not answered.done():
                answered.set_result(None)


class _AddServices(AsyncMiddleware):
    """Puts `services`, the language and `ack_after_work` in every request's context.

    A subclass rather than a function middleware: Bolt inspects a function's signature and
    builds its arguments on every request, which is most of the cost of a middleware this small.
    """

    def __init__(self, services: Services, *, ack_after_work: bool) -> None:
        self.services = services
        self.ack_after_work = ack_after_work

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],  # Bolt passes it by this name
    ) -> BoltResponse:
        languages = self.services.languages
        user_id = req.context.user_id
        req.context["lang"] = languages.lang_for(user_id) if languages else self.services.lang
        req.context["services"] = self.services
        req.context["ack_after_work"] = self.ack_after_work
        return await next()
