"""Webhook ingest throughput: the bot as deployed against the contract's minimum.

The bot runs as `webcare serve` runs it: its outbox worker, scheduler and Slack client on,
posting every new case's card to a fake Slack (in this process) that enforces Slack's
per-channel rate limit. The floor is a bare aiohttp handler doing what the contract asks at
the least: check the HMAC signature and its timestamp, parse the JSON, answer 202.
Both servers run in their own processes (`--serve bot|baseline`, started by this script) so the
load generator does not share their GIL. Phases alternate baseline, bot, baseline, bot, ...;
rates are the best round of each (`ratio_median` compares the median rounds), CPU costs the
total over all measured rounds; on PostgreSQL the database server's CPU per request is given
beside the bot's (`database_cpu_ms_per_request`: part of what a mention costs there).
`load_average_1m` shows whether others used the machine too.
Run: `python -m bench.ingest [--quick] [--postgres URL] [--profile FILE]`. Exit 1 when a check
(202s, rows stored) fails. `--profile` runs the bot under `py-spy record` (raw collapsed stacks in
FILE; attaching py-spy to a running process does not work on every machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

from bench._common import (
    CHANNEL_TEXTS,
    WEBHOOK_SECRET,
    cpu_seconds,
    emit,
    environment,
    mention,
    postgres_cpu,
    postgres_cpu_since,
    setup_logging,
)
from bench.ingest_servers import Server, group_commit, serve
from storage.db import create_engine
from storage.migrate import upgrade
from tests.conftest import webhook_signed
from tests.fake_slack import FakeSlack
from tests.scratch_databases import fresh_postgres_database

log = logging.getLogger("bench.ingest")

TEXTS = list(CHANNEL_TEXTS.values())


# -- the load generator ----------------------------------------------------------------------


@dataclass
class Bodies:
    """Signed request bodies; every mention gets a fresh number (new mention, new author)."""

    next_n: int = 0

    def make(self, requests: int, per_request: int) -> list[tuple[bytes, dict[str, str]]]:
        ts, out = str(int(time.time())), []
        for _ in range(requests):
            # Spread over the three departments' channels, as real traffic is.
            numbers = range(self.next_n, self.next_n + per_request)
            items = [mention(n, TEXTS[n % len(TEXTS)]) for n in numbers]
            self.next_n += per_request
            body = json.dumps(items[0] if per_request == 1 else items).encode()
            out.append((body, webhook_signed(body, secret=WEBHOOK_SECRET, timestamp=ts)))
        return out


@dataclass
class Phase:
    server: str
    requests: int = 0
    mentions: int = 0
    accepted: int = 0
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    loadgen_cpu_s: float = 0.0
    database_cpu_s: float = 0.0  # PostgreSQL's server processes (0 on SQLite: in the bot)
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.wall_s


async def run_phase(
    server: Server,
    bodies: list[tuple[bytes, dict[str, str]]],
    per_request: int,
    concurrency: int,
    limit_s: float,
) -> Phase:
    """Send every body, `concurrency` at a time, and measure wall time and both CPU clocks."""
    phase, work = Phase(server.kind), iter(bodies)

    async def worker(session: aiohttp.ClientSession) -> None:
        for body, headers in work:
            started = time.perf_counter()
            async with session.post(server.url, data=body, headers=headers) as response:
                answer = await response.read()
            phase.latencies.append(time.perf_counter() - started)
            phase.statuses[response.status] += 1
            if response.status == 202:
                phase.accepted += json.loads(answer)["accepted"]

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        cpu0, own0, db0 = server.cpu(), cpu_seconds(), postgres_cpu()
        t0 = time.perf_counter()
        async with asyncio.timeout(limit_s):
            await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        phase.wall_s = time.perf_counter() - t0
        phase.server_cpu_s, phase.loadgen_cpu_s = server.cpu() - cpu0, cpu_seconds() - own0
        phase.database_cpu_s = postgres_cpu_since(db0)
    phase.requests, phase.mentions = len(bodies), len(bodies) * per_request
    return phase


def targets(size: int, bot: dict[str, Any], base: dict[str, Any], database: str) -> dict[str, Any]:
    """The targets: for one mention a request, 0.5x the floor's throughput at no more than
    twice its CPU per request; in arrays, 20,000 mentions/s on SQLite, 10,000 on PostgreSQL.

    `ratio` compares the best rounds; `ratio_median` the median rounds, which says more on a
    machine that others are using at the same time.
    """
    if size == 1:
        ratio = round(bot["rps"] / base["rps"], 3)
        median = statistics.median(bot["rps_rounds"]) / statistics.median(base["rps_rounds"])
        cpu = round(bot["cpu_ms_per_request"] / base["cpu_ms_per_request"], 2)
        # The bot's best rate if it kept the machine as busy as the floor's rounds do, at the
        # CPU a request costs the whole machine (bot, database, load generator): above 0.5 only
        # when the cost per request allows the target at all on these cores.
        cores = os.cpu_count() or 1
        ceiling = base["machine_busy_share"] * cores / (bot["machine_cpu_ms_per_request"] / 1000)
        return {
            "ratio": ratio,
            "ratio_median": round(median, 3),
            "ratio_ceiling_at_floor_busy": round(ceiling / base["rps"], 3),
            "cpu_per_request_vs_floor": cpu,
            "target_ratio": 0.5,
            "target_cpu_vs_floor": 2.0,
            "meets_target": ratio >= 0.5 and cpu <= 2.0,
        }
    rate, wanted = bot["mentions_per_s"], 20_000 if database == "sqlite" else 10_000
    return {"target_mentions_per_s": wanted, "meets_target": rate >= wanted}


def summarise(phases: list[Phase], per: str) -> dict[str, Any]:
    """Best-round rate, CPU per request/mention over all rounds, latency of the best round."""
    best = max(phases, key=lambda p: p.rps)
    count = sum(p.requests if per == "request" else p.mentions for p in phases)
    wall = sum(p.wall_s for p in phases)
    machine = sum(p.server_cpu_s + p.database_cpu_s + p.loadgen_cpu_s for p in phases)
    lat = sorted(best.latencies)
    return {
        "rps_rounds": [round(p.rps, 1) for p in phases],
        "rps": round(best.rps, 1),
        "mentions_per_s": round(best.mentions / best.wall_s, 1),
        f"cpu_ms_per_{per}": round(1000 * sum(p.server_cpu_s for p in phases) / count, 4),
        "server_cpu_share": round(sum(p.server_cpu_s for p in phases) / wall, 3),
        # On PostgreSQL what the database spent beside the bot (the floor uses none).
        f"database_cpu_ms_per_{per}": round(
            1000 * sum(p.database_cpu_s for p in phases) / count, 4
        ),
        "loadgen_cpu_share": round(sum(p.loadgen_cpu_s for p in phases) / wall, 3),
        # Server, database and load generator together: of all cores, and per request.
        "machine_busy_share": round(machine / wall / (os.cpu_count() or 1), 3),
        f"machine_cpu_ms_per_{per}": round(1000 * machine / count, 4),
        "latency_ms_p50": round(1000 * lat[len(lat) // 2], 2),
        "latency_ms_p99": round(1000 * lat[int(len(lat) * 0.99)], 2),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()
    # Slack's limit: about one message per second per channel, short bursts allowed.
    slack = FakeSlack(bot_token="xoxb-bench", post_rate_per_channel=1.0, post_burst=3)
    with tempfile.TemporaryDirectory(prefix="webcare-bench-") as tmp:
        async with slack, bench_database(args.postgres, Path(tmp)) as db:
            servers = [
                await Server.start("baseline", db, slack.api_url),
                await Server.start("bot", db, slack.api_url, args.profile),
            ]
            try:
                phases, results = await run_all(servers, args)
                group_commit = await servers[1].batch_size()
            finally:
                for server in servers:
                    await server.stop()
            rows = await count_mentions(db)
            cards = len(slack.posts())
            ratelimited = slack.ratelimited_count
    statuses = Counter[int]()
    for phase in phases:
        statuses.update(phase.statuses)
    sent = sum(p.mentions for p in phases if p.server == "bot")
    accepted = sum(p.accepted for p in phases if p.server == "bot")
    return {
        "benchmark": "ingest",
        "database": "postgresql" if args.postgres else "sqlite",
        **results,
        "stored_ok": rows == sent == accepted and set(statuses) == {202},
        "mentions_sent_to_bot": sent,
        "mentions_stored": rows,
        "mentions_accepted": accepted,
        "statuses": {str(k): v for k, v in statuses.items()},
        "bot_group_commit": group_commit,
        # The outbox ran as deployed: cards it posted meanwhile, and Slack's 429s to it.
        "slack_cards_posted": cards,
        "slack_429s": ratelimited,
        "requests": sum(p.requests for p in phases),
        "rounds": args.rounds,
        # The machine's 1-minute load before and after: well above what the benchmark itself
        # puts on it (about 1.5) means someone else was using the cores too.
        "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        **environment(),
    }


@contextlib.asynccontextmanager
async def bench_database(postgres: str | None, tmp: Path) -> AsyncIterator[str]:
    """A migrated, empty database: a SQLite file, or a PostgreSQL database of its own."""
    if not postgres:
        url = f"sqlite+aiosqlite:///{tmp / 'webcare.db'}"
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        yield url
        return
    async with fresh_postgres_database(postgres, prefix="bench") as url:
        yield url


async def count_mentions(db: str) -> int:
    engine = create_engine(db)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM mentions"))).scalar_one())
    finally:
        await engine.dispose()


async def run_all(
    servers: list[Server], args: argparse.Namespace
) -> tuple[list[Phase], dict[str, Any]]:
    """Warm up each server, then per plan alternate baseline and bot for `args.rounds` rounds."""
    bodies, phases, results = Bodies(), [], {}
    for server in servers:  # warm-up: imports, connection pools, the SQLite page cache
        warm = bodies.make(args.warmup, 1)
        phases.append(await run_phase(server, warm, 1, args.concurrency, args.timeout))
    plans = [("single", 1, args.requests, args.concurrency)] + [
        (f"array{args.array_size}_c{c}", args.array_size, args.array_requests, c)
        for c in args.array_concurrency
    ]
    for name, size, requests, concurrency in plans:
        rounds: dict[str, list[Phase]] = {"baseline": [], "bot": []}
        committed = await servers[1].batch_totals()
        for r in range(args.rounds):
            for server in servers:
                batch = bodies.make(requests, size)
                phase = await run_phase(server, batch, size, concurrency, args.timeout)
                rate = phase.mentions / phase.wall_s
                log.info("%s #%d %s: %.0f mentions/s", name, r + 1, server.kind, rate)
                rounds[server.kind].append(phase)
        phases += rounds["baseline"] + rounds["bot"]
        per = "request" if size == 1 else "mention"
        base, bot = summarise(rounds["baseline"], per), summarise(rounds["bot"], per)
        transactions, mentions = await servers[1].batch_totals()
        results[name] = {
            "concurrency": concurrency,
            **targets(size, bot, base, "postgresql" if args.postgres else "sqlite"),
            **{f"bot_{k}": v for k, v in bot.items()},
            **{f"baseline_{k}": v for k, v in base.items()},
            "bot_group_commit": group_commit(transactions - committed[0], mentions - committed[1]),
        }
    return phases, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (< 30 s)")
    parser.add_argument("--requests", type=int, default=4000, help="single-mention requests")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--array-size", type=int, default=100)
    parser.add_argument("--array-requests", type=int, default=150, help="per round")
    parser.add_argument("--array-concurrency", type=int, nargs="+", default=[4])
    parser.add_argument("--rounds", type=int, default=3, help="baseline/bot pairs per phase")
    parser.add_argument("--warmup", type=int, default=300, help="requests per server")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per phase")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # bot, baseline or stage:NAME
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on PostgreSQL (a fresh database made on this server), e.g. "
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument("--profile", metavar="FILE", help="run the bot under py-spy record")
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--slack-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    setup_logging()
    if args.serve:
        asyncio.run(serve(args.serve, args.db, args.slack_url))
        return 0
    if args.quick:
        args.requests, args.array_requests, args.rounds, args.warmup = 400, 15, 2, 50
    result = asyncio.run(bench(args))
    emit(result)
    return 0 if result["stored_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
