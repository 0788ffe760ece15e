"""The async engine and sessions, tuned per database."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.types import dumps_json, loads_json

T = TypeVar("T")
log = logging.getLogger(__name__)


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    url = make_url(database_url)
    kwargs.setdefault("json_serializer", dumps_json)
    kwargs.setdefault("json_deserializer", loads_json)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No ping before each checkout: it costs a round trip per transaction (a sixth of the
    # webhook's CPU on PostgreSQL). A connection found dead instead fails its statement: the
    # request answers 503 (the sender retries), and SQLAlchemy then drops every pooled
    # connection older than that, so one failure, not one per connection, follows an outage.
    kwargs.setdefault("pool_pre_ping", False)
    # A database that does not answer must fail fast, not hang requests: give up connecting
    # after 5 s (asyncpg waits 60 s), waiting for a pooled connection after 5 s, and any one
    # statement after 60 s (the longest report takes a few seconds on a million cases).
    kwargs.setdefault("pool_timeout", 5)
    if url.get_backend_name() == "postgresql" and url.get_driver_name() == "asyncpg":
        connect_args = kwargs.setdefault("connect_args", {})
        connect_args.setdefault("timeout", 5)
        connect_args.setdefault("command_timeout", 60)
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


def _writer_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # A multi-row INSERT keeps a statement journal (to undo just that statement), and an
    # ingest batch's touches some twenty pages: past 64 KiB SQLite moves it to a new temp file
    # in /var/tmp, written page by page, about every other commit (seen with strace: two in
    # five of the webhook's writes). These connections only run short writes and the small
    # reads around them (reports and summaries read through the other engine), so their temp
    # data stays in memory.
    dbapi_connection.execute("PRAGMA temp_store=MEMORY")


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

    `run(work, inline=True)` (SQLite, short transactions that take the write lock first with
    BEGIN IMMEDIATE: the webhook's group commit) runs `work` on the event loop itself when the
    writer thread is idle and the lock is free at once, and otherwise in the thread as usual.
    Handing a transaction to the thread and back costs more than a short one itself: the
    thread hop, and the GIL going back and forth at every SQLite step.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sync: Engine | None = None
        self._busy = 0  # units handed to the writer thread and not finished
        self._inline: Connection | None = None
        self._inline_commits = 0
        if is_sqlite(engine):
            url = engine.url.set(drivername="sqlite")
            # The ingest batch's statements come in a hundred-odd shapes (storage.intake.sqlite):
            # all of them stay prepared, with room for the outbox's and the clicks'.
            connect_args = {"check_same_thread": False, "cached_statements": 256}
            self._sync = sa_create_engine(
                url,
                connect_args=connect_args,
                json_serializer=dumps_json,
                json_deserializer=loads_json,
            )
            event.listen(self._sync, "connect", _sqlite_pragmas)
            event.listen(self._sync, "connect", _writer_pragmas)
            # SQLite takes one writer at a time anyway: one thread means no lock waits between
            # our own threads, and only one thread competing with the event loop for the GIL.
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")

    async def run(self, work: Callable[[Connection], T], *, inline: bool = False) -> T:
        if self._sync is None:
            async with self.engine.begin() as conn:
                return await conn.run_sync(work)
        if inline and not self._busy:
            try:
                return self._run_inline(work)
            except _LockBusy:
                pass  # another process writes: wait for it in the thread, not on the loop
        self._busy += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._writer, self._run_in_thread, work
            )
        finally:
            self._busy -= 1

    def _run_inline(self, work: Callable[[Connection], T]) -> T:
        assert self._sync is not None
        if self._inline is None:
            self._inline = self._sync.connect()
            raw = self._inline.connection.dbapi_connection
            assert raw is not None
            # Never wait for the lock on the event loop; never checkpoint (fsync) on it either:
            # the writer thread checkpoints, see below.
            raw.execute("PRAGMA busy_timeout=0")
            raw.execute("PRAGMA wal_autocheckpoint=0")
        try:
            with self._inline.begin():
                result = _translating_errors(work, self._inline)
        except OperationalError as exc:
            if is_busy(exc):
                raise _LockBusy from exc
            self._drop_inline()  # whatever went wrong, the next one starts afresh
            raise
        self._inline_commits += 1
        if self._inline_commits % _CHECKPOINT_EVERY == 0:
            # What auto-checkpointing would do after ~1,000 WAL pages, in the writer thread.
            task = asyncio.get_running_loop().create_task(self._checkpoint())
            _BACKGROUND.add(task)
            task.add_done_callback(_BACKGROUND.discard)
        return result

    async def _checkpoint(self) -> None:
        try:
            await self.run(_checkpoint)
        except Exception as exc:  # shutting down, or the database is gone: the next one will do
            log.info("WAL checkpoint skipped: %s", exc)

    def _run_in_thread(self, work: Callable[[Connection], T]) -> T:
        assert self._sync is not None
        with self._sync.begin() as conn:
            return _translating_errors(work, conn)

    def _drop_inline(self) -> None:
        if self._inline is not None:
            # Not back into the pool: its pragmas are for the event loop only.
            self._inline.invalidate()
            self._inline.close()
            self._inline = None

    def dispose(self) -> None:
        if self._sync is not None:
            self._writer.shutdown(wait=True)
            self._drop_inline()
            self._sync.dispose()


# Inline ingest commits between checkpoints: a commit writes some 20-50 WAL pages.
_CHECKPOINT_EVERY = 32
_BACKGROUND: set[asyncio.Task[Any]] = set()


class _LockBusy(Exception):
    """The SQLite write lock is held by another connection (another process)."""


def _translating_errors(work: Callable[[Connection], T], conn: Connection) -> T:
    """Run `work`; an error from the sqlite3 driver itself (the hot paths that skip
    SQLAlchemy) is raised as SQLAlchemy's (IntegrityError, OperationalError, …), so callers
    handle both paths, and both databases, alike."""
    try:
        return work(conn)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(None, None, exc, sqlite3.Error) from exc


def is_busy(exc: OperationalError) -> bool:
    """Whether SQLite said another connection holds the lock."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _checkpoint(conn: Connection) -> None:
    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()


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
