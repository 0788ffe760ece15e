"""The outbox worker: posts cards and thread replies to Slack, paced per channel, never twice.

One asyncio task drains one channel at a time (in order, ~1 post/s, as Slack allows); channels
drain side by side, so a channel paused by a 429 does not hold up the others. A row lease on the
channel keeps replicas from posting to the same channel at once; it is short and renewed by a
heartbeat while this process lives, so a replica that dies (SIGKILL, a lost host) hands its
channels to the others within seconds, however long a live one's Slack call takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.crisis import about_topic
from bot.core import metrics
from bot.core.clock import Clock
from bot.core.config import WebcareConfig
from bot.core.i18n import Lang
from bot.core.outage import OUTAGE, is_unavailable
from bot.core.user_languages import PeopleLanguages
from bot.delivery.card_index import CardIndex
from bot.delivery.messages import Obsolete, Undeliverable, compose
from bot.delivery.slack_budget import Deferred, SlackBudget
from bot.delivery.slack_calls import (
    METADATA_EVENT,
    Dead,
    Retry,
    backoff,
    find_posted,
    is_direct_message,
    slack_call,
)
from bot.render.digests import DIGEST_ROWS
from storage import digests, outbox, outbox_report, slack_budget
from storage.db import unit_of_work
from storage.outbox_job import Job
from storage.statuses import JobKind, JobStatus

log = logging.getLogger(__name__)
T = TypeVar("T")

LEASE = timedelta(seconds=6)
# A job another worker had in flight is taken over only after this: longer than one Slack call
# may take (bot.app.runtime.SLACK_TIMEOUT, 10 s), with room for the renewal that failed.
IN_FLIGHT = timedelta(seconds=15)
HEARTBEAT = 2.0  # seconds between lease renewals while this worker drains channels
STOP_GRACE = 12.0  # seconds a stopping worker lets posts in flight finish (Slack's timeout is 10)
MIN_LOOK_GAP = 0.25  # seconds between two looks for due work, however often woken
MAX_ATTEMPTS_ON_ERROR = 5  # unexpected errors (not Slack's): then the job is parked as dead


# Jobs that edit a message already in Slack (chat.update): not paced like posts.
_EDITS = (JobKind.UPDATE_CARD, JobKind.UPDATE_DIGEST, JobKind.UPDATE_ALERT, JobKind.MARK_MOVED)


class OutboxWorker:
    """Sends outbox jobs to Slack until told to stop; `run_until_idle` drains once (tests, CLI)."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        client: AsyncWebClient,
        config: WebcareConfig,
        clock: Clock,
        lang: Lang,
        interval: float = 1.0,
        retry_base: float = 1.0,
        budget: SlackBudget | None = None,
        digest_after: float = 0.0,
    ) -> None:
        self.engine = engine
        self.client = client
        self.config = config
        self.clock = clock
        self.lang = lang
        # Each person's language for their DMs (WEBCARE_USER_LANGUAGE); None: the team's.
        self.languages: PeopleLanguages | None = None
        self.interval = interval
        self.retry_base = retry_base
        self.budget = budget  # Slack's per-workspace limits, shared with the other replicas
        # A storm: when more messages wait for a channel than it can take in `digest_after`
        # seconds, its waiting new cases go out together (storage.digests). None: never.
        self.digest_over = (
            math.ceil(digest_after / interval) if digest_after > 0 and interval > 0 else None
        )
        # Slack allows chat.update ~50 times a minute: a running crisis digest is refreshed at
        # most every 1.5 posting intervals (1.5 s as deployed).
        self.digest_update_gap = timedelta(seconds=1.5 * interval)
        self.unit = unit_of_work(engine)
        self.idle_limit = 300.0
        self.holder = f"worker-{uuid.uuid4().hex[:12]}"
        self.cards = CardIndex()  # each case's card as Slack accepted it (for the click path)
        self._wake = asyncio.Event()
        self._drains: dict[str, asyncio.Task[None]] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_post: dict[str, float] = {}

    async def _db(self, work: Callable[..., T], /, **kwargs: Any) -> T:
        """Run one outbox statement group as its own transaction."""
        return await self.unit.run(partial(work, **kwargs))

    def wake(self) -> None:
        """New work was stored: look now instead of at the next poll."""
        self._wake.set()

    async def run_forever(self, poll: float = 1.0) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self._stopping:
                try:
                    await self._start_drains()
                    OUTAGE.ok()
                except Exception as exc:  # database down: keep polling, nothing is lost
                    if is_unavailable(exc):
                        OUTAGE.failed(exc, doing="polling the outbox")
                    else:
                        log.exception("outbox poll failed; trying again in %.0fs", poll)
                looked_at = loop.time()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll)
                # Woken by new work: a burst of stored mentions shares one look. Each look is a
                # query over the waiting jobs (on SQLite it also takes the writer thread, and
                # with it the webhook's fast path); one per mention would make every mention
                # cost more the longer the backlog grows.
                if (gap := looked_at + MIN_LOOK_GAP - loop.time()) > 0:
                    await asyncio.sleep(gap)
        finally:
            await self._cancel_drains()

    async def run_until_idle(self) -> None:
        """Send everything that is due or becomes due, then return (tests, `webcare import`)."""
        async with asyncio.timeout(self.idle_limit):
            while True:
                await self._start_drains()
                if self._drains:
                    await asyncio.gather(*self._drains.values(), return_exceptions=True)
                    continue
                if not await self._db(outbox_report.pending_count):
                    return
                due = await self._db(outbox.next_due_at)
                wait = (due - self.clock.now()).total_seconds() if due else 0.05
                await asyncio.sleep(min(max(wait, 0.01), 1.0))

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Take no new jobs; let posts in flight finish (up to `grace` seconds; those still
        waiting for Slack then are cut off and looked for in Slack by whoever sends them next),
        and release the channels at once for the other replicas."""
        self._stopping = True
        self._wake.set()
        if self._drains:
            await asyncio.wait(list(self._drains.values()), timeout=grace)
        await self._cancel_drains()

    async def _start_drains(self) -> None:
        if self._stopping:
            return
        now = self.clock.now()
        channels = await self._db(outbox.due_channels, now=now)
        for channel in channels:
            if channel in self._drains or self._stopping:
                continue
            mine = await self._db(
                outbox.acquire_channel,
                channel=channel,
                holder=self.holder,
                now=now,
                until=now + LEASE,
            )
            if mine:
                task = asyncio.create_task(self._drain(channel), name=f"drain {channel}")
                self._drains[channel] = task
                task.add_done_callback(lambda _t, c=channel: self._drains.pop(c, None))
        if self._drains and (self._heartbeat is None or self._heartbeat.done()):
            self._heartbeat = asyncio.create_task(self._keep_leases(), name="outbox leases")

    async def _keep_leases(self) -> None:
        """Renew the leases of the channels this worker drains, every HEARTBEAT seconds.

        When renewing fails for longer than the lease lasts (this process lost the database),
        or another worker holds a channel now, its drain is cut off: another replica may take
        the channel over, and two posting to one channel could post a card twice.
        """
        loop = asyncio.get_running_loop()
        held_until = loop.time() + LEASE.total_seconds()
        while self._drains:
            await asyncio.sleep(HEARTBEAT)
            channels = list(self._drains)
            asked_at, now = loop.time(), self.clock.now()
            try:
                kept = await self._db(
                    outbox.renew_channels, channels=channels, holder=self.holder, until=now + LEASE
                )
            except Exception as exc:
                log.debug("renewing channel leases failed: %r", exc)
                if loop.time() + HEARTBEAT >= held_until:
                    for task in list(self._drains.values()):
                        task.cancel()
                continue
            held_until = asked_at + LEASE.total_seconds()
            for channel in set(channels) - kept:
                if (task := self._drains.get(channel)) is not None and not task.done():
                    log.warning("lost the lease on %s to another worker: stopping there", channel)
                    task.cancel()

    async def _cancel_drains(self) -> None:
        tasks = list(self._drains.values())
        if self._heartbeat is not None:
            tasks.append(self._heartbeat)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drain(self, channel: str) -> None:
        turn: outbox.Turn | None = None  # new cards and thread lines take turns (head_job)
        try:
            while not self._stopping:
                now = self.clock.now()
                # One transaction: renew the lease, look at the head job, start it if due.
                job = await self._db(
                    outbox.take_next,
                    channel=channel,
                    holder=self.holder,
                    now=now,
                    until=now + LEASE,
                    turn=turn,
                    in_flight=IN_FLIGHT,
                )
                if job is None:
                    return
                wait = (job.not_before - now).total_seconds()
                if wait > 0:
                    if wait > LEASE.total_seconds() / 2:
                        return  # come back when it is due; let the lease lapse meanwhile
                    await asyncio.sleep(wait)
                    continue
                if _fresh_card(job):  # with its follow-ups, in a storm or crisis digest
                    job = await self._db(
                        digests.take_card,
                        job=job,
                        over=self.digest_over,
                        rows=DIGEST_ROWS,
                        on_topic=about_topic,
                        now=now,
                        update_gap=self.digest_update_gap,
                    )
                    if job is None:  # it joined a running digest: the refresh shows it
                        continue
                elif job.kind is JobKind.UPDATE_CARD and not job.attempts:
                    job = await self._db(
                        digests.take_refresh, job=job, now=now, update_gap=self.digest_update_gap
                    )
                    if job is None:  # a digest row, not a card yet: the digest is refreshed
                        continue
                await self._send(job)
                if job.kind not in _EDITS:  # an edit takes no turn: it costs no post
                    turn = (
                        "thread" if job.kind in (JobKind.POST_CARD, JobKind.POST_DIGEST) else "card"
                    )
        except Exception:
            log.exception("delivery to %s stopped; it resumes at the next poll", channel)
        finally:
            with contextlib.suppress(Exception):
                await self._db(outbox.release_channel, channel=channel, holder=self.holder)

    async def _pace(self, channel: str) -> None:
        last = self._last_post.get(channel)
        if last is not None:
            delay = last + self.interval - asyncio.get_running_loop().time()
            if delay > 0:
                await asyncio.sleep(delay)

    def _posted(self, channel: str, sent_at: float) -> None:
        # Counted from when the request left, not from Slack's answer: counting from the answer
        # adds a round trip to every gap (a tenth of the channel's pace, far from Slack). Jitter
        # can bring one post a few ms early, well within the short bursts Slack allows.
        self._last_post[channel] = sent_at

    async def _send(self, job: Job) -> None:
        """Deliver a job that `take_next` marked in flight (`job` is as it was before that)."""
        # A job left "sending" was interrupted (a crash), and a timeout or 5xx leaves it open
        # whether Slack took the message: look before posting again.
        # Any earlier attempt may have reached Slack (a timeout, then a 429 on the history
        # check, must not lead to a second card): a retried card always looks first.
        ambiguous = job.status == "sending" or job.attempts > 0
        try:
            channel_id, ts = await self._deliver(job, ambiguous=ambiguous)
        except Retry as retry:
            delay = retry.delay
            metrics.DELIVERY_RETRIES.labels(reason=retry.reason.split(":")[0]).inc()
            log.warning("job %s to %s: retry in %.1fs (%s)", job.id, job.channel, delay, retry)
            await self._db(
                outbox.mark_retry,
                job_id=job.id,
                not_before=self.clock.now() + timedelta(seconds=delay),
                error=retry.reason,
            )
            return
        except Obsolete as obsolete:
            await self._db(outbox.mark_skipped, job_id=job.id, reason=str(obsolete))
            return
        except Deferred as deferred:  # a refresh gives way to new cards
            later = self.clock.now() + timedelta(seconds=deferred.delay)
            await self._db(slack_budget.defer_card_update, job=job, not_before=later)
            return
        except Dead as dead:
            metrics.DELIVERY_DEAD.inc()
            log.error("job %s to %s cannot be delivered: %s", job.id, job.channel, dead)
            await self._db(outbox.mark_dead, job_id=job.id, error=str(dead))
            return
        except Exception as exc:  # a bug or bad data: never retry it in a hot loop forever
            log.exception("job %s to %s failed unexpectedly", job.id, job.channel)
            if job.attempts + 1 >= MAX_ATTEMPTS_ON_ERROR:
                metrics.DELIVERY_DEAD.inc()
                await self._db(outbox.mark_dead, job_id=job.id, error=f"error: {exc!r}")
            else:
                await self._db(
                    outbox.mark_retry,
                    job_id=job.id,
                    not_before=self.clock.now() + timedelta(seconds=self._backoff(job.attempts)),
                    error=f"error: {exc!r}",
                )
            return
        await self._db(
            outbox.mark_sent, job=job, now=self.clock.now(), channel_id=channel_id, ts=ts
        )
        if job.kind is JobKind.POST_CARD and job.case_id is not None:
            self.cards.remember(job.case_id, (channel_id, ts))
        metrics.DELIVERED.labels(kind=job.kind.value).inc()

    async def _deliver(self, job: Job, *, ambiguous: bool) -> tuple[str, str]:
        try:
            lang = self.lang
            if self.languages is not None and job.kind is JobKind.POST_DM:
                lang = self.languages.lang_for(job.channel)  # a DM: channel is the person
            message = await compose(self.engine, job, config=self.config, lang=lang)
        except Undeliverable as exc:
            raise Dead(str(exc)) from None
        if message.ts:  # a change to a message already in Slack
            await self._call(
                job,
                "chat_update",
                channel=message.channel,
                ts=message.ts,
                text=message.text,
                blocks=message.blocks,
            )
            return message.channel, message.ts or ""
        # A post whose earlier try may have reached Slack (a timeout, a crash mid-call) is
        # looked for first. Not in DMs: that needs im:history, and a repeated DM is harmless.
        if ambiguous and not is_direct_message(message.channel):
            found = await self._find_posted(job, thread_ts=message.thread_ts)
            if found:
                log.info("job %s was already in Slack (ts %s): not posting again", job.id, found)
                return found
        await self._pace(job.channel)
        sent_at = asyncio.get_running_loop().time()
        response = await self._call(
            job,
            "chat_postMessage",
            channel=message.channel,
            text=message.text,
            blocks=message.blocks,
            metadata={"event_type": METADATA_EVENT, "event_payload": {"job_id": job.id}},
            unfurl_links=False,
            unfurl_media=False,
            **({"thread_ts": message.thread_ts} if message.thread_ts else {}),
        )
        self._posted(job.channel, sent_at)
        return response["channel"], response["ts"]

    async def _find_posted(self, job: Job, *, thread_ts: str | None) -> tuple[str, str] | None:
        return await find_posted(self._call, job, thread_ts=thread_ts, now=self.clock.now())

    async def _call(self, job: Job, method: str, **kwargs: object) -> dict:
        return await slack_call(
            self.client, self.budget, job, method, retry_base=self.retry_base, **kwargs
        )

    def _backoff(self, attempts: int) -> float:
        return backoff(attempts, base=self.retry_base)


def _fresh_card(job: Job) -> bool:
    """A new card job taken for its first try (a retried one may be in Slack already)."""
    return job.kind is JobKind.POST_CARD and job.status == JobStatus.PENDING and not job.attempts
