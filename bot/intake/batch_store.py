"""Storing one group commit's batch of routed mentions: the transactions behind it.

On PostgreSQL new customers' first mentions go first, in one statement that is its own
transaction (storage.intake.first_mentions); the rest in one transaction through
`store_incoming`. A conflict with another replica is read again and retried. On PostgreSQL the
planner's statistics are refreshed as the tables grow.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.state_machine import customer_return
from bot.core import background
from bot.core.clock import Clock
from storage.db import unit_of_work
from storage.intake.first_mentions import candidates, store_first_mentions
from storage.intake.rows import Incoming, Stored
from storage.intake.store import store_incoming
from storage.table_stats import TableStats

log = logging.getLogger(__name__)

# Up to this many mentions a transaction may run on the event loop (storage.db.UnitOfWork):
# a couple of milliseconds of SQLite at most; larger ones go to the writer thread.
INLINE_MAX = 64


class PartlyStored(Exception):
    """Storing a batch failed after part of it was committed: `stored`, by position."""

    def __init__(self, stored: dict[int, Stored], error: Exception) -> None:
        super().__init__(str(error))
        self.stored, self.error = stored, error


class BatchStore:
    def __init__(self, *, engine: AsyncEngine, clock: Clock, reopen_window: timedelta) -> None:
        self.clock = clock
        self._reopen_window = reopen_window
        self._unit = unit_of_work(engine)
        # PostgreSQL: new customers' first mentions in one statement, its own transaction.
        self._one_statement = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if (engine.dialect.name, engine.dialect.driver) == ("postgresql", "asyncpg")
            else None
        )
        self._stats = TableStats() if engine.dialect.name == "postgresql" else None
        self._analyzing = False

    async def store(self, items: list[Incoming]) -> list[Stored]:
        """Store the items, committed when this returns: one `Stored` each, in order. Raises
        `PartlyStored` when it failed after some were committed."""
        stored: dict[int, Stored] = {}  # by position in items: what is committed
        try:
            return await self._store_rest(items, stored)
        except Exception as exc:
            if stored:  # the new customers' statement committed before the rest failed
                raise PartlyStored(stored, exc) from exc
            raise

    def committed(self, count: int) -> None:
        """`count` more mentions are stored: on PostgreSQL the planner's statistics are
        refreshed (in the background) once the tables have grown enough."""
        if self._stats is not None and self._stats.stored(count) and not self._analyzing:
            self._analyzing = True
            background.start(self._analyze())

    async def _store_rest(self, items: list[Incoming], stored: dict[int, Stored]) -> list[Stored]:
        """Store the items not in `stored` yet, adding each to it once committed."""
        for attempt in range(3):
            try:
                now = self.clock.now()
                reopen_after = now - self._reopen_window
                if self._one_statement is not None:
                    stored.update(
                        await self._store_first_mentions(items, stored, now, reopen_after)
                    )
                rest = [item for at, item in enumerate(items) if at not in stored]
                if rest:
                    work = partial(
                        store_incoming,
                        items=rest,
                        now=now,
                        reopen_after=reopen_after,
                        returned=customer_return,
                    )
                    results = iter(await self._unit.run(work, inline=len(rest) <= INLINE_MAX))
                    stored.update(
                        {at: next(results) for at in range(len(items)) if at not in stored}
                    )
                return [stored[at] for at in range(len(items))]
            except IntegrityError:
                # Another replica stored the same mention or opened the same author's case
                # between our read and our write: reading again resolves it.
                if attempt == 2:
                    raise
                log.info("ingest conflict with a concurrent writer; retrying")
        raise AssertionError("unreachable")

    async def _store_first_mentions(
        self,
        items: list[Incoming],
        stored: dict[int, Stored],
        now: datetime,
        reopen_after: datetime,
    ) -> dict[int, Stored]:
        """Store the new customers' first mentions among `items` (not yet stored) in one
        statement (storage.intake.first_mentions); by position in `items`."""
        assert self._one_statement is not None
        picked = [at for at in candidates(items) if at not in stored]
        if not picked:
            return {}
        async with self._one_statement.connect() as conn:
            done = await store_first_mentions(conn, [items[at] for at in picked], now, reopen_after)
        return {picked[n]: result for n, result in done.items()}

    async def _analyze(self) -> None:
        assert self._stats is not None
        try:
            await self._unit.run(self._stats.analyze)
        except Exception as exc:  # the planner's picture stays as it was; ingest goes on
            log.warning("ANALYZE for the planner failed: %s", exc)
        finally:
            self._analyzing = False
