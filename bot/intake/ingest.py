"""Ingest: route each mention and store it, many requests to one transaction (group commit).

Concurrent webhook requests each wait for their own result, but share a database transaction:
SQLite has one writer, and one commit for thirty requests is what makes the webhook fast. The
transactions themselves are bot.intake.batch_store's.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core import metrics
from bot.core.business_time import BusinessCalendar
from bot.core.clock import Clock
from bot.core.config import WebcareConfig
from bot.core.outage import is_unavailable
from bot.intake.batch_store import BatchStore, PartlyStored
from bot.intake.deadlines import Deadlines, clock_start
from bot.intake.mentions import MentionIn
from bot.intake.routing import Router
from storage.intake.rows import Incoming, Stored

log = logging.getLogger(__name__)

# Above this many mentions a transaction is split; keeps SQLite's write lock short.
MAX_BATCH = 1000
# Event-loop rounds a transaction waits at most for more requests to join it.
GATHER_ROUNDS = 4
# Under load (the last transaction stored several requests) a transaction also waits up to
# this long for as many requests as the last one had, as PostgreSQL's commit_delay does: a
# commit costs SQLite some 80 pages of WAL whatever it holds, so thirty requests a commit
# instead of a dozen take a sixth off the webhook's CPU per request (bench.ingest). A lone
# request never waits.
LINGER_S = 0.002
# Transactions in flight at once. SQLite has one writer. On PostgreSQL a second one lets the
# bot prepare the next batch while the database stores the last (on two cores the two
# otherwise take turns); batches in flight never share a mention or a customer (see _take).
WRITERS = {"sqlite": 1, "postgresql": 2}
# A second transaction starts only for this many waiting mentions: a few single mentions are
# cheaper stored together in the next one (measured: 0.45 against 0.50 ms of CPU a request).
SECOND_WRITER_AT = 64


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    duplicates: int
    case_ids: list[int]
    new_cases: int = 0

    @classmethod
    def of(cls, stored: Sequence[Stored]) -> IngestResult:
        if len(stored) == 1:  # the webhook's usual request
            case_id, duplicate, new_case = stored[0]
            return cls(int(not duplicate), int(duplicate), [case_id], int(new_case))
        return cls(
            accepted=sum(not s.duplicate for s in stored),
            duplicates=sum(s.duplicate for s in stored),
            case_ids=list(dict.fromkeys(s.case_id for s in stored)),
            new_cases=sum(s.new_case for s in stored),
        )


class _Request:
    __slots__ = ("deadline", "done", "items")

    def __init__(
        self, items: list[Incoming], done: asyncio.Future[list[Stored]], deadline: float
    ) -> None:
        self.items, self.done, self.deadline = items, done, deadline


class Ingestor:
    """Routes mentions and stores them; `on_stored` is told when new work is committed."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        config: WebcareConfig,
        clock: Clock,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.router = Router(config)
        self.on_stored = on_stored
        self._sla: dict[tuple[str, int], Deadlines] = {}
        # Per department: key, channel, and its SLA deadlines (and warning) by start.
        self._targets = {
            d.key: (d.key, d.channel, self._deadlines(d.key, d.sla_minutes))
            for d in config.departments
        }
        self._batches = BatchStore(
            engine=engine, clock=clock, reopen_window=timedelta(days=config.reopen_window_days)
        )
        self._queue: list[_Request] = []
        self._writers: set[asyncio.Task[None]] = set()
        self._max_writers = WRITERS.get(engine.dialect.name, 1)
        # With more than one writer: the mentions and customers of the batches in flight.
        self._in_flight: set[tuple[str, str, str]] = set()
        self._writing: set[_Request] = set()  # the requests in a transaction now
        self._watchdog: asyncio.TimerHandle | None = None
        # The requests the last transaction stored, and the lingering writer's wake-up.
        self._last_batch = 0
        self._filled: asyncio.Future[None] | None = None

    def _deadlines(self, department: str, minutes: int) -> Deadlines:
        """A department's deadlines for a response target: the department's own, or a rule's
        (`sla_minutes`), on the department's calendar; one each, they remember the calendar."""
        key = (department, minutes)
        if key not in self._sla:
            config = self.config
            hours = config.hours_for(config.department(department))
            self._sla[key] = Deadlines(
                BusinessCalendar(hours), minutes, minutes * config.sla_warning_at
            )
        return self._sla[key]

    def plan(self, mention: MentionIn) -> Incoming:
        """Route one mention and work out its SLA deadline (no I/O).

        A proactive mention (about us, not addressed to us: a news hit, a hashtag or search
        hit) gets no deadline unless its rule sets `sla_minutes`; it carries the deadlines it
        would get, for when its case becomes addressed later.
        """
        mention = self.router.with_language(mention)
        decision = self.router.route(mention)
        target = self._targets.get(decision.department)
        if target is None:  # a department removed from the config: the default one takes it
            target = self._targets[self.config.department(decision.department).key]
        key, channel, deadlines = target
        if decision.sla_minutes is not None:
            deadlines = self._deadlines(key, decision.sla_minutes)
        start = clock_start(mention.created_at, self.clock.now())
        due = warn = None
        if mention.addressed or decision.sla_minutes is not None:
            due, warn = deadlines(start)
        return Incoming(
            mention=mention,
            department=key,
            channel=channel,
            priority=decision.priority,
            tags=decision.tags,
            rule=decision.rule,
            sla_due_at=due,
            sla_warn_at=warn,
            start=start,
            deadlines=deadlines,
        )

    async def ingest(
        self, mentions: Sequence[MentionIn], *, give_up_after: float | None = None
    ) -> IngestResult:
        """Store the mentions (committed when this returns) and report what happened.

        After `give_up_after` seconds without a commit, TimeoutError (the mentions may still
        be stored: a sender's retry is then answered as duplicates).
        """
        loop = asyncio.get_running_loop()
        deadline = math.inf if give_up_after is None else loop.time() + give_up_after
        request = _Request([self.plan(m) for m in mentions], loop.create_future(), deadline)
        self._queue.append(request)
        if self._filled is not None and len(self._queue) >= self._last_batch:
            _wake(self._filled)
        if not self._writers or (
            len(self._writers) < self._max_writers
            and sum(len(r.items) for r in self._queue) >= SECOND_WRITER_AT
        ):
            self._writers.add(asyncio.create_task(self._write_queued()))
        if give_up_after is not None and self._watchdog is None:
            self._watchdog = loop.call_at(deadline, self._expire)
        # A client hanging up cancels only its own future: the writer task, and the transaction
        # shared with others, carry on (and store its mentions all the same).
        stored = await request.done
        return IngestResult.of(stored)

    def _expire(self) -> None:
        """Fail the requests waiting past their deadline; look again at the next one's.

        One timer for all waiting requests instead of one each (asyncio.timeout around every
        webhook request showed in its CPU profile).
        """
        loop = asyncio.get_running_loop()
        now, next_deadline = loop.time(), math.inf
        for request in (*self._writing, *self._queue):
            if request.done.done():
                continue
            if request.deadline <= now:
                request.done.set_exception(TimeoutError("storing took too long"))
            else:
                next_deadline = min(next_deadline, request.deadline)
        self._watchdog = None
        if next_deadline != math.inf:
            self._watchdog = loop.call_at(next_deadline, self._expire)

    async def _write_queued(self) -> None:
        try:
            await self._write_all_queued()
        finally:  # at once, not in a done callback: a request queued next must find it gone
            self._writers.discard(asyncio.current_task())  # type: ignore[arg-type]

    async def _write_all_queued(self) -> None:
        while self._queue:
            # Let requests that have already arrived join this transaction: every one costs
            # SQLite a commit, and a commit costs as much as storing a dozen mentions.
            for _ in range(GATHER_ROUNDS):
                queued = len(self._queue)
                await asyncio.sleep(0)
                if len(self._queue) == queued:
                    break
            if self._last_batch > max(1, len(self._queue)) and self._filled is None:
                await self._linger()
            if self._max_writers == 1:
                batch, size = [], 0
                while self._queue and (not batch or size + len(self._queue[0].items) <= MAX_BATCH):
                    request = self._queue.pop(0)
                    batch.append(request)
                    size += len(request.items)
                keys: set[tuple[str, str, str]] = set()
            else:
                batch, keys = self._take()
                if not batch:
                    return  # all that is queued waits for a batch in flight; its writer takes it
            self._writing.update(batch)
            try:
                await self._write(batch)
            finally:
                self._writing.difference_update(batch)
                self._in_flight -= keys

    async def _linger(self) -> None:
        """Wait up to LINGER_S for as many requests as the last transaction stored."""
        loop = asyncio.get_running_loop()
        self._filled = filled = loop.create_future()
        timer = loop.call_later(LINGER_S, _wake, filled)
        try:
            await filled
        finally:
            timer.cancel()
            self._filled = None

    def _take(self) -> tuple[list[_Request], set[tuple[str, str, str]]]:
        """Queued requests, in order, that share no mention and no customer with a batch in
        flight, nor with a request left waiting before them: those wait (two transactions
        never race for one case or mention, and a customer's mentions keep their order)."""
        batch: list[_Request] = []
        taken: set[tuple[str, str, str]] = set()
        blocked = set(self._in_flight)
        size, left = 0, []
        for at, request in enumerate(self._queue):
            if batch and size + len(request.items) > MAX_BATCH:
                left += self._queue[at:]
                break
            keys = set()
            for item in request.items:
                mention = item.mention
                keys.add(("m", mention.source, mention.external_id))
                keys.add(("a", mention.source, mention.author.handle))
            if blocked.isdisjoint(keys):  # (a customer's requests may share this batch)
                batch.append(request)
                taken |= keys
                size += len(request.items)
            else:
                left.append(request)
                blocked |= keys
        self._queue = left
        self._in_flight |= taken
        return batch, taken

    async def _write(self, batch: list[_Request]) -> None:
        items = [item for request in batch for item in request.items]
        self._last_batch = len(batch)
        try:
            stored = await self._store(items)
        except Exception as exc:
            await self._failed(batch, exc)
            return
        self._committed(batch, stored)

    async def _failed(self, batch: list[_Request], exc: Exception) -> None:
        """Answer what was committed before `exc` (a batch's new customers go first, in a
        transaction of their own); fail or retry the rest."""
        done, error = (exc.stored, exc.error) if isinstance(exc, PartlyStored) else ({}, exc)
        answered, failed, offset = [], [], 0
        for request in batch:
            span = range(offset, offset + len(request.items))
            offset += len(request.items)
            if done and all(at in done for at in span):
                answered.append((request, [done[at] for at in span]))
            else:
                failed.append(request)
        if answered:
            self._committed(
                [request for request, _ in answered],
                [result for _, results in answered for result in results],
            )
        if len(failed) == 1 or is_unavailable(error):  # an outage fails them all alike
            for request in failed:
                if not request.done.done():  # its client may have hung up
                    request.done.set_exception(error)
            return
        # Keep one bad request from failing the others that shared its transaction.
        for request in failed:
            await self._write([request])

    def _committed(self, batch: list[_Request], stored: list[Stored]) -> None:
        """Answer the requests of a committed batch (`stored`: one per item, in order)."""
        items = [item for request in batch for item in request.items]
        metrics.INGEST_BATCH.observe(len(items))
        self._batches.committed(len(items))
        offset = 0
        for request in batch:
            if not request.done.done():
                request.done.set_result(stored[offset : offset + len(request.items)])
            offset += len(request.items)
        received: Counter[str] = Counter()
        for item, result in zip(items, stored, strict=True):
            if not result.duplicate:
                received[item.mention.source] += 1
        if len(items) > received.total():
            metrics.MENTIONS_DUPLICATE.inc(len(items) - received.total())
        for source, count in received.items():
            metrics.MENTIONS_RECEIVED.labels(source=source).inc(count)
        if self.on_stored and received:
            self.on_stored()

    async def _store(self, items: list[Incoming]) -> list[Stored]:
        return await self._batches.store(items)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
