"""The composition root: builds every part from settings and config, starts and stops them."""

from __future__ import annotations

import asyncio
import gc
import logging

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app.server import WebParts, create_web_app
from bot.app.settings import Settings
from bot.app.slack_app import build_bolt_app, outbox_client
from bot.core import background
from bot.core.clock import Clock, SystemClock
from bot.core.config import WebcareConfig
from bot.core.user_languages import PeopleLanguages
from bot.delivery.replies import ReplyPublisher
from bot.delivery.scheduler import Scheduler
from bot.delivery.slack_budget import SlackBudget
from bot.delivery.worker import OutboxWorker
from bot.intake.ingest import Ingestor
from bot.intake.sources.poller import SourcePoller, build_sources
from handlers.sealed import modal_key
from handlers.services import Services, Workspace
from storage.db import close_unit_of_work, create_engine

log = logging.getLogger(__name__)

SLACK_TIMEOUT = 10.0  # seconds for one Slack Web API call
GC_YOUNG_THRESHOLD = 20_000
WEB_SHUTDOWN_TIMEOUT = 5.0  # seconds requests in flight get to finish at stop


class Runtime:
    """Everything `webcare serve` runs: web server, outbox worker and (maybe) Socket Mode."""

    def __init__(
        self,
        settings: Settings,
        config: WebcareConfig,
        *,
        clock: Clock | None = None,
        engine: AsyncEngine | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.clock = clock or SystemClock()
        self._owns_engine = engine is None
        self.engine = engine or create_engine(settings.database_url)
        lang = settings.webcare_language
        # One connection pool to Slack for everything (Bolt's per-request clients share it).
        # With a shared session slack_sdk uses the session's timeout, not the client's.
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT))
        self.worker = OutboxWorker(
            engine=self.engine,
            client=outbox_client(settings, self.http),
            config=config,
            clock=self.clock,
            lang=lang,
            interval=settings.webcare_channel_interval,
            budget=SlackBudget(
                engine=self.engine, clock=self.clock, per_minute=settings.webcare_slack_per_minute
            ),
            digest_after=settings.webcare_digest_after,
        )
        self.ingestor = Ingestor(
            engine=self.engine, config=config, clock=self.clock, on_stored=self.worker.wake
        )
        self.workspace = Workspace()
        # Sources and reply publishing share one client per account (a Bluesky session).
        # Polled platforms get their own HTTP pool: a slow instance never queues Slack calls.
        self.sources_http = aiohttp.ClientSession()
        self.sources = build_sources(config)
        self.poller = SourcePoller(
            engine=self.engine,
            ingestor=self.ingestor,
            config=config,
            clock=self.clock,
            session=self.sources_http,
            sources=self.sources,
            on_alert=self.worker.wake,
        )
        self.scheduler = Scheduler(
            engine=self.engine, clock=self.clock, config=config, on_fired=self.worker.wake
        )
        self.services = Services(
            engine=self.engine,
            clock=self.clock,
            config=config,
            lang=lang,
            wake_outbox=self.worker.wake,
            wake_scheduler=self.scheduler.wake,
            workspace=self.workspace,
            replies=ReplyPublisher(
                engine=self.engine, config=config, http=self.sources_http, sources=self.sources
            ),
            source_health=self.poller.health,
            modal_key=modal_key(settings.slack_bot_token),
            cards=self.worker.cards,
            languages=PeopleLanguages(self.worker.client, default=lang)
            if settings.webcare_user_language
            else None,
        )
        self.worker.languages = self.services.languages
        self.bolt_app = build_bolt_app(settings, services=self.services, session=self.http)
        self.web_app = create_web_app(
            WebParts(
                settings=settings,
                config=config,
                engine=self.engine,
                clock=self.clock,
                ingestor=self.ingestor,
                bolt_app=self.bolt_app,
                source_health=self.poller.health,
                slack_state=self.slack_state,
            )
        )
        self.socket_handler: AsyncSocketModeHandler | None = None
        self.auth: str = "not checked"
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.port: int | None = None

    async def _stop_web(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def slack_state(self) -> dict[str, object]:
        state: dict[str, object] = {
            "mode": "socket" if self.settings.socket_mode else "http",
            "auth": self.auth,
        }
        if self.socket_handler is not None:
            state["connected"] = await self.socket_handler.client.is_connected()
        return state

    async def start(self, *, run_worker: bool = True) -> None:
        await self._check_auth()
        self._runner = web.AppRunner(
            self.web_app, access_log=None, shutdown_timeout=WEB_SHUTDOWN_TIMEOUT
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        if run_worker:
            self.start_workers()
        if self.settings.socket_mode:
            self.socket_handler = AsyncSocketModeHandler(
                self.bolt_app, app_token=self.settings.slack_app_token
            )
            await self.socket_handler.connect_async()
        # Everything built so far lives as long as the process: take it out of the garbage
        # collector's view, or full collections under load stall every request for 100+ ms.
        gc.collect()
        gc.freeze()
        # Collect young objects less often: a burst of clicks allocates quickly, and each
        # collection pauses every request in flight (CPython's default is 700 allocations).
        gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
        log.info(
            "listening on %s:%s (%s mode)",
            self.settings.host,
            self.port,
            "Socket" if self.settings.socket_mode else "HTTP",
        )

    def start_workers(self) -> None:
        """The outbox, the scheduler and the sources: once the database schema is ready."""
        self._tasks = [
            asyncio.create_task(self.worker.run_forever(), name="outbox"),
            asyncio.create_task(self.scheduler.run_forever(), name="scheduler"),
        ]
        if self.config.sources:
            self._tasks.append(asyncio.create_task(self.poller.run_forever(), name="sources"))

    async def _check_auth(self) -> None:
        try:
            response = await self.worker.client.auth_test()
            self.auth = f"ok: {response.get('user')} in {response.get('team')}"
            self.workspace.url = response.get("url")
        except SlackApiError as exc:
            self.auth = f"error: {exc.response.get('error')}"
            log.error("Slack auth.test failed (%s): check SLACK_BOT_TOKEN", self.auth)
        except Exception as exc:  # Slack unreachable: keep taking mentions, deliver later
            self.auth = f"unreachable: {type(exc).__name__}"
            log.warning("Slack unreachable at start (%s); will keep retrying", exc)

    async def stop(self) -> None:
        """Stop within about STOP_GRACE seconds: requests already in are answered (and what
        they acked is stored), posts to Slack in flight finish, channels are released."""
        if self.socket_handler is not None:
            await self.socket_handler.close_async()
        # Both at once: the listener closes at once (the load balancer moves on), the
        # handlers in flight finish, and the outbox finishes the posts Slack is answering.
        await asyncio.gather(self.worker.stop(), self._stop_web())
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await background.drain()  # clicks already acked: finish their changes first
        if self.services.languages is not None:
            await self.services.languages.close()
        close_unit_of_work(self.engine)
        await self.http.close()
        await self.sources_http.close()
        if self._owns_engine:
            await self.engine.dispose()
