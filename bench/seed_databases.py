"""Loading the seeded rows into SQLite and PostgreSQL straight through the DBAPI (secondary
indexes dropped and rebuilt afterwards, ANALYZE), and checking that SQLAlchemy reads them back."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.seed_rows import (
    COLUMNS,
    SEED_PRAGMAS,
    TABLES,
    Producer,
    Seeder,
    pg_moment,
    sqlite_moment,
)
from storage.tables import CASES

log = logging.getLogger("bench.seed")


class CheckFailed(Exception):
    """The benchmark saw something wrong (not merely slow)."""


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
