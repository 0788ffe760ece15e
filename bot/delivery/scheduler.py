"""The scheduler: fires due tasks (follow-up questions) once, also after downtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.clock import Clock
from bot.core.config import WebcareConfig
from bot.core.outage import OUTAGE, is_unavailable
from bot.insight import spikes
from storage import schedule, sla
from storage.case_row import CaseRow
from storage.db import unit_of_work
from storage.enqueue import enqueue_escalation
from storage.outbox import enqueue_card_update
from storage.statuses import CaseStatus, TaskKind
from storage.tables import CASES
from storage.transitions.core import lock_case

log = logging.getLogger(__name__)
SPIKE_CHECK = timedelta(minutes=1)  # how often the last hour is compared with past weeks
# Cases an SLA sweep takes at most (a transaction of its own), and sweeps in a row per poll.
SWEEP_LIMIT = 100
MAX_SWEEPS = 50


class Scheduler:
    """Turns due tasks into outbox messages; `on_fired` wakes the outbox."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        clock: Clock,
        config: WebcareConfig | None = None,
        on_fired: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.on_fired = on_fired
        self._wake = asyncio.Event()
        self._last_spike_check: datetime | None = None

    def wake(self) -> None:
        self._wake.set()

    async def fire_due(self) -> int:
        """Fire every task that is due now and sweep SLA deadlines; returns the tasks fired."""
        fired = swept = 0
        unit = unit_of_work(self.engine)
        try:
            while await unit.run(partial(self._fire_next, now=self.clock.now())):
                fired += 1
            if self.config is None:
                return fired
            # A sweep takes up to a hundred cases, each sweep its own short transaction; in a
            # storm hundreds pass their deadline at once, and all of them turn red now, not a
            # hundred every poll.
            raced = False
            for _ in range(MAX_SWEEPS):
                try:
                    taken, more = await unit.run(partial(self._sweep_sla, now=self.clock.now()))
                except IntegrityError:
                    if raced:  # twice in a row is no race: let the poll report it
                        raise
                    # Another replica queued the same leads' message a moment before: the
                    # sweep was undone, and swept again its cases join that message.
                    log.info("SLA sweep raced another replica's; sweeping again")
                    raced = True
                    continue
                raced = False
                swept += taken
                if not more:
                    break
            now = self.clock.now()
            if self._last_spike_check is None or now - self._last_spike_check >= SPIKE_CHECK:
                self._last_spike_check = now
                alerts = await unit.run(partial(spikes.detect, now=now, config=self.config))
                swept += len(alerts)
        finally:
            # What was committed goes out, also when a later step of this poll failed.
            if (fired or swept) and self.on_fired:
                self.on_fired()
        return fired

    def _fire_next(self, conn: Connection, *, now: datetime) -> bool:
        """Fire the oldest due task, if any, in the caller's transaction."""
        task = schedule.take_due_task(conn, now=now)
        if task is None:
            return False
        self._fire(conn, task, now)
        return True

    def _sweep_sla(self, conn: Connection, *, now: datetime) -> tuple[int, bool]:
        """Warn about unclaimed cases nearing their deadline; escalate breached ones. Returns
        the cases swept, and whether more may be waiting (a sweep took its limit)."""
        assert self.config is not None
        warned = sla.take_warnings(conn, now=now, limit=SWEEP_LIMIT)
        for case in warned:
            department = self.config.department(case.department)
            enqueue_card_update(conn, case_id=case.id, channel=case.slack_channel, now=now)
            if case.owner_id is not None or case.slack_ts is None:
                continue  # someone has it, or it is a digest row: the orange light is enough
            _sla_note(conn, case, "sla_warning", now, contacts=department.contacts)
        breached = sla.take_breaches(conn, now=now, limit=SWEEP_LIMIT)
        escalations: dict[tuple[str, str], list[list[Any]]] = {}
        for case in breached:
            department = self.config.department(case.department)
            target = department.escalate_to or self.config.escalate_to
            if case.slack_ts is not None:  # a digest row has no thread: its light turns red
                _sla_note(conn, case, "sla_breach", now, escalated_to=target)
            enqueue_card_update(conn, case_id=case.id, channel=case.slack_channel, now=now)
            if target:
                # Where the leads find it: its card, else its digest row's message.
                shown = (
                    [case.slack_channel, case.slack_ts]
                    if case.slack_ts
                    else [case.digest_channel, case.digest_ts]
                )
                escalations.setdefault((target, case.slack_channel), []).append([case.id, *shown])
        # In a storm many cases pass their deadline at once: the leads get one message per
        # channel listing them, not one each (a hundred would take minutes to post); the cases
        # of later sweeps join it while it waits.
        # In a fixed order: two replicas adding to the same two messages never lock them in
        # opposite orders (a deadlock).
        for (target, channel), cases in sorted(escalations.items()):
            enqueue_escalation(conn, target=target, channel=channel, cases=cases, now=now)
        more = SWEEP_LIMIT in (len(warned), len(breached))
        return len(warned) + len(breached), more

    def _fire(self, conn: Connection, task: Row[Any], now: datetime) -> None:
        """Queue what a due task says; a forward answered meanwhile needs nothing any more."""
        if task.kind == TaskKind.FOLLOW_UP:
            # Asked of whoever has the case now (taken over since?), and only while it still
            # waits for its follow-up (resolved meanwhile: nothing to ask). Read, not locked:
            # a click on the case locks it first and then this task row, and the answer's
            # buttons check the case again.
            case = conn.execute(
                select(CASES.c.status, CASES.c.owner_id).where(CASES.c.id == task.case_id)
            ).first()
            if case is not None and case.status == CaseStatus.FORWARDED:
                # A colleague was asked something meanwhile: the question waits for their
                # answer (bot.cases.state_machine.transition releases it).
                schedule.hold(conn, task_id=task.id)
            elif case is not None and case.status == CaseStatus.FOLLOW_UP:
                schedule.enqueue_dm(
                    conn,
                    user=case.owner_id or task.notify,
                    case_id=task.case_id,
                    now=now,
                    payload={"kind": "follow_up_due", "due_at": task.due_at.isoformat()},
                )
            return
        case = lock_case(conn, case_id=task.case_id)
        still_forwarded = case is not None and case.status == CaseStatus.FORWARDED
        if task.kind == TaskKind.FORWARD_REMINDER and still_forwarded:
            schedule.enqueue_dm(
                conn,
                user=task.notify,
                case_id=task.case_id,
                now=now,
                payload={"kind": "forward_reminder"},
            )
        elif task.kind == TaskKind.FORWARD_DEADLINE and still_forwarded:
            assert case is not None
            schedule.enqueue_dm(
                conn,
                user=task.notify,
                case_id=task.case_id,
                now=now,
                payload={"kind": "forward_deadline", "person": case.forwarded_to},
            )
            schedule.enqueue_note(
                conn,
                case_id=task.case_id,
                channel=case.slack_channel,
                now=now,
                note={
                    "action": "forward_deadline",
                    "actor": "webcare",
                    "at": now.isoformat(),
                    "to": case.forwarded_to,
                },
            )
        elif task.kind not in (TaskKind.FORWARD_REMINDER, TaskKind.FORWARD_DEADLINE):
            log.error("scheduled task %s has unknown kind %r", task.id, task.kind)

    async def run_forever(self, poll: float = 15.0) -> None:
        while True:
            try:
                await self.fire_due()
                async with self.engine.connect() as conn:
                    due = await schedule.next_task_due(conn)
            except Exception as exc:  # database down: nothing is lost, try again later
                if is_unavailable(exc):
                    OUTAGE.failed(exc, doing="looking for scheduled work")
                else:
                    log.exception("scheduler poll failed")
                due = None
            wait = poll
            if due is not None:
                wait = min(poll, max(0.0, (due - self.clock.now()).total_seconds()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)


def _sla_note(conn: Connection, case: CaseRow, action: str, now: datetime, **extra: Any) -> None:
    """A line in the card's thread about the case's SLA clock."""
    schedule.enqueue_note(
        conn,
        case_id=case.id,
        channel=case.slack_channel,
        now=now,
        note={
            "action": action,
            "actor": "webcare",
            "at": now.isoformat(),
            "due_at": case.sla_due_at.isoformat(),
            **extra,
        },
    )
