"""/webcare status and /webcare report week with a million cases, on SQLite and PostgreSQL.

Per database: migrate, bulk-seed `--cases` cases over 90 days (3 departments, ~97 % resolved,
one or two mentions each, case events, follow-up tasks) straight through the DBAPI with the
secondary indexes dropped and rebuilt afterwards, ANALYZE, check that SQLAlchemy reads a case
back, then time `team_status` and `build_report` for the current week (direct calls) and the
signed slash commands over HTTP against a real Runtime (until the HTTP 200: Slack's ack; the
chart the report uploads afterwards is timed apart). "Now" is fixed on a Sunday evening, so the
week holds ~1/13 of the data. PostgreSQL is skipped (with a note) when it does not answer.
Run: `python -m bench.summary [--quick] [--cases N] [--explain]`.
Exit 1 when a check fails (seeded data, a non-200 answer, an ack without blocks, an error).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import math
import queue
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import delete, event, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench._common import CHANNEL_TEXTS, CONFIG, emit, environment, setup_logging
from bot.app.runtime import Runtime
from bot.app.settings import Settings
from bot.core.clock import PinnedClock
from bot.core.config import WebcareConfig, parse_config
from bot.insight.reports import build_report, period_bounds
from bot.insight.team_status import team_status
from storage.db import close_unit_of_work, create_engine
from storage.migrate import upgrade
from storage.tables import CASES

log = logging.getLogger("bench.summary")

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"
STATUS_TARGET_MS = 100.0
SLACK_DEADLINE_MS = 3000.0
# Sunday 20:00 in Amsterdam: "this week" (from Monday 00:00) holds ~1/13 of the 90 seeded days.
NOW = datetime(2026, 3, 15, 19, 0, tzinfo=UTC)
SPAN_DAYS = 90
DAY = 86_400.0
BATCH = 20_000  # cases per insert batch
AGENTS = 40
EPOCH = datetime(1970, 1, 1)
EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)

COLUMNS: dict[str, tuple[str, ...]] = {
    "cases": (
        "id", "department", "status", "priority", "tags", "rule", "source", "author_handle",
        "author_name", "author_followers", "author_url", "reactive", "private", "opened_at",
        "last_mention_at", "sla_due_at", "mention_count", "slack_channel", "slack_ts",
        "owner_id", "owner_name", "claimed_at", "resolved_at", "forwarded_to", "forward_due_at",
        "first_response_at", "sla_warn_at", "sla_warned_at", "sla_breached_at",
    ),
    "mentions": (
        "id", "case_id", "source", "external_id", "url", "text", "author_handle", "language",
        "addressed", "private", "in_reply_to", "created_at", "received_at", "slack_ts",
    ),
    "case_events": ("id", "case_id", "kind", "from_status", "to_status", "actor", "at", "detail"),
    "scheduled_tasks": (
        "id", "kind", "case_id", "status", "due_at", "notify", "created_by", "created_at",
        "fired_at",
    ),
}  # fmt: skip
TABLES = tuple(COLUMNS)

# Per department of the test config: key, SLA seconds, channel, rule, priority, tags, text.
_RULES = {"billing": ("Billing", "normal", []), "outages": ("Outage", "urgent", ["outage"])}
DEPARTMENTS = [
    (
        d["key"],
        d["sla_minutes"] * 60.0,
        d["channel"],
        *_RULES.get(d["key"], (None, "normal", []))[:2],
        json.dumps(_RULES.get(d["key"], (None, "normal", []))[2]),
        CHANNEL_TEXTS[d["channel"]],
    )
    for d in CONFIG["departments"]
]
SOURCES = (
    ("x", "https://x.com/"),
    ("facebook", "https://facebook.com/"),
    ("instagram", "https://instagram.com/"),
)
# Mentions per hour of the local day (Amsterdam, UTC+1 in winter): quiet nights, busy days.
LOCAL_HOUR_WEIGHTS = (
    1, .5, .3, .3, .3, .5, 1, 2, 4, 6, 7, 7, 6, 6, 6, 6, 6, 6, 5, 5, 5, 4, 3, 2,
)  # fmt: skip
# Open cases by age: (status, cumulative share). Young ones wait for an answer, old ones mostly
# wait for the customer (replied) or for a follow-up.
YOUNG_OPEN = (
    ("new", 0.25), ("claimed", 0.5), ("forwarded", 0.6), ("replied", 0.92), ("follow_up", 1.0),
)  # fmt: skip
OLD_OPEN = (
    ("new", 0.02), ("claimed", 0.07), ("forwarded", 0.1), ("replied", 0.55), ("follow_up", 1.0),
)  # fmt: skip
AWAITING = ("new", "claimed", "forwarded")
OUTCOME = "follow_up_outcome"
# Bulk loading only: no rollback journal on disk, no fsync, a big page cache for the indexes.
SEED_PRAGMAS = ("journal_mode=MEMORY", "synchronous=OFF", "cache_size=-524288", "temp_store=MEMORY")


class CheckFailed(Exception):
    """The benchmark saw something wrong (not merely slow)."""


# -- seeding -------------------------------------------------------------------------------------


def sqlite_moment(seconds: float) -> str:
    """A moment as storage.types.UTCDateTime stores it on SQLite: naive UTC text."""
    return (EPOCH + timedelta(seconds=seconds)).isoformat(" ", "microseconds")


def pg_moment(seconds: float) -> datetime:
    """A moment as asyncpg takes it for timestamptz: an aware UTC datetime."""
    return EPOCH_UTC + timedelta(seconds=seconds)


def _pick(table: tuple[tuple[str, float], ...], r: float) -> str:
    return next((status for status, upto in table if r < upto), table[-1][0])


@dataclass
class Batch:
    """Rows for each table, in COLUMNS order, ready for the DBAPI."""

    rows: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {table: [] for table in TABLES}
    )


class Seeder:
    """Builds realistic rows for `n` cases opened over SPAN_DAYS up to NOW, oldest first."""

    def __init__(self, n: int, *, moment: Callable[[float], Any], seed: int) -> None:
        self.n, self.moment = n, moment
        rng = random.Random(seed)
        self.rand, self.randrange, self.lognorm = rng.random, rng.randrange, rng.lognormvariate
        self.now = NOW.timestamp()
        base = self.now - SPAN_DAYS * DAY
        base_hour = int(base % DAY // 3600)
        weights = [LOCAL_HOUR_WEIGHTS[(base_hour + h + 1) % 24] for h in range(24)]
        days = rng.choices(range(SPAN_DAYS), k=n)
        hours = rng.choices(range(24), weights=weights, k=n)
        self.opened = sorted(
            base + d * DAY + h * 3600 + self.rand() * 3600 for d, h in zip(days, hours, strict=True)
        )
        self.mention_id = self.event_id = self.task_id = 0

    def batches(self, size: int = BATCH) -> Iterator[Batch]:
        for first in range(0, self.n, size):
            batch = Batch()
            for i in range(first, min(first + size, self.n)):
                self._case(i + 1, self.opened[i], batch.rows)
            yield batch

    def _case(self, case_id: int, opened: float, out: dict[str, list[tuple[Any, ...]]]) -> None:
        rand, now, at = self.rand, self.now, self.moment
        r = rand()
        key, sla, channel, rule, priority, tags, text = DEPARTMENTS[
            0 if r < 0.6 else 1 if r < 0.85 else 2
        ]
        r = rand()
        source, site = SOURCES[0 if r < 0.65 else 1 if r < 0.9 else 2]
        age = now - opened
        first: float | None = opened + self.lognorm(math.log(sla * 0.5), 0.9)
        resolved: float | None = None
        assert first is not None
        if rand() < (0.5 if age < DAY else 0.1 if age < 7 * DAY else 0.02):
            status = _pick(YOUNG_OPEN if age < DAY else OLD_OPEN, rand())
        else:
            resolved = first + self.lognorm(math.log(3 * 3600), 1.2)
            status = "resolved"
            if resolved >= now:  # not resolved yet at NOW
                status, resolved = ("replied" if first < now else "claimed"), None
        # Customers come back, but have at most one open case per platform.
        handle = (
            f"user{self.randrange(self.n // 3 + 1)}" if resolved is not None else f"open{case_id}"
        )
        if status in AWAITING:
            first = None
        elif first >= now:
            first = opened + age * rand()

        owner_id = owner_name = claimed = None
        if status != "new":
            agent = self.randrange(AGENTS)
            owner_id, owner_name = f"UAGENT{agent:03d}", f"Agent {agent}"
            wait = (first - opened) * 0.3 if first is not None else min(age, 600.0) * rand()
            claimed = at(opened + wait)
        forwarded_to, forward_due = (
            ("UBILLING1", at(opened + 4 * 3600)) if status == "forwarded" else (None, None)
        )
        due, warn = opened + sla, opened + sla * 0.8
        warned = at(warn) if (first if first is not None else now) >= warn else None
        breached = at(due) if (first if first is not None else now) >= due else None
        end = resolved if resolved is not None else now
        mentions = (opened, opened + (end - opened) * rand() * 0.5) if rand() < 0.1 else (opened,)
        out["cases"].append(
            (
                case_id, key, status, priority, tags, rule, source, handle, f"Customer {handle}",
                case_id % 5000, f"{site}{handle}", False, False, at(opened),
                at(mentions[-1]), at(due), len(mentions), channel, f"{opened + 1.5:.6f}",
                owner_id, owner_name, claimed, at(resolved) if resolved is not None else None,
                forwarded_to, forward_due, at(first) if first is not None else None, at(warn),
                warned, breached,
            )
        )  # fmt: skip
        for k, created in enumerate(mentions):
            self.mention_id += 1
            out["mentions"].append(
                (
                    self.mention_id, case_id, source, f"{case_id}-{k}",
                    f"{site}{handle}/status/{self.mention_id}", text, handle, "nl", True, False,
                    None, at(created), at(created + 1.2), f"{created + 3:.6f}",
                )
            )  # fmt: skip
        if resolved is not None:
            assert first is not None and owner_id is not None
            self._resolution(case_id, first, resolved, owner_id, owner_name or "", out)
        elif status == "follow_up":
            assert first is not None and owner_id is not None
            self._task(case_id, "pending", now + (rand() * 84 - 12) * 3600, first, owner_id, out)

    def _resolution(
        self,
        case_id: int,
        first: float,
        resolved: float,
        owner: str,
        name: str,
        out: dict[str, list[tuple[Any, ...]]],
    ) -> None:
        """The reported events of a resolved case: its resolution, maybe a reopen and a
        follow-up (with the task that asked)."""
        rand = self.rand
        if rand() < 0.03:  # the customer wrote again after an earlier resolution
            detail = json.dumps({"reason": "customer wrote again", "previous_owner": owner})
            back = first + (resolved - first) * 0.5
            self._event(case_id, "reopened", "resolved", "reopened", "system", back, detail, out)
        r = rand()
        iso = (EPOCH_UTC + timedelta(seconds=resolved)).isoformat()
        if r < 0.08:  # resolved through a follow-up question, sometimes asked twice
            if r >= 0.06:
                asked = first + (resolved - first) * 0.3
                detail = json.dumps({"action": "follow_up_still_open", "actor": name})
                self._event(case_id, OUTCOME, "follow_up", "follow_up", owner, asked, detail, out)
            self._task(case_id, "fired", resolved - 60, first, owner, out)
            detail = json.dumps({"action": "follow_up_solved", "actor": name, "at": iso})
            self._event(case_id, OUTCOME, "follow_up", "resolved", owner, resolved, detail, out)
            return
        note: dict[str, Any] = {"action": "resolve", "actor": name, "at": iso}
        if r >= 0.96:  # the conversation went private: was the public thread closed?
            note["public_close"] = r < 0.98
        detail = json.dumps(note)
        self._event(case_id, "resolve", "replied", "resolved", owner, resolved, detail, out)

    def _event(
        self,
        case_id: int,
        kind: str,
        before: str,
        after: str,
        actor: str,
        moment: float,
        detail: str,
        out: dict[str, list[tuple[Any, ...]]],
    ) -> None:
        self.event_id += 1
        row = (self.event_id, case_id, kind, before, after, actor, self.moment(moment), detail)
        out["case_events"].append(row)

    def _task(
        self,
        case_id: int,
        status: str,
        due: float,
        created: float,
        owner: str,
        out: dict[str, list[tuple[Any, ...]]],
    ) -> None:
        self.task_id += 1
        at = self.moment
        fired = at(due) if status == "fired" else None
        row = (
            self.task_id,
            "follow_up",
            case_id,
            status,
            at(due),
            owner,
            owner,
            at(created),
            fired,
        )
        out["scheduled_tasks"].append(row)


class Producer:
    """Builds the batches in a thread while the caller inserts the previous one."""

    def __init__(self, batches: Iterator[Batch]) -> None:
        self._queue: queue.Queue[Batch | BaseException | None] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(batches,), daemon=True)
        self._thread.start()

    def _run(self, batches: Iterator[Batch]) -> None:
        try:
            for batch in batches:
                if not self._put(batch):
                    return
            self._put(None)
        except BaseException as exc:
            self._put(exc)

    def _put(self, item: Batch | BaseException | None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def get(self) -> Batch | None:
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def seed_sqlite(path: Path, n: int, seed: int) -> dict[str, float]:
    """Insert everything in one transaction with executemany, indexes rebuilt after."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    con = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in SEED_PRAGMAS:
            con.execute(f"PRAGMA {pragma}")
        names = ", ".join(f"'{t}'" for t in TABLES)
        indexes = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            f" AND tbl_name IN ({names})"
        ).fetchall()
        for name, _sql in indexes:
            con.execute(f'DROP INDEX "{name}"')
        statements = {
            table: f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            for table, cols in COLUMNS.items()
        }
        producer = Producer(Seeder(n, moment=sqlite_moment, seed=seed).batches())
        try:
            con.execute("BEGIN")
            while (batch := producer.get()) is not None:
                for table, rows in batch.rows.items():
                    con.executemany(statements[table], rows)
            con.execute("COMMIT")
        finally:
            producer.close()
        timings["insert_s"] = time.perf_counter() - started
        mark = time.perf_counter()
        for _name, sql in indexes:
            con.execute(sql)
        timings["index_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        con.execute("ANALYZE")
        timings["analyze_s"] = time.perf_counter() - mark
        con.execute("PRAGMA journal_mode=WAL")  # back to what the app runs with
    finally:
        con.close()
    return timings


_PG_INDEXES = """
SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = $1 AND t.relname = ANY($2::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
"""


async def seed_postgresql(dsn: str, schema: str, n: int, seed: int) -> dict[str, float]:
    """COPY everything in, indexes (not constraints) rebuilt after, then VACUUM ANALYZE."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        try:  # the rows are consistent by construction: skip the foreign-key triggers
            await conn.execute("SET session_replication_role = replica")
        except asyncpg.PostgresError as exc:
            log.info("foreign keys stay checked while seeding (%s)", exc)
        await conn.execute("SET maintenance_work_mem = '512MB'")
        indexes = await conn.fetch(_PG_INDEXES, schema, list(TABLES))
        for index in indexes:
            await conn.execute(f'DROP INDEX "{schema}"."{index["name"]}"')
        producer = Producer(Seeder(n, moment=pg_moment, seed=seed).batches())
        try:
            while (batch := await asyncio.to_thread(producer.get)) is not None:
                for table, rows in batch.rows.items():
                    if rows:
                        await conn.copy_records_to_table(
                            table, records=rows, columns=COLUMNS[table], schema_name=schema
                        )
        finally:
            producer.close()
        timings["insert_s"] = time.perf_counter() - started
        mark = time.perf_counter()
        for index in indexes:
            await conn.execute(index["definition"])
        for table in TABLES:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            )
        timings["index_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        # VACUUM too: sets the visibility map (index-only scans), as autovacuum would soon.
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(TABLES)}")
        timings["analyze_s"] = time.perf_counter() - mark
    finally:
        await conn.close()
    return timings


async def check_sqlite_format(engine: AsyncEngine) -> None:
    """Our hand-made SQLite values must equal what SQLAlchemy itself writes."""
    moment = datetime(2026, 1, 2, 3, 4, 5, 60708, tzinfo=UTC)
    tags = ["outage"]
    async with engine.begin() as conn:
        await conn.execute(
            insert(CASES).values(
                id=1, department="webcare", status="new", priority="normal", tags=tags,
                source="x", author_handle="probe", reactive=False, private=False,
                opened_at=moment, last_mention_at=moment, sla_due_at=moment, mention_count=1,
            )
        )  # fmt: skip
        raw = (
            await conn.exec_driver_sql("SELECT opened_at, tags, reactive FROM cases WHERE id = 1")
        ).one()
        await conn.execute(delete(CASES))
    ours = (sqlite_moment(moment.timestamp()), json.dumps(tags), 0)
    if tuple(raw) != ours:
        raise CheckFailed(f"SQLite stores {tuple(raw)!r}, the seeder writes {ours!r}")


async def verify(engine: AsyncEngine, n: int) -> dict[str, Any]:
    """Count the cases and read a resolved and an open one back through SQLAlchemy."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(CASES.c.status, func.count()).group_by(CASES.c.status))
        by_status: dict[str, int] = {status: count for status, count in rows}
        resolved = (
            await conn.execute(select(CASES).where(CASES.c.status == "resolved").limit(1))
        ).one()
        waiting = (await conn.execute(select(CASES).where(CASES.c.status == "new").limit(1))).one()
    total = sum(by_status.values())
    moments = [resolved.opened_at, resolved.first_response_at, resolved.resolved_at]
    moments += [waiting.opened_at, waiting.sla_due_at]
    problems = [
        f"{total} cases, not {n}" if total != n else "",
        "naive or non-UTC datetime"
        if any(m is None or m.utcoffset() != timedelta(0) for m in moments)
        else "",
        "resolved before answered"
        if not resolved.opened_at < resolved.first_response_at <= resolved.resolved_at
        else "",
        "tags not a list" if not isinstance(resolved.tags, list) else "",
        "reactive not a bool" if resolved.reactive is not False else "",
        "open case with an answer" if waiting.first_response_at is not None else "",
    ]
    if any(problems):
        raise CheckFailed("seeded data reads back wrong: " + "; ".join(p for p in problems if p))
    resolved_share = by_status.get("resolved", 0) / total
    return {"by_status": by_status, "resolved_share": round(resolved_share, 4)}


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
        finally:
            await runtime.stop()
            gc.unfreeze()  # Runtime.start froze everything alive; undo for the next database
            gc.set_threshold(*threshold)
    return {
        "http_status_ms": status,
        "http_report_week_ms": report_week,
        "http_report_figures_ms": spread(figures_ms[warmup:]),
        "http_report_chart_done_ms": spread(chart_ms[warmup:]),
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
