"""The scheduler: fires due tasks (follow-up questions) once, also after downtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from storage import schedule
from storage.models import TaskKind

log = logging.getLogger(__name__)


class Scheduler:
    """Turns due tasks into outbox messages; `on_fired` wakes the outbox."""

    def __init__(
        self, *, engine: AsyncEngine, clock: Clock, on_fired: Callable[[], None] | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.on_fired = on_fired
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def fire_due(self) -> int:
        """Fire every task that is due now; returns how many fired."""
        fired = 0
        while True:
            now = self.clock.now()
            async with self.engine.begin() as conn:
                task = await schedule.take_due_task(conn, now=now)
                if task is None:
                    break
                if task.kind == TaskKind.FOLLOW_UP:
                    await schedule.enqueue_dm(
                        conn,
                        user=task.notify,
                        case_id=task.case_id,
                        now=now,
                        payload={"kind": "follow_up_due", "due_at": task.due_at.isoformat()},
                    )
                else:
                    log.error("scheduled task %s has unknown kind %r", task.id, task.kind)
            fired += 1
        if fired and self.on_fired:
            self.on_fired()
        return fired

    async def run_forever(self, poll: float = 15.0) -> None:
        while True:
            try:
                await self.fire_due()
                async with self.engine.connect() as conn:
                    due = await schedule.next_task_due(conn)
            except Exception:  # database down: nothing is lost, try again later
                log.exception("scheduler poll failed")
                due = None
            wait = poll
            if due is not None:
                wait = min(poll, max(0.0, (due - self.clock.now()).total_seconds()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
