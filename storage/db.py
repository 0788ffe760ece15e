"""The async engine and sessions, tuned per database."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

T = TypeVar("T")


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (healthz, reports) run while the ingest writer commits; NORMAL is
    # durable across process crashes, which is what the outbox needs.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


async def ping(engine: AsyncEngine) -> None:
    """Raise if the database does not answer."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


class UnitOfWork:
    """Runs a synchronous function as one transaction, with as few thread hops as possible.

    aiosqlite moves every DBAPI call (cursor, execute, fetch, close) to its thread and back:
    ~50 hops for one ingest batch. On SQLite the whole function therefore runs in one worker
    thread with the stdlib driver; on PostgreSQL it runs through `run_sync` over asyncpg.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sync: Engine | None = None
        if is_sqlite(engine):
            url = engine.url.set(drivername="sqlite")
            self._sync = sa_create_engine(url, connect_args={"check_same_thread": False})
            event.listen(self._sync, "connect", _sqlite_pragmas)
            # SQLite takes one writer at a time anyway: one thread means no lock waits between
            # our own threads, and only one thread competing with the event loop for the GIL.
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")

    async def run(self, work: Callable[[Connection], T]) -> T:
        if self._sync is None:
            async with self.engine.begin() as conn:
                return await conn.run_sync(work)
        return await asyncio.get_running_loop().run_in_executor(
            self._writer, self._run_in_thread, work
        )

    def _run_in_thread(self, work: Callable[[Connection], T]) -> T:
        assert self._sync is not None
        with self._sync.begin() as conn:
            return work(conn)

    def dispose(self) -> None:
        if self._sync is not None:
            self._writer.shutdown(wait=True)
            self._sync.dispose()


_UNITS: weakref.WeakKeyDictionary[AsyncEngine, UnitOfWork] = weakref.WeakKeyDictionary()


def unit_of_work(engine: AsyncEngine) -> UnitOfWork:
    """The engine's shared UnitOfWork (one stdlib SQLite engine per database, not per call)."""
    unit = _UNITS.get(engine)
    if unit is None:
        unit = _UNITS[engine] = UnitOfWork(engine)
    return unit


def close_unit_of_work(engine: AsyncEngine) -> None:
    """Close the connections of the engine's unit of work (at shutdown)."""
    unit = _UNITS.pop(engine, None)
    if unit is not None:
        unit.dispose()
