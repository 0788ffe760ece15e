"""What the CLI commands do once settings and config are loaded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import make_url

from bot.app.settings import Settings
from bot.core.config import WebcareConfig
from bot.intake.ingest import Ingestor, IngestResult
from bot.intake.mentions import MentionIn
from storage import outbox_report
from storage.db import close_unit_of_work, create_engine, ping
from storage.migrate import current_revision, head_revision, upgrade
from storage.single_process import AlreadyServing, serve_lock

log = logging.getLogger(__name__)
IMPORT_CHUNK = 500
SCHEMA_RETRY_SECONDS = 2.0  # how often `serve` asks a database that is down at start


async def upgrade_database(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _schema_ready(settings: Settings) -> str | None:
    """None when the schema is current; else what to do. A fresh SQLite file is migrated here."""
    engine = create_engine(settings.database_url)
    try:
        if make_url(settings.database_url).get_backend_name() == "sqlite":
            await upgrade(engine)
            return None
        revision = await current_revision(engine)
        if revision != head_revision():
            return f"the database schema is at {revision or 'nothing'}: run `webcare db upgrade`"
        return None
    finally:
        await engine.dispose()


async def serve(settings: Settings, config: WebcareConfig) -> int:
    from bot.app.runtime import Runtime

    lock = serve_lock(settings.database_url)
    if lock is not None:
        try:
            lock.acquire()
        except AlreadyServing as exc:
            print(
                f"webcare: another `webcare serve` (pid {exc}) is using {lock.path.stem}. "
                "SQLite takes one process at a time: stop that one, or use PostgreSQL "
                "(DATABASE_URL) to run several replicas.",
                file=sys.stderr,
            )
            return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # a graceful stop (bot.app.runtime.stop)
        loop.add_signal_handler(sig, stop.set)
    runtime = Runtime(settings, config)
    try:
        # Serve first: while the database is unreachable the webhook answers 503 and /healthz
        # says why, and the bot carries on by itself once the database is back.
        await runtime.start(run_worker=False)
        problem = await _wait_for_schema(settings, stop)
        if problem:
            print(f"webcare: {problem}", file=sys.stderr)
            return 2
        if not stop.is_set():
            runtime.start_workers()
        await stop.wait()
    finally:
        log.info("stopping")
        await runtime.stop()
        if lock is not None:
            lock.release()
    return 0


async def _wait_for_schema(settings: Settings, stop: asyncio.Event) -> str | None:
    """Wait until the database answers with a current schema (None), or say what to do."""
    from bot.core.outage import OUTAGE, is_unavailable

    while not stop.is_set():
        try:
            problem = await _schema_ready(settings)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            OUTAGE.failed(exc, doing="starting")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SCHEMA_RETRY_SECONDS)
            continue
        OUTAGE.ok()
        return problem
    return None


async def check(settings: Settings, config: WebcareConfig | None) -> int:
    """Print what is fine and what is not; exit status 1 if anything is not."""
    ok = config is not None
    print(f"config {settings.webcare_config}: {'ok' if ok else 'has problems (above)'}")
    if config is not None:
        print(f"  {len(config.departments)} department(s), {len(config.rules)} rule(s)")
    engine = create_engine(settings.database_url)
    try:
        await ping(engine)
        revision = await current_revision(engine)
        current = revision == head_revision()
        print(f"database: reachable, schema {'current' if current else 'needs webcare db upgrade'}")
        ok &= current or make_url(settings.database_url).get_backend_name() == "sqlite"
    except Exception as exc:
        print(f"database: NOT reachable ({type(exc).__name__}: {exc})")
        ok = False
    finally:
        await engine.dispose()
    missing = settings.missing_for_serve()
    if missing:
        print("slack: missing " + ", ".join(missing))
        return 1
    from bot.app.slack_app import outbox_client

    try:
        response = await outbox_client(settings).auth_test()
        mode = "Socket Mode" if settings.socket_mode else "HTTP mode"
        print(f"slack: token ok, bot {response.get('user')} in {response.get('team')} ({mode})")
    except Exception as exc:
        print(f"slack: auth.test failed: {exc}")
        ok = False
    return 0 if ok else 1


async def import_mentions(
    settings: Settings, config: WebcareConfig, mentions: Sequence[MentionIn]
) -> IngestResult:
    from bot.core.clock import SystemClock

    if (problem := await _schema_ready(settings)) is not None:
        raise SystemExit(f"webcare: {problem}")
    engine = create_engine(settings.database_url)
    try:
        ingestor = Ingestor(engine=engine, config=config, clock=SystemClock())
        results = [
            await ingestor.ingest(mentions[i : i + IMPORT_CHUNK])
            for i in range(0, len(mentions), IMPORT_CHUNK)
        ]
    finally:
        close_unit_of_work(engine)
        await engine.dispose()
    return IngestResult(
        accepted=sum(r.accepted for r in results),
        duplicates=sum(r.duplicates for r in results),
        case_ids=list(dict.fromkeys(c for r in results for c in r.case_ids)),
    )


async def export_report(settings: Settings, config: WebcareConfig, args: Any) -> str:
    """`webcare report`: the period's figures as JSON or CSV, or one CSV row per case."""
    import csv
    import io
    import json
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from bot.insight.reports import build_report, cases_csv

    zone = ZoneInfo(config.business_hours.timezone)

    def aware(moment: datetime) -> datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)

    since, until = aware(args.since), aware(args.until) if args.until else datetime.now(UTC)
    engine = create_engine(settings.database_url)
    try:
        if args.cases:
            return await cases_csv(
                engine, config=config, since=since, until=until, department=args.department
            )
        report = await build_report(
            engine, config=config, since=since, until=until, department=args.department
        )
    finally:
        await engine.dispose()
    data = report.as_json()
    if args.format == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["figure", "value"])
    for key, value in data.items():
        writer.writerow(
            [
                key,
                json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value,
            ]
        )
    return out.getvalue()


async def dead_jobs(settings: Settings) -> list[Any]:

    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(outbox_report.dead_jobs)
    finally:
        await engine.dispose()


async def retry_dead_jobs(settings: Settings, ids: Sequence[int]) -> tuple[int, int]:
    """Queue parked jobs again (all when `ids` is empty): (queued, skipped)."""

    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            wanted = list(ids) or [job.id for job in await conn.run_sync(outbox_report.dead_jobs)]
            queued = 0
            for job_id in wanted:
                queued += await conn.run_sync(
                    lambda sync, job_id=job_id: outbox_report.retry_dead(sync, job_id=job_id)
                )
        return queued, len(wanted) - queued
    finally:
        close_unit_of_work(engine)
        await engine.dispose()


async def source_states(settings: Settings) -> dict[str, Any]:
    from storage.cursors import all_cursors

    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return await all_cursors(conn)
    except Exception:
        return {}  # no database yet: nothing polled
    finally:
        await engine.dispose()


async def try_source(config: WebcareConfig, source: Any) -> list[str]:
    """Fetch a source once and say what each item would become; stores and posts nothing.
    Shows everything the source returns now, also what the backfill window would skip."""
    from datetime import UTC, datetime

    import aiohttp

    from bot.intake.mentions import MentionError, parse_mentions
    from bot.intake.routing import Router
    from bot.intake.sources.base import Cursor
    from bot.intake.sources.poller import build_sources

    fetcher = build_sources(config)[source.name]
    now = datetime.now(UTC)
    async with aiohttp.ClientSession() as session:
        fetched = await fetcher.fetch(
            session, Cursor(), now=now, backfill_from=datetime.min.replace(tzinfo=UTC)
        )
    router, lines = Router(config), []
    for item in fetched.items:
        try:
            (mention,) = parse_mentions(item.mention)
        except MentionError as exc:
            lines.append(f"SKIPPED: {exc.message}")
            continue
        decision = router.route(mention := router.with_language(mention))
        rule = decision.rule or "(default)"
        lines.append(
            f"{item.published:%Y-%m-%d %H:%M} {mention.external_id} -> {decision.department} "
            f"[{decision.priority}] by {rule}: {mention.text[:80]}"
        )
    return lines
