"""Case changes that wait for SQLite's one writer together go in one transaction.

A burst of clicks queues its claims behind the unit of work's single writer thread anyway; run
one by one, each pays a transaction and two hops between the event loop and that thread, and
the event loop pays its share while it should be acking the next clicks. Batched, the claims
that arrive while one transaction runs make up the next one. Each change keeps its own checks
under the write lock, so two claims of one case in a batch still have one winner; a change
refused by its checks wrote nothing (`refusals`), and the others in the batch go ahead.
If a batch fails any other way, nothing of it is kept and each change is run on its own.

PostgreSQL runs units of work side by side with row locks: batching there could lock cases in
an order another transaction (an ingest batch) does not, so it is SQLite only.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import UnitOfWork, is_busy, is_sqlite, unit_of_work

T = TypeVar("T")
# Enough to share a transaction among a burst's claims; few enough that finishing a batch (every
# click's future resolved in one turn of the event loop) never stalls the loop for long.
MAX_BATCH = 32
# A batch this small runs on the event loop when SQLite's writer is idle (UnitOfWork's inline
# mode): cheaper than the hop to the thread and back, and too short to hold up other requests.
# Its first statement is the case lock's write, so it takes the write lock first, or hands the
# batch to the thread when another connection has it.
INLINE_MAX = 4
Work = Callable[[Connection], Any]
_Outcome = tuple[bool, Any]  # (made, result or the refusal)


class Batcher:
    """Runs changes in shared SQLite transactions; one transaction in flight at a time."""

    def __init__(self, engine: AsyncEngine, refusals: tuple[type[Exception], ...]) -> None:
        # Weakly: _BATCHERS would otherwise keep every engine alive (tests make hundreds).
        self._engine = weakref.ref(engine)
        self.refusals = refusals
        self._waiting: list[tuple[Work, asyncio.Future[Any]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def run(self, work: Callable[[Connection], T]) -> T:
        """The result of `work(conn)` once its transaction has committed (or its refusal)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((work, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.ensure_future(self._drain())
        return await future  # type: ignore[no-any-return]

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                try:
                    works = [work for work, _ in batch]
                    outcomes = await self._unit().run(
                        partial(self._all, works), inline=len(works) <= INLINE_MAX
                    )
                except OperationalError as error:
                    if not is_busy(error):
                        outcomes = [await self._alone(work) for work, _ in batch]
                    else:  # the database stayed locked: one by one would wait as long again
                        outcomes = [(False, error)] * len(batch)
                except Exception:  # rolled back: each on its own, so one cannot sink the rest
                    outcomes = [await self._alone(work) for work, _ in batch]
                for (_, future), (made, value) in zip(batch, outcomes, strict=True):
                    if future.done():  # its caller was cancelled
                        continue
                    if made:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._drainer = None

    def _unit(self) -> UnitOfWork:
        engine = self._engine()
        if engine is None:
            raise RuntimeError("the engine of these changes is gone")
        return unit_of_work(engine)

    def _all(self, works: list[Work], conn: Connection) -> list[_Outcome]:
        """In the writer thread, one transaction: each change made or refused by its checks."""
        outcomes: list[_Outcome] = []
        for work in works:
            try:
                outcomes.append((True, work(conn)))
            except self.refusals as refused:
                outcomes.append((False, refused))
        return outcomes

    async def _alone(self, work: Work) -> _Outcome:
        try:
            return True, await self._unit().run(work)
        except Exception as error:
            return False, error


_BATCHERS: weakref.WeakKeyDictionary[AsyncEngine, Batcher] = weakref.WeakKeyDictionary()


def batcher(engine: AsyncEngine, refusals: tuple[type[Exception], ...]) -> Batcher | None:
    """The engine's batcher on SQLite; None elsewhere (run each change as its own unit)."""
    if not is_sqlite(engine):
        return None
    found = _BATCHERS.get(engine)
    if found is None:
        found = _BATCHERS[engine] = Batcher(engine, refusals)
    return found
