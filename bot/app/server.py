"""The one aiohttp application: Slack requests, the webhook, health and metrics."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app.settings import Settings
from bot.core import metrics
from bot.core.clock import Clock
from bot.core.config import WebcareConfig
from bot.insight import backlog
from bot.insight.team_status import SAMPLE, expected_reply_minutes
from bot.intake.ingest import Ingestor
from bot.intake.sources.health import SourceHealth, source_report
from bot.intake.webhook import MAX_BODY, webhook_handler
from storage import cursors, outbox_report
from storage.db import ping

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WebParts:
    """What the web app answers from, handed to it by the composition root (bot.app.runtime)."""

    settings: Settings
    config: WebcareConfig
    engine: AsyncEngine
    clock: Clock
    ingestor: Ingestor
    bolt_app: AsyncApp
    source_health: SourceHealth
    slack_state: Callable[[], Awaitable[dict[str, object]]]


def create_web_app(parts: WebParts) -> web.Application:
    # The webhook answers a body over the limit with its own 413 (aiohttp raises, it catches).
    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post(
        "/ingest/webhook",
        webhook_handler(ingestor=parts.ingestor, secret=parts.settings.webhook_secret),
    )
    if not parts.settings.socket_mode:
        app.router.add_post("/slack/events", slack_events_handler(parts.bolt_app))
    app.router.add_get("/healthz", health_handler(parts))
    app.router.add_get("/metrics", metrics_handler(parts))
    app.router.add_get("/public/expected-reply-time", expected_reply_handler(parts))
    return app


def slack_events_handler(bolt_app: AsyncApp):  # type: ignore[no-untyped-def]
    async def handle(request: web.Request) -> web.Response:
        try:
            bolt_request = await to_bolt_request(request)
        except (UnicodeDecodeError, LookupError, ValueError) as exc:
            # Not UTF-8, an unknown charset, a payload that is not JSON: before any signature
            # check, so one log line and a 400, never a traceback anyone could flood the log with.
            log.warning("refused an unreadable request to /slack/events (%s)", type(exc).__name__)
            return web.json_response({"error": "the request body could not be read"}, status=400)
        return await to_aiohttp_response(await bolt_app.async_dispatch(bolt_request))

    return handle


def health_handler(parts: WebParts):  # type: ignore[no-untyped-def]
    """Up or down for anyone (a load balancer, a monitor); the detail only with the token:
    /healthz is unauthenticated, and workspace names or a feed's errors are nobody's business."""
    token = parts.settings.webcare_health_token

    async def handle(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        detail = bool(token) and hmac.compare_digest(given.encode(), token.encode())
        slack = await parts.slack_state()
        if not detail:
            slack["auth"] = str(slack["auth"]).split(":")[0]  # "ok", "error", "unreachable"
        body: dict[str, object] = {"slack": slack}
        try:
            async with asyncio.timeout(3):
                await ping(parts.engine)
                async with parts.engine.connect() as conn:
                    body["outbox"] = await conn.run_sync(outbox_report.counts_by_status)
                    late = backlog.health(
                        await conn.run_sync(outbox_report.backlog), now=parts.clock.now()
                    )
                    if late:  # only while behind: a quiet health check stays as it was
                        body["behind"] = late if detail else [{**b, "channel": "?"} for b in late]
                    rows = await cursors.all_cursors(conn)
                    sources = source_report(
                        parts.config,
                        rows,
                        now=parts.clock.now(),
                        polled=parts.source_health.polled,
                    )
                    body["sources"] = (
                        sources
                        if detail
                        else {name: "down" if s["down"] else "ok" for name, s in sources.items()}
                    )
        except Exception as exc:
            body["database"] = f"down: {type(exc).__name__}"
            return web.json_response({"status": "unavailable", **body}, status=503)
        body["database"] = "ok"
        return web.json_response({"status": "ok", **body})

    return handle


def metrics_handler(parts: WebParts):  # type: ignore[no-untyped-def]
    async def handle(_request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(3), parts.engine.connect() as conn:
                metrics.OUTBOX_WAITING.set(await conn.run_sync(outbox_report.pending_count))
                backlog.show(await conn.run_sync(outbox_report.backlog), now=parts.clock.now())
                metrics.OUTBOX_DEAD.set(await conn.run_sync(outbox_report.dead_count))
                rows = await cursors.all_cursors(conn)
            metrics.show_sources(
                source_report(
                    parts.config,
                    rows,
                    now=parts.clock.now(),
                    polled=parts.source_health.polled,
                )
            )
        except Exception:
            pass  # /metrics still answers; /healthz reports the database
        return web.Response(
            body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    return handle


def expected_reply_handler(parts: WebParts):  # type: ignore[no-untyped-def]
    """What a website or social profile shows: "we reply within ~N minutes". No secrets."""

    cached: dict[str, Any] = {}

    async def handle(_request: web.Request) -> web.Response:
        # Public and unauthenticated: answer from a one-minute cache so nobody can make the
        # bot recompute it (and slow down Slack's acks) on every request.
        now = asyncio.get_running_loop().time()
        if cached.get("until", 0.0) > now:
            return web.json_response(
                cached["body"], headers={"Cache-Control": "public, max-age=60"}
            )
        config = parts.config
        overall = await expected_reply_minutes(parts.engine, config=config)
        departments = {
            d.key: await expected_reply_minutes(parts.engine, config=config, department=d)
            for d in config.departments
        }
        body = {
            "expected_reply_minutes": _rounded(overall),
            "departments": {key: _rounded(minutes) for key, minutes in departments.items()},
            "measured_as": f"median business minutes to the first reply, last {SAMPLE} cases",
        }
        cached.update(body=body, until=now + 60)
        return web.json_response(body, headers={"Cache-Control": "public, max-age=60"})

    return handle


def _rounded(minutes: float | None) -> int | None:
    return None if minutes is None else round(minutes)
