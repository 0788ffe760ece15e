"""Where a single-mention webhook request's CPU goes: the bot cut short at each stage of the
request path, each beside the floor of bench.ingest in the same run.

Stages, each adding one step to the one before:
- `http`: the bot's aiohttp app, the size limit and the HMAC and timestamp check; 202 at once
  (the JSON is not even read, which the floor does: this stage can cost less than the floor);
- `parse`: + reading and validating the mention (pydantic);
- `group_commit`: + routing, SLA deadlines and the group commit, but no database (each request
  is answered as if stored);
- `store`: + the transaction (SQLite in the bot's process; PostgreSQL beside it, whose own CPU
  is `database_cpu_ms_per_request`), without the outbox worker;
- `deployed`: as `webcare serve` runs, outbox worker posting cards and digests to a fake Slack.

Beside them, `stored_floor`: the floor that also stores each body before its 202, at the least
(one row, no index but its key, group commit; bench.ingest_servers.stored_bodies). What any
design that answers only once a mention is stored costs on this machine: the part of the gap
between the bot and the floor that no change to the bot can close.

Each stage is a bot process of its own (`bench.ingest --serve stage:NAME`), cut short there by
replacing the next step in that process only; the code the bot runs is otherwise unchanged.
`added_ms` is what a stage costs beyond the one before: the cost model behind the CPU target.
Run: `python -m bench.ingest_stages [--quick] [--postgres URL]`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench._common import emit, environment, setup_logging
from bench.ingest import Bodies, Phase, bench_database, run_phase
from bench.ingest_servers import STAGES, Server
from tests.fake_slack import FakeSlack

log = logging.getLogger("bench.ingest_stages")


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    slack = FakeSlack(bot_token="xoxb-bench", post_rate_per_channel=1.0, post_burst=3)
    bodies = Bodies()
    floor: list[Phase] = []
    stages: dict[str, list[Phase]] = {}
    stored_rounds: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="webcare-stages-") as tmp:
        async with slack, bench_database(args.postgres, Path(tmp)) as db:
            baseline = await Server.start("baseline", db, slack.api_url)
            try:
                await run_phase(baseline, bodies.make(args.warmup, 1), 1, args.concurrency, 60)
                for stage in STAGES:
                    server = await Server.start(f"stage:{stage}", db, slack.api_url)
                    try:
                        warm = bodies.make(args.warmup, 1)
                        await run_phase(server, warm, 1, args.concurrency, 60)
                        for _ in range(args.rounds):  # floor, stage, floor, stage, ...
                            floor.append(await _round(baseline, bodies, args))
                            stages.setdefault(stage, []).append(await _round(server, bodies, args))
                        log.info("%s: %.4f ms/request", stage, _cpu_ms(stages[stage]))
                    finally:
                        await server.stop()
                stored = await Server.start("stored_floor", db, slack.api_url)
                try:
                    await run_phase(stored, bodies.make(args.warmup, 1), 1, args.concurrency, 60)
                    for _ in range(args.rounds):
                        floor.append(await _round(baseline, bodies, args))
                        stored_rounds.append(await _round(stored, bodies, args))
                finally:
                    await stored.stop()
            finally:
                await baseline.stop()
    floor_ms = _cpu_ms(floor)
    rows, before = [], 0.0
    for stage in STAGES:
        ms = _cpu_ms(stages[stage])
        rows.append(
            {
                "stage": stage,
                "cpu_ms_per_request": round(ms, 4),
                "added_ms": round(ms - before, 4),
                "vs_floor": round(ms / floor_ms, 2),
                "database_cpu_ms_per_request": round(_db_ms(stages[stage]), 4),
                "rps_median": round(statistics.median(p.rps for p in stages[stage]), 1),
            }
        )
        before = ms
    return {
        "benchmark": "ingest_stages",
        "database": "postgresql" if args.postgres else "sqlite",
        "concurrency": args.concurrency,
        "floor_cpu_ms_per_request": round(floor_ms, 4),
        "floor_rps_median": round(statistics.median(p.rps for p in floor), 1),
        "stages": rows,
        # The floor plus storing each body, at the least (bench.ingest_servers.stored_bodies):
        # what any design that answers only once a mention is stored costs here.
        "stored_floor": {
            "cpu_ms_per_request": round(_cpu_ms(stored_rounds), 4),
            "vs_floor": round(_cpu_ms(stored_rounds) / floor_ms, 2),
            "database_cpu_ms_per_request": round(_db_ms(stored_rounds), 4),
            "rps_median": round(statistics.median(p.rps for p in stored_rounds), 1),
            "ratio_to_floor": round(
                statistics.median(p.rps for p in stored_rounds)
                / statistics.median(p.rps for p in floor),
                3,
            ),
        },
        "rounds": args.rounds,
        **environment(),
    }


async def _round(server: Server, bodies: Bodies, args: argparse.Namespace) -> Phase:
    return await run_phase(server, bodies.make(args.requests, 1), 1, args.concurrency, 300)


def _cpu_ms(phases: list[Phase]) -> float:
    return 1000 * sum(p.server_cpu_s for p in phases) / sum(p.requests for p in phases)


def _db_ms(phases: list[Phase]) -> float:
    return 1000 * sum(p.database_cpu_s for p in phases) / sum(p.requests for p in phases)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (< 60 s)")
    parser.add_argument("--requests", type=int, default=4000, help="requests per round")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="floor/stage pairs per stage")
    parser.add_argument("--warmup", type=int, default=300, help="requests per server")
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL (a fresh database)")
    args = parser.parse_args()
    setup_logging()
    if args.quick:
        args.requests, args.rounds, args.warmup = 300, 1, 50
    emit(asyncio.run(bench(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
