"""Ack latency of claim clicks: the real bot over HTTP beside a bare Bolt app, in the same run.

Three child processes (`--serve slack|bot|bare`, started by this script): the fake Slack of
tests/fake_slack.py, the real Runtime in HTTP mode (fresh SQLite file, cards seeded through the
ingestor and outbox, outbox worker running) and a bare `AsyncApp` whose only listener acks
`case_claim`. The load generator here sends pre-signed block_actions clicks built from the cards
the fake Slack shows, `--concurrency` at a time, and times each request until its HTTP 200 (the
ack Slack waits up to 3 s for). Per round, `--clicks` clicks hit `--cases` fresh cards: one
click each, the rest on a card clicked a moment before (the loser gets an ephemeral message).
Rounds alternate bare, bot, bare, bot after a warm-up of each; latency is the best round (by
p99) of each, counts and CPU cover every measured round. After each bot round the script waits
until the outbox and the ephemerals are done, so that work never lands in a bare round.
CPU per click is also split by thread (`cpu_ms_per_click_by_thread`: the event loop, and the
rest, mostly the SQLite writer). `--profile PATH` writes cProfile stats of the bot during its
measured rounds only: PATH for the event loop's thread, PATH.db for the SQLite writer's.
Run: `python -m bench.ack [--quick]`. Exit 1 when a check fails (non-200, over 3 s, owners).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import random
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench._common import (
    cpu_seconds,
    emit,
    environment,
    setup_logging,
)
from bench.ack_clicks import Plan, case_of, has_claim_button, plan_round, signed
from bench.ack_servers import (
    Server,
    get_json,
    serve_bare,
    serve_bot,
    serve_slack,
)

log = logging.getLogger("bench.ack")
SLACK_DEADLINE_S = 3.0
TARGET_RATIO = 1.5


# -- the load generator ----------------------------------------------------------------------


@dataclass
class Phase:
    server: str
    clicks: int = 0
    started_at: float = 0.0  # wall clock, to match the servers' GC logs
    ended_at: float = 0.0
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    server_thread_cpu_s: Counter[str] = field(default_factory=Counter)
    slack_cpu_s: float = 0.0
    loadgen_cpu_s: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    after: dict[str, Any] = field(default_factory=dict)


def quantile(ordered: list[float], q: float) -> float:
    """Nearest-rank quantile of sorted values."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def run_phase(
    server: Server, slack: Server, plan: Plan, concurrency: int, limit_s: float
) -> Phase:
    """Send every click, `concurrency` at a time; time each one until its response is read."""
    phase = Phase(server.kind, clicks=len(plan.clicks))
    requests = [(body.encode(), signed(body)) for _case, body in plan.clicks]
    work = iter(requests)

    async def worker(session: aiohttp.ClientSession) -> None:
        for body, headers in work:
            started = time.perf_counter()
            try:
                async with session.post(server.url, data=body, headers=headers) as response:
                    await response.read()
                status = response.status
            except (aiohttp.ClientError, TimeoutError):
                status = -1
            phase.latencies.append(time.perf_counter() - started)
            phase.statuses[status] += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        cpu0, slack0, own0 = server.cpu(), slack.cpu(), cpu_seconds()
        threads0 = server.thread_cpu()
        t0, phase.started_at = time.perf_counter(), time.time()
        async with asyncio.timeout(limit_s):
            await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        phase.wall_s, phase.ended_at = time.perf_counter() - t0, time.time()
        phase.server_cpu_s = server.cpu() - cpu0
        phase.server_thread_cpu_s.update(server.thread_cpu())
        phase.server_thread_cpu_s.subtract(threads0)
        phase.slack_cpu_s = slack.cpu() - slack0
        phase.loadgen_cpu_s = cpu_seconds() - own0
    phase.latencies.sort()
    return phase


async def settle(
    db: str,
    slack: Server,
    ephemerals: int,
    bot: Server,
    limit_s: float,
    *,
    claims: int,
    paced: bool,
) -> dict[str, Any]:
    """Wait until the work behind the clicks is done: every claim stored and every refusal
    (ephemeral) delivered, and, unless the outbox is paced like production (Slack's ~1
    message/s/channel, which takes minutes for a burst), the outbox empty."""
    side_url, started = slack.info["side_url"], time.perf_counter()
    cpu0, slack0 = bot.cpu(), slack.cpu()
    async with aiohttp.ClientSession() as session:
        while True:
            with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
                query = "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
                waiting = conn.execute(query).fetchone()[0]
                query = "SELECT count(*) FROM case_events WHERE kind = 'claim'"
                claimed = conn.execute(query).fetchone()[0]
            stats = await get_json(session, f"{side_url}/stats")
            elapsed = time.perf_counter() - started
            done = claimed >= claims and stats["ephemerals"] >= ephemerals
            if (done and (paced or waiting == 0)) or elapsed > limit_s:
                break
            await asyncio.sleep(0.2)
    return {
        "settle_s": round(elapsed, 2),
        "outbox_waiting": waiting,
        "ephemerals": stats["ephemerals"],
        "bot_cpu_s": round(bot.cpu() - cpu0, 2),
        "slack_cpu_s": round(slack.cpu() - slack0, 2),
    }


def summarise(phases: list[Phase]) -> dict[str, Any]:
    """Latency of the best round (lowest p99), counts and CPU over every measured round."""
    best = min(phases, key=lambda p: quantile(p.latencies, 0.99))
    clicks = sum(p.clicks for p in phases)
    wall = sum(p.wall_s for p in phases)
    every = sorted(x for p in phases for x in p.latencies)
    server_cpu = sum(p.server_cpu_s for p in phases)
    threads = Counter[str]()
    for phase in phases:
        threads.update(phase.server_thread_cpu_s)
    settle_cpu = sum(p.after.get("bot_cpu_s", 0.0) for p in phases)
    slack_cpu = sum(p.slack_cpu_s + p.after.get("slack_cpu_s", 0.0) for p in phases)
    statuses = Counter[int]()
    for phase in phases:
        statuses.update(phase.statuses)
    result = {
        "p50_ms": round(1000 * quantile(best.latencies, 0.5), 2),
        "p99_ms": round(1000 * quantile(best.latencies, 0.99), 2),
        "max_ms": round(1000 * max(every), 2),
        "over_3s": sum(x > SLACK_DEADLINE_S for x in every),
        "cpu_ms_per_click": round(1000 * server_cpu / clicks, 3),
        "mean_ms": round(1000 * sum(best.latencies) / len(best.latencies), 2),
        "rounds_p50_ms": [round(1000 * quantile(p.latencies, 0.5), 2) for p in phases],
        "rounds_p99_ms": [round(1000 * quantile(p.latencies, 0.99), 2) for p in phases],
        "pooled_p99_ms": round(1000 * quantile(every, 0.99), 2),
        "clicks_per_s": round(clicks / wall, 1),
        "server_cpu_share": round(server_cpu / wall, 3),
        # main: the event loop; other threads: mostly the SQLite writer of the unit of work
        "cpu_ms_per_click_by_thread": {
            name: round(1000 * s / clicks, 3) for name, s in threads.most_common() if s > 0
        },
        "fake_slack_cpu_ms_per_click": round(1000 * slack_cpu / clicks, 3),
        "loadgen_cpu_share": round(sum(p.loadgen_cpu_s for p in phases) / wall, 3),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }
    if settle_cpu:
        result["outbox_settle_s"] = [p.after["settle_s"] for p in phases]
        result["cpu_ms_per_click_incl_outbox"] = round(1000 * (server_cpu + settle_cpu) / clicks, 3)
    return result


def check_owners(db: str, clicked: set[int]) -> dict[str, Any]:
    """Exactly one claim event per clicked case, by the owner the case shows; none elsewhere."""
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        owners = dict(conn.execute("SELECT id, owner_id FROM cases").fetchall())
        claims: dict[int, list[str]] = {}
        query = "SELECT case_id, actor FROM case_events WHERE kind = 'claim'"
        for case_id, actor in conn.execute(query):
            claims.setdefault(case_id, []).append(actor)
    bad = [
        case
        for case, owner in owners.items()
        if (case in clicked and not (owner and claims.get(case) == [owner]))
        or (case not in clicked and (owner or case in claims))
    ]
    return {
        "owners_ok": not bad and clicked <= set(owners),
        "cases_clicked": len(clicked),
        "cases_owned": sum(bool(owners[c]) for c in clicked if c in owners),
        "claim_events": sum(len(v) for v in claims.values()),
        "bad_cases": bad[:10],
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.random_seed)
    seed_cases = args.warmup_cases + args.rounds * args.cases
    with tempfile.TemporaryDirectory(prefix="webcare-bench-") as tmp:
        db = str(Path(tmp) / "webcare.db")
        slack = await Server.start("slack")
        servers: list[Server] = [slack]
        try:
            slack_url, side_url = slack.info["api_url"], slack.info["side_url"]
            gc_logs = {kind: str(Path(tmp) / f"gc-{kind}.json") for kind in ("bare", "bot")}
            bare = await Server.start("bare", "--slack-url", slack_url, "--gc-log", gc_logs["bare"])
            servers.append(bare)
            extra = ["--slack-url", slack_url, "--db", db, "--seed-cases", str(seed_cases)]
            extra += ["--gc-log", gc_logs["bot"]]
            extra += ["--interval", str(args.interval)]
            extra += ["--profile", args.profile] if args.profile else []
            bot = await Server.start("bot", *extra, wait_s=args.timeout)
            servers.append(bot)
            log.info("bot seeded %d cards in %.1fs", seed_cases, bot.info["seed_s"])
            async with aiohttp.ClientSession() as session:
                posted = await get_json(session, f"{side_url}/cards")
            # Cards only: the seeded cases' SLA escalations reach the leads' channel too.
            cards = sorted((c for c in posted if has_claim_button(c)), key=case_of)
            if len(cards) != seed_cases:
                raise RuntimeError(f"{len(cards)} cards on the fake Slack, not {seed_cases}")
            result, rounds = await run_rounds(args, rng, cards, slack, bare, bot, db)
            async with aiohttp.ClientSession() as session:
                result["fake_slack"] = await get_json(session, f"{side_url}/stats")
        finally:
            for server in reversed(servers):
                await server.stop()
        for kind, key in (("bot", "bot"), ("bare", "bare_bolt")):
            result[key]["gc_in_rounds"] = gc_pauses(gc_logs[kind], rounds[kind])
    return result


def gc_pauses(path: str, phases: list[Phase]) -> dict[str, Any]:
    """The server's garbage collections that ended during the measured rounds."""
    pauses = [
        (gen, ms)
        for at, gen, ms in json.loads(Path(path).read_text())
        if any(p.started_at <= at <= p.ended_at for p in phases)
    ]
    full = [ms for gen, ms in pauses if gen == 2]
    return {
        "collections": len(pauses),
        "total_ms": round(sum(ms for _gen, ms in pauses), 1),
        "gen2_ms": [round(ms, 1) for ms in full],
    }


async def run_rounds(
    args: argparse.Namespace,
    rng: random.Random,
    cards: list[dict[str, Any]],
    slack: Server,
    bare: Server,
    bot: Server,
    db: str,
) -> tuple[dict[str, Any], dict[str, list[Phase]]]:
    """Warm-up of each, then `args.rounds` pairs of bare and bot rounds; checks at the end."""
    clicked, losers = set[int](), 0
    rounds: dict[str, list[Phase]] = {"bare": [], "bot": []}
    batches = [cards[: args.warmup_cases]] + [
        cards[args.warmup_cases + r * args.cases :][: args.cases] for r in range(args.rounds)
    ]
    for r, batch in enumerate(batches):
        clicks = args.warmup_clicks if r == 0 else args.clicks
        for server in (bare, bot):
            plan = plan_round(batch, clicks, rng)  # the bare app gets the same kind of clicks
            profiling = bool(args.profile) and server is bot and r > 0
            if profiling:
                bot.proc.send_signal(signal.SIGUSR1)
                await asyncio.sleep(0.2)
            phase = await run_phase(server, slack, plan, args.concurrency, args.timeout)
            if profiling:
                bot.proc.send_signal(signal.SIGUSR2)
            if server is bot:
                clicked |= {case for case, _body in plan.clicks}
                losers += plan.losers
                phase.after = await settle(
                    db,
                    slack,
                    losers,
                    bot,
                    args.timeout,
                    claims=len(clicked),
                    paced=args.interval > 0,
                )
            name = "warm-up" if r == 0 else f"#{r}"
            log.info(
                "%s %s: p50 %.1f ms, p99 %.1f ms, max %.1f ms, %.0f clicks/s %s",
                name,
                server.kind,
                1000 * quantile(phase.latencies, 0.5),
                1000 * quantile(phase.latencies, 0.99),
                1000 * phase.latencies[-1],
                phase.clicks / phase.wall_s,
                phase.after or "",
            )
            if r:
                rounds[server.kind].append(phase)
    summary = {kind: summarise(phases) for kind, phases in rounds.items()}
    owners = check_owners(db, clicked)
    ratio = round(summary["bot"]["p99_ms"] / summary["bare"]["p99_ms"], 3)
    all_200 = all(set(s["statuses"]) == {"200"} for s in summary.values())
    ok = owners["owners_ok"] and all_200 and summary["bot"]["over_3s"] == 0
    result = {
        "benchmark": "ack",
        "clicks": args.clicks,
        "concurrency": args.concurrency,
        "cases_per_round": args.cases,
        "rounds": args.rounds,
        "bot": summary["bot"],
        "bare_bolt": summary["bare"],
        "p99_ratio": ratio,
        "target_p99_ratio": TARGET_RATIO,
        "meets_target": ok and ratio <= TARGET_RATIO,
        "owners_ok": owners["owners_ok"],
        "checks_ok": ok,
        "owners": owners,
        "ephemerals_expected": losers,
        "outbox_interval_s": args.interval,
        "seed_s": bot.info["seed_s"],
        "latency": "best round by p99 of each; max_ms, over_3s, CPU over all measured rounds",
        **environment(),
    }
    return result, rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (< 30 s)")
    parser.add_argument("--clicks", type=int, default=1000, help="clicks per measured round")
    parser.add_argument("--cases", type=int, default=800, help="fresh cards per measured round")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2, help="bare/bot pairs")
    parser.add_argument("--warmup-clicks", type=int, default=150)
    parser.add_argument("--warmup-cases", type=int, default=120)
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help="outbox s between posts per channel (1.0 = production; 0 = unpaced stress)",
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds per phase or wait")
    parser.add_argument("--random-seed", type=int, default=1, help="of the click order")
    parser.add_argument(
        "--profile",
        help="write cProfile stats of the bot during its measured rounds here "
        "(event loop thread; PATH.db: the SQLite writer thread)",
    )
    parser.add_argument("--serve", choices=["slack", "bot", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--slack-url", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--gc-log", help=argparse.SUPPRESS)
    parser.add_argument("--seed-cases", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    setup_logging()
    if args.serve == "slack":
        asyncio.run(serve_slack())
        return 0
    if args.serve == "bot":
        asyncio.run(serve_bot(args))
        return 0
    if args.serve == "bare":
        asyncio.run(serve_bare(args))
        return 0
    if args.quick:
        args.clicks, args.cases, args.rounds = 250, 200, 1
        args.warmup_clicks, args.warmup_cases = 60, 50
    pairs = ((args.clicks, args.cases), (args.warmup_clicks, args.warmup_cases))
    if not all(0 < cases <= clicks <= 2 * cases for clicks, cases in pairs):
        parser.error("need cases <= clicks <= 2 * cases (and the same for the warm-up)")
    result = asyncio.run(bench(args))
    emit(result)
    return 0 if result["checks_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
