"""The child processes of bench.ack: the fake Slack, the real bot in HTTP mode (cards seeded, outbox
worker running) and a bare Bolt app whose only listener acks `case_claim`; and their handle in
the load generator (`Server`)."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import logging
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench._common import (
    CHANNEL_TEXTS,
    CONFIG,
    WEBHOOK_SECRET,
    cpu_seconds,
    mention,
    thread_cpu_seconds,
)

log = logging.getLogger("bench.ack")
ROOT = Path(__file__).resolve().parent.parent
PATH = "/slack/events"
SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"


# -- the servers (child processes) -----------------------------------------------------------


def _write_json(path: str, data: Any) -> None:
    Path(path).write_text(json.dumps(data))


async def _until_stopped(
    ready: dict[str, Any], cleanup: Callable[[], Awaitable[Any]], gc_log: str | None = None
) -> None:
    """Announce `ready` as the first stdout line, then serve until SIGTERM and clean up.

    With `gc_log`, every garbage collection from then on (each one stops the event loop) is
    written there as [wall clock at its end, generation, ms] when the server stops.
    """
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    pauses: list[tuple[float, int, float]] = []
    began = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            ms = 1000 * (time.perf_counter() - began[0])
            pauses.append((time.time(), info["generation"], ms))

    if gc_log:
        gc.callbacks.append(on_gc)
    print(json.dumps(ready), flush=True)
    await stop.wait()
    if gc_log:
        gc.callbacks.remove(on_gc)
        _write_json(gc_log, pauses)
    await cleanup()


async def serve_slack() -> None:
    """The fake Slack, plus a side app with its counts (`/stats`) and top-level posts (`/cards`)."""
    from tests.fake_slack import FakeSlack

    fake = FakeSlack(bot_token=BOT_TOKEN)
    await fake.start()

    async def stats(_request: web.Request) -> web.Response:
        calls = Counter(f"{c.method} {c.status}" for c in fake.calls)
        return web.json_response(
            {
                "calls": dict(calls),
                "ephemerals": len(fake.ephemerals),
                "block_errors": len(fake.block_errors),
                "ratelimited": fake.ratelimited_count,
            }
        )

    async def cards(_request: web.Request) -> web.Response:
        tops = [m for m in fake.posts() if not m.get("thread_ts")]
        keep = ("channel", "ts", "text", "blocks")
        return web.json_response([{k: m.get(k) for k in keep} for m in tops])

    side = web.Application()
    side.router.add_get("/stats", stats)
    side.router.add_get("/cards", cards)
    runner = web.AppRunner(side, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()

    async def cleanup() -> None:
        await runner.cleanup()
        await fake.stop()

    side_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    await _until_stopped({"api_url": fake.api_url, "side_url": side_url}, cleanup)


async def serve_bot(args: argparse.Namespace) -> None:
    """The real Runtime: migrate a fresh SQLite file, seed and deliver cards, then serve."""
    from bot.app.runtime import Runtime
    from bot.app.settings import Settings
    from bot.core.config import parse_config
    from bot.intake.mentions import parse_mentions
    from storage.db import create_engine
    from storage.migrate import upgrade

    url = f"sqlite+aiosqlite:///{args.db}"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=url,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=args.slack_url,
        webhook_secret=WEBHOOK_SECRET,
        host="127.0.0.1",
        port=0,
        webcare_channel_interval=args.interval,
        # The board is seeded at once: its cards, not a storm digest of them, are clicked.
        webcare_digest_after=0,
    )
    runtime = Runtime(settings, parse_config(CONFIG, source="bench"))
    started, texts = time.perf_counter(), list(CHANNEL_TEXTS.values())
    for first in range(0, args.seed_cases, 250):  # one mention (and author) per case
        numbers = range(first, min(first + 250, args.seed_cases))
        await runtime.ingestor.ingest(parse_mentions([mention(n, texts[n % 3]) for n in numbers]))
    runtime.worker.interval = 0  # seed the cards fast; the measured phase is paced as asked
    await runtime.worker.run_until_idle()
    runtime.worker.interval = args.interval
    seed_s = time.perf_counter() - started
    await runtime.start(run_worker=True)
    profiles = _RoundProfiles(runtime.engine) if args.profile else None

    async def cleanup() -> None:
        if profiles is not None:
            profiles.dump(args.profile)
        await runtime.stop()

    ready = {"port": runtime.port, "seed_s": round(seed_s, 2)}
    await _until_stopped(ready, cleanup, args.gc_log)


class _RoundProfiles:
    """cProfile of the bot during the measured rounds only: SIGUSR1 starts, SIGUSR2 stops.

    Two profiles: the event loop's thread, and the SQLite writer thread of the unit of work
    (cProfile sees one thread only; the writer competes with the loop for the GIL).
    """

    def __init__(self, engine: Any) -> None:
        from storage.db import unit_of_work

        self.loop_profile, self.db_profile = cProfile.Profile(), cProfile.Profile()
        self.writer = getattr(unit_of_work(engine), "_writer", None)  # None on PostgreSQL
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, self._switch, True)
        loop.add_signal_handler(signal.SIGUSR2, self._switch, False)

    def _switch(self, on: bool) -> None:
        (self.loop_profile.enable if on else self.loop_profile.disable)()
        if self.writer is not None:  # runs in the writer thread, between units of work
            self.writer.submit(self.db_profile.enable if on else self.db_profile.disable).result()

    def dump(self, path: str) -> None:
        self._switch(False)
        self.loop_profile.dump_stats(path)
        if self.writer is not None:
            self.db_profile.dump_stats(f"{path}.db")


async def serve_bare(args: argparse.Namespace) -> None:
    """A bare Bolt app: same secret, verification and adapter; its one listener only acks."""
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=args.slack_url),
        signing_secret=SIGNING_SECRET,
        request_verification_enabled=True,
    )

    @app.action("case_claim")
    async def claim(ack: AsyncAck) -> None:
        await ack()

    async def handle(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post(PATH, handle)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    await _until_stopped({"port": runner.addresses[0][1]}, runner.cleanup, args.gc_log)


@dataclass
class Server:
    """A child process serving one role; `info` is what it announced on its first line."""

    kind: str
    proc: asyncio.subprocess.Process
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def start(cls, kind: str, *extra: str, wait_s: float = 60) -> Server:
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bench.ack", "--serve", kind, *extra),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        server = cls(kind, proc)
        try:
            assert proc.stdout is not None
            server.info = json.loads(await asyncio.wait_for(proc.stdout.readline(), wait_s))
        except (TimeoutError, ValueError):
            await server.stop()
            raise RuntimeError(f"the {kind} server did not start") from None
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.info['port']}{PATH}"

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def thread_cpu(self) -> dict[str, float]:
        return thread_cpu_seconds(self.proc.pid)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def get_json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        response.raise_for_status()
        return await response.json()
