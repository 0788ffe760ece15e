"""/webcare status and /webcare report week with a million cases, on SQLite and PostgreSQL.

Per database: migrate, bulk-seed `--cases` cases over 90 days (3 departments, ~97 % resolved,
one or two mentions each, case events, follow-up tasks) straight through the DBAPI with the
secondary indexes dropped and rebuilt afterwards, ANALYZE, check that SQLAlchemy reads a case
back, then time `team_status` and `build_report` for the current week (direct calls) and the
signed slash commands over HTTP against a real Runtime (until the HTTP 200: Slack's ack; the
chart the report uploads afterwards is timed apart), and the longest the event loop went
unanswered while a report was built over HTTP (`http_report_loop_stall_ms`: how long a webhook or
a click would have waited to be read). "Now" is fixed on a Sunday evening, so the
week holds ~1/13 of the data. PostgreSQL is skipped (with a note) when it does not answer.
Run: `python -m bench.summary [--quick] [--cases N] [--explain]`.
Exit 1 when a check fails (seeded data, a non-200 answer, an ack without blocks, an error).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench._common import CONFIG, emit, environment, setup_logging
from bench.seed_databases import (
    CheckFailed,
    check_sqlite_format,
    seed_postgresql,
    seed_sqlite,
    verify,
)
from bench.seed_rows import NOW
from bot.app.runtime import Runtime
from bot.app.settings import Settings
from bot.core.clock import PinnedClock
from bot.core.config import WebcareConfig, parse_config
from bot.insight.reports import build_report, period_bounds
from bot.insight.team_status import team_status
from storage.db import close_unit_of_work, create_engine
from storage.migrate import upgrade

log = logging.getLogger("bench.summary")


log = logging.getLogger("bench.summary")

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"
STATUS_TARGET_MS = 100.0
SLACK_DEADLINE_MS = 3000.0
# Sunday 20:00 in Amsterdam: "this week" (from Monday 00:00) holds ~1/13 of the 90 seeded days.

# -- measuring -----------------------------------------------------------------------------------


def spread(samples: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(samples), 1), "max": round(max(samples), 1)}


async def repeat(
    measure: Callable[[], Awaitable[float]], *, reps: int, warmup: int
) -> dict[str, float]:
    """Milliseconds (as `measure` returns them) of `reps` runs after `warmup` unmeasured ones."""
    for _ in range(warmup):
        await measure()
    return spread([await measure() for _ in range(reps)])


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return 1000 * (time.perf_counter() - started)


async def loop_stall(call: Callable[[], Awaitable[Any]]) -> float:
    """The longest the event loop went unanswered (ms) while `call` ran: how long a webhook or
    a click arriving meanwhile would wait before the bot even read it."""
    loop, stalled, done = asyncio.get_running_loop(), 0.0, False

    async def tick() -> None:
        nonlocal stalled
        while not done:
            asked = loop.time()
            await asyncio.sleep(0.001)
            stalled = max(stalled, loop.time() - asked - 0.001)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.002)  # the ticker runs before the call starts
    try:
        await call()
    finally:
        done = True
        await ticker
    return 1000 * stalled


def command_body(text: str, response_url: str) -> str:
    return urlencode(
        {
            "token": "legacy",
            "team_id": "T_FAKE",
            "team_domain": "acme",
            "channel_id": "CWEBCARE1",
            "user_id": "U0ANNA",
            "user_name": "anna",
            "command": "/webcare",
            "text": text,
            "api_app_id": "A_FAKE",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )


async def slash_command(
    session: aiohttp.ClientSession, url: str, text: str, response_url: str
) -> float:
    """Post a signed `/webcare <text>` as Slack does; milliseconds until the ack arrived."""
    body = command_body(text, response_url)
    timestamp = str(int(time.time()))
    headers = {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": SignatureVerifier(SIGNING_SECRET).generate_signature(
            timestamp=timestamp, body=body
        ),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    started = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as response:
        answer = await response.text()
        elapsed = 1000 * (time.perf_counter() - started)
    if response.status != 200 or '"text"' not in answer:
        raise CheckFailed(f"/webcare {text}: HTTP {response.status} {answer[:200]!r}")
    return elapsed


async def measure_http(
    engine: AsyncEngine, config: WebcareConfig, *, reps: int, warmup: int
) -> dict[str, Any]:
    """Both commands over HTTP against a real Runtime (HTTP mode) on `engine`."""
    from tests.fake_slack import FakeSlack

    threshold = gc.get_threshold()
    async with FakeSlack(bot_token=BOT_TOKEN) as slack:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack.api_url,
            host="127.0.0.1",
            port=0,
            webcare_channel_interval=0,
        )
        runtime = Runtime(settings, config, engine=engine, clock=PinnedClock(NOW))
        await runtime.start(run_worker=False)
        chart_ms: list[float] = []
        figures_ms: list[float] = []
        try:
            url = f"http://127.0.0.1:{runtime.port}/slack/events"
            async with aiohttp.ClientSession() as session:
                respond_to = slack.response_url()
                status = await repeat(
                    lambda: slash_command(session, url, "status", respond_to),
                    reps=reps,
                    warmup=warmup,
                )

                async def report() -> float:
                    shared, answered = len(slack.files), len(slack.responses)
                    started = time.perf_counter()
                    ack_ms = await slash_command(session, url, "report week", respond_to)
                    # The figures follow through the response_url, the chart after them: wait
                    # for both, so they cannot slow down the next request.
                    await slack.wait_for(lambda: len(slack.responses) > answered, seconds=60)
                    figures_ms.append(1000 * (time.perf_counter() - started))
                    await slack.wait_for(lambda: len(slack.files) > shared, seconds=60)
                    chart_ms.append(1000 * (time.perf_counter() - started))
                    return ack_ms

                report_week = await repeat(report, reps=reps, warmup=warmup)
                # The bot runs in this process: the longest its event loop went unanswered
                # while a report was built and its chart drawn, the bot's GC settings on.
                stall = await repeat(lambda: loop_stall(report), reps=reps, warmup=0)
        finally:
            await runtime.stop()
            gc.unfreeze()  # Runtime.start froze everything alive; undo for the next database
            gc.set_threshold(*threshold)
    return {
        "http_status_ms": status,
        "http_report_week_ms": report_week,
        "http_report_figures_ms": spread(figures_ms[warmup : warmup + reps]),
        "http_report_chart_done_ms": spread(chart_ms[warmup : warmup + reps]),
        "http_report_loop_stall_ms": stall,
    }


async def explain(engine: AsyncEngine, call: Callable[[], Awaitable[Any]]) -> list[dict[str, Any]]:
    """Each SELECT `call` runs: its time alone, its row count and its plan."""
    captured: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await call()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    queries = []
    async with engine.connect() as conn:
        for statement, parameters in captured:
            started = time.perf_counter()
            rows = (await conn.exec_driver_sql(statement, parameters)).fetchall()
            ms = 1000 * (time.perf_counter() - started)
            plan = (await conn.exec_driver_sql(prefix + statement, parameters)).fetchall()
            queries.append(
                {
                    "sql": " ".join(statement.split()),
                    "ms": round(ms, 1),
                    "rows": len(rows),
                    "plan": [str(r[-1]) for r in plan],
                }
            )
    return queries


async def measure(engine: AsyncEngine, args: argparse.Namespace) -> dict[str, Any]:
    """Direct calls, then the HTTP round trips, on a seeded database."""
    config = parse_config(CONFIG, source="bench")
    since, until = period_bounds("week", now=NOW, timezone=config.business_hours.timezone)
    reps, warmup = args.reps, args.warmup

    async def status() -> Any:
        return await team_status(engine, config=config, now=NOW)

    async def report() -> Any:
        return await build_report(engine, config=config, since=since, until=until)

    result: dict[str, Any] = {}
    result["status_ms"] = await repeat(lambda: timed(status), reps=reps, warmup=warmup)
    log.info("  status p50 %.1f ms", result["status_ms"]["p50"])
    result["report_week_ms"] = await repeat(lambda: timed(report), reps=reps, warmup=warmup)
    log.info("  report week p50 %.1f ms", result["report_week_ms"]["p50"])
    result |= await measure_http(engine, config, reps=reps, warmup=warmup)
    log.info(
        "  HTTP status p50 %.1f ms, report week p50 %.1f ms",
        result["http_status_ms"]["p50"],
        result["http_report_week_ms"]["p50"],
    )
    statuses, week = await status(), await report()
    result["status_shape"] = {
        "open_cases": sum(sum(s.counts.values()) for s in statuses),
        "overdue_listed": sum(len(s.overdue) for s in statuses),
        "near_listed": sum(len(s.near) for s in statuses),
        "follow_ups_today": sum(s.follow_ups_today for s in statuses),
    }
    result["report_week_shape"] = {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "mentions": week.mentions,
        "cases_opened": week.cases_opened,
        "resolved": week.resolved,
        "reopened": week.reopened,
        "follow_up_outcomes": week.follow_up_outcomes,
    }
    if args.explain:
        result["queries"] = {
            "status": await explain(engine, status),
            "report_week": await explain(engine, report),
        }
    return result


# -- per database --------------------------------------------------------------------------------


def _files_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("webcare.db*"))


async def run_sqlite(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="webcare-summary-") as tmp:
        path = Path(tmp) / "webcare.db"
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await upgrade(engine)
            await check_sqlite_format(engine)
            await engine.dispose()
            log.info("sqlite: seeding %d cases", args.cases)
            started = time.perf_counter()
            seed = await asyncio.to_thread(seed_sqlite, path, args.cases, args.seed)
            result: dict[str, Any] = {"seed_s": round(time.perf_counter() - started, 1)}
            result["seed"] = {k: round(v, 1) for k, v in seed.items()}
            log.info("sqlite: seeded in %.1f s %s", result["seed_s"], result["seed"])
            result["seeded"] = await verify(engine, args.cases)
            result |= await measure(engine, args)
        finally:
            close_unit_of_work(engine)
            await engine.dispose()
        result["db_size_mb"] = round(await asyncio.to_thread(_files_size, Path(tmp)) / 2**20, 1)
    return result


async def run_postgresql(args: argparse.Namespace) -> dict[str, Any]:
    dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = await asyncpg.connect(dsn, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        log.warning("postgresql: skipped, %s does not answer (%s)", PG_URL, exc)
        return {"skipped": f"{PG_URL} does not answer: {type(exc).__name__}: {exc}"}
    schema = f"bench_summary_{uuid.uuid4().hex[:10]}"
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        engine = create_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
        try:
            await upgrade(engine)
            log.info("postgresql: seeding %d cases into schema %s", args.cases, schema)
            started = time.perf_counter()
            seed = await seed_postgresql(dsn, schema, args.cases, args.seed)
            result: dict[str, Any] = {"seed_s": round(time.perf_counter() - started, 1)}
            result["seed"] = {k: round(v, 1) for k, v in seed.items()}
            log.info("postgresql: seeded in %.1f s %s", result["seed_s"], result["seed"])
            result["seeded"] = await verify(engine, args.cases)
            result |= await measure(engine, args)
        finally:
            close_unit_of_work(engine)
            await engine.dispose()
        size = await admin.fetchval(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = $1 AND c.relkind = 'r'",
            schema,
        )
        result["db_size_mb"] = round(int(size or 0) / 2**20, 1)
        result["schema"] = schema
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()
    return result


def targets(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    measured = [r for r in results.values() if "http_status_ms" in r]
    return {
        "status_under_100ms": bool(measured)
        and all(
            max(r["status_ms"]["p50"], r["http_status_ms"]["p50"]) < STATUS_TARGET_MS
            for r in measured
        ),
        "within_3s": bool(measured)
        and all(
            max(r["http_status_ms"]["max"], r["http_report_week_ms"]["max"]) < SLACK_DEADLINE_MS
            for r in measured
        ),
        "report_figures_within_3s": bool(measured)
        and all(r["http_report_figures_ms"]["max"] < SLACK_DEADLINE_MS for r in measured),
        "rule": "status: p50 of the direct call and of the HTTP ack under 100 ms; 3 s: the "
        "slowest HTTP ack of both commands, and the slowest report figures (sent after the "
        "ack), on every database measured",
    }


async def bench(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    result: dict[str, Any] = {"benchmark": "summary", "cases": args.cases}
    ok = True
    runners = {"sqlite": run_sqlite, "postgresql": run_postgresql}
    for name in args.databases:
        try:
            result[name] = await runners[name](args)
        except Exception as exc:  # report it in the JSON and go on with the next database
            log.exception("%s failed", name)
            result[name], ok = {"error": f"{type(exc).__name__}: {exc}"}, False
    result["targets"] = targets({n: result[n] for n in args.databases})
    result["now"] = NOW.isoformat()
    result["reps"], result["warmup"] = args.reps, args.warmup
    result["environment"] = environment()
    return result, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 cases instead of 1,000,000")
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=20, help="measured runs of each")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1, help="random seed of the data")
    parser.add_argument(
        "--databases",
        type=lambda s: s.split(","),
        default=["sqlite", "postgresql"],
        help="comma-separated: sqlite,postgresql",
    )
    parser.add_argument("--explain", action="store_true", help="add each query's time and plan")
    args = parser.parse_args()
    if args.quick:
        args.cases = 20_000
    if args.cases < 100 or args.reps < 1 or args.warmup < 0:
        parser.error("need --cases >= 100, --reps >= 1 and --warmup >= 0")
    if unknown := set(args.databases) - {"sqlite", "postgresql"}:
        parser.error(f"unknown database(s): {', '.join(sorted(unknown))}")
    setup_logging()
    result, ok = asyncio.run(bench(args))
    emit(result)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
