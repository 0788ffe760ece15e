"""The servers bench.ingest measures, each in a child process: the bot as deployed (outbox worker
on, posting to a fake Slack) and the floor (HMAC and timestamp check, JSON parse, 202); and
their handle in the load generator (`Server`: CPU, /metrics)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import signal
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from bench._common import (
    CONFIG,
    WEBHOOK_SECRET,
    cpu_seconds,
    mention,
)
from bot.app.runtime import Runtime
from bot.app.settings import Settings
from bot.core.config import parse_config
from bot.intake import webhook
from bot.intake.ingest import Ingestor, IngestResult
from bot.intake.mentions import MentionIn, parse_mentions
from storage.intake.rows import Incoming, Stored

log = logging.getLogger("bench.ingest")

ROOT = Path(__file__).resolve().parent.parent
PATH = "/ingest/webhook"


# -- the servers (child processes) -----------------------------------------------------------


async def serve(kind: str, db: str, slack_url: str) -> None:
    """Serve until SIGTERM; the first stdout line is the port."""
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    stage = kind.removeprefix("stage:") if kind.startswith("stage:") else None
    if kind == "bot" or stage is not None:
        if stage is not None:
            cut_short(stage)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=db,
            webhook_secret=WEBHOOK_SECRET,
            host="127.0.0.1",
            port=0,
            slack_bot_token="xoxb-bench",
            slack_signing_secret="bench-signing-secret",
            slack_api_url=slack_url,
        )
        runtime = Runtime(settings, parse_config(CONFIG, source="bench"))
        # As deployed: the outbox posts to Slack (bench.ingest_stages also measures without).
        await runtime.start(run_worker=stage in (None, "deployed"))
        port, cleanup = runtime.port, runtime.stop
    elif kind == "stored_floor":
        port, cleanup = await serve_floor(store=await stored_bodies(db))
    else:
        port, cleanup = await serve_floor()
    print(port, flush=True)
    await stop.wait()
    await cleanup()


# The request path's stages, in order (bench.ingest_stages): each stage's server answers once
# its step is done, and skips the rest.
STAGES = ("http", "parse", "group_commit", "store", "deployed")


def cut_short(stage: str) -> None:
    """Make this process's bot answer every webhook request once `stage` is done (each request
    answered as one new case stored); the steps after it are replaced, in this process only."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; one of {', '.join(STAGES)}")
    if stage == "http":  # the mention is not read: always the same one, validated once
        parsed = parse_mentions(mention(0))
        webhook.parse_body = lambda _body: parsed  # type: ignore[assignment]
    if stage in ("http", "parse"):

        async def answered(
            self: Ingestor, mentions: Sequence[MentionIn], **_: object
        ) -> IngestResult:
            return IngestResult(accepted=len(mentions), duplicates=0, case_ids=[0])

        Ingestor.ingest = answered  # type: ignore[method-assign]
    if stage == "group_commit":

        async def stored(self: Ingestor, items: list[Incoming]) -> list[Stored]:
            return [Stored(0, duplicate=False, new_case=True)] * len(items)

        Ingestor._store = stored  # type: ignore[method-assign]


async def serve_floor(store: Store | None = None) -> tuple[int, Any]:
    """The contract's minimum: a signed, fresh request with a JSON body gets its 202; with
    `store`, only once the body is committed (the stored floor, see `stored_bodies`)."""
    key = WEBHOOK_SECRET.encode()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get("X-Webcare-Timestamp", "0")
        signed = b"v1:" + timestamp.encode() + b":" + body
        expected = "v1=" + hmac.new(key, signed, hashlib.sha256).hexdigest()
        given = request.headers.get("X-Webcare-Signature", "")
        if not hmac.compare_digest(expected, given) or abs(time.time() - int(timestamp)) > 300:
            return web.json_response({"error": "bad signature"}, status=401)
        payload = json.loads(body)
        count = len(payload) if isinstance(payload, list) else 1
        if store is not None:
            await store(body)
        return web.json_response(
            {"accepted": count, "duplicates": 0, "case_ids": list(range(count))}, status=202
        )

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post(PATH, handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner.addresses[0][1], runner.cleanup


Store = Callable[[bytes], Awaitable[None]]


async def stored_bodies(db: str) -> Store:
    """What storing a mention before the 202 costs at the least, in the bot's database: each
    body as one row of a table with nothing but its primary key, the requests that arrive
    while a commit runs sharing the next one (group commit, as the bot does). No routing, no
    case, no card, no index to keep: any design that answers only once a mention is stored
    (DESIGN.md) pays at least this; bench.ingest_stages puts it beside the floor."""
    queue: list[tuple[bytes, asyncio.Future[None]]] = []
    writing: list[asyncio.Task[None]] = []
    if db.startswith("sqlite"):
        conn = sqlite3.connect(db.split("///", 1)[1], isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL"):  # as storage.db sets them
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("CREATE TABLE IF NOT EXISTS floor_bodies (id INTEGER PRIMARY KEY, body BLOB)")

        async def commit(bodies: list[bytes]) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO floor_bodies (body) VALUES (?)", [(b,) for b in bodies])
            conn.execute("COMMIT")
    else:
        pg = await asyncpg.connect(db.replace("postgresql+asyncpg", "postgresql"))
        await pg.execute(
            "CREATE TABLE IF NOT EXISTS floor_bodies (id serial PRIMARY KEY, body bytea)"
        )

        async def commit(bodies: list[bytes]) -> None:  # one statement: its own transaction
            await pg.execute("INSERT INTO floor_bodies (body) SELECT unnest($1::bytea[])", bodies)

    async def write() -> None:
        while queue:
            await asyncio.sleep(0)  # let the requests that have arrived join
            batch = queue[:]
            del queue[:]
            try:
                await commit([body for body, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for _, done in batch:
                done.set_result(None)
        writing.clear()

    async def store(body: bytes) -> None:
        done = asyncio.get_running_loop().create_future()
        queue.append((body, done))
        if not writing:
            writing.append(asyncio.create_task(write()))
        await done

    return store


def _child(pid: int) -> int:
    """The first child process of `pid` (Linux)."""
    return int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0])


@dataclass
class Server:
    kind: str
    proc: asyncio.subprocess.Process
    url: str
    pid: int = 0  # the server's own process (py-spy's child when profiled)

    @classmethod
    async def start(cls, kind: str, db: str, slack_url: str, profile: str | None = None) -> Server:
        spy = ()
        if profile:
            py_spy = str(Path(sys.executable).parent / "py-spy")
            spy = (py_spy, "record", "--rate", "250", "--format", "raw", "-o", profile, "--")
        proc = await asyncio.create_subprocess_exec(
            *spy,
            *(sys.executable, "-m", "bench.ingest", "--serve", kind, "--db", db),
            *("--slack-url", slack_url),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        server = cls(kind, proc, "", proc.pid)
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            while line and not line.strip().isdigit():  # py-spy's own lines
                line = await asyncio.wait_for(proc.stdout.readline(), 60)
            server.url = f"http://127.0.0.1:{int(line)}{PATH}"
            if profile:
                server.pid = _child(proc.pid)
        except (TimeoutError, ValueError, IndexError, OSError):
            await server.stop()
            raise RuntimeError(f"the {kind} server did not start") from None
        return server

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            # Profiled: py-spy writes its file once the server it runs has ended.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    async def batch_size(self) -> dict[str, float]:
        """The bot's group commit so far, from its /metrics: transactions, mentions per one."""
        return group_commit(*await self.batch_totals())

    async def batch_totals(self) -> tuple[float, float]:
        """(transactions, mentions) the bot has committed so far."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.url.replace(PATH, "/metrics")) as response,
        ):
            text = await response.text()
        found = dict(re.findall(r"^webcare_ingest_batch_size_(sum|count) (\S+)$", text, re.M))
        return float(found["count"]), float(found["sum"])


def group_commit(transactions: float, mentions: float) -> dict[str, float]:
    mean = mentions / transactions if transactions else 0.0
    return {"transactions": int(transactions), "mentions_per_transaction": round(mean, 2)}
