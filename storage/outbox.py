"""The delivery outbox: jobs taken one at a time per channel, finished with guarded updates.

Synchronous: each call runs inside a unit of work (storage.db.unit_of_work).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Row, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from storage import digests
from storage.enqueue import card_update_key, enqueue_once
from storage.outbox_indexes import JUMPER, THREAD_LINE, by_index
from storage.outbox_job import Job, job_of
from storage.statuses import CRISIS_RANK, THREAD_KINDS, JobKind, JobStatus
from storage.tables import ALERTS, CASES, CRISES, DRAFTS, LEASES, MENTIONS, OUTBOX


def due_channels(conn: Connection, *, now: datetime) -> list[str]:
    """Channels that have a job waiting to be sent now.

    A few index probes per channel (a loose index scan over ix_outbox_channel_queue), not a read
    of every waiting job: the worker looks several times a second, and in a storm the backlog
    is tens of thousands of jobs, which made every look (and every mention waiting on the
    SQLite writer meanwhile) slower the longer the storm lasted.
    """
    waiting = (JobStatus.PENDING, JobStatus.SENDING)
    channels: set[str] = set()
    for status in waiting:
        after: str | None = None
        while True:
            first = select(func.min(OUTBOX.c.channel)).where(OUTBOX.c.status == status)
            if after is not None:
                first = first.where(OUTBOX.c.channel > after)
            after = conn.scalar(first)
            if after is None:
                break
            channels.add(after)
    due = []
    for channel in sorted(channels):
        has_due = conn.scalar(
            select(OUTBOX.c.id)
            .where(
                OUTBOX.c.status.in_(waiting),
                OUTBOX.c.channel == channel,
                OUTBOX.c.not_before <= now,
            )
            .limit(1)
        )
        if has_due is not None:
            due.append(channel)
    return due


def acquire_channel(
    conn: Connection, *, channel: str, holder: str, now: datetime, until: datetime
) -> bool:
    """Take (or renew) the right to post to `channel`; False while another worker holds it."""
    taken = conn.execute(
        update(LEASES)
        .where(
            LEASES.c.channel == channel,
            or_(LEASES.c.holder == holder, LEASES.c.lease_until < now),
        )
        .values(holder=holder, lease_until=until)
    )
    if taken.rowcount:
        return True
    try:
        with conn.begin_nested():
            conn.execute(insert(LEASES).values(channel=channel, holder=holder, lease_until=until))
    except IntegrityError:
        return False  # another worker holds a live lease
    return True


def renew_channels(
    conn: Connection, *, channels: list[str], holder: str, until: datetime
) -> set[str]:
    """Extend `holder`'s leases on `channels`; the channels it still holds."""
    conn.execute(
        update(LEASES)
        .where(LEASES.c.channel.in_(channels), LEASES.c.holder == holder)
        .values(lease_until=until)
    )
    rows = conn.execute(
        select(LEASES.c.channel).where(LEASES.c.channel.in_(channels), LEASES.c.holder == holder)
    )
    return {row.channel for row in rows}


def release_channel(conn: Connection, *, channel: str, holder: str) -> None:
    conn.execute(delete(LEASES).where(LEASES.c.channel == channel, LEASES.c.holder == holder))


# Messages about cases already in Slack: while a channel is behind they take turns with new
# cards (OutboxWorker alternates), so neither kind starves the other.
Turn = Literal["card", "thread"]


def head_job(
    conn: Connection, *, channel: str, now: datetime | None = None, turn: Turn | None = None
) -> Job | None:
    """The next job of a channel: the oldest unfinished one, with exceptions.

    When the oldest is a new card of an ordinary case, the first message of a crisis thread
    (crisis mode takes effect at once), then an urgent (then high) case's new card waiting
    behind it goes first: when a channel is behind, a fraud DM does not wait for the queue.
    `turn` lets new cards and messages about carded cases (thread lines, card refreshes) take
    turns: on the cards' turn a waiting new card goes before a thread line of another case,
    on the threads' turn a thread line of a case whose card is in Slack goes before new cards.
    Nothing else jumps: a case's thread never comes before its card, and a retried job keeps
    its place (Slack's Retry-After is the channel's).
    """
    waiting: tuple[Any, ...] = (
        OUTBOX.c.channel == channel,
        OUTBOX.c.status.in_((JobStatus.PENDING, JobStatus.SENDING)),
    )
    if now is not None:  # a digest refresh held back (to batch the next rows) holds up nothing
        waiting += (or_(OUTBOX.c.kind != JobKind.UPDATE_DIGEST, OUTBOX.c.not_before <= now),)
    if now is not None:
        # A job another worker may still be posting (take_next holds it until its Slack call
        # must have ended) holds up only its own case, not the channel.
        held = conn.execute(
            select(OUTBOX.c.case_id).where(
                OUTBOX.c.channel == channel,
                OUTBOX.c.status == JobStatus.SENDING,
                OUTBOX.c.not_before > now,
            )
        ).all()
        if held:
            waiting += (
                or_(OUTBOX.c.status != JobStatus.SENDING, OUTBOX.c.not_before <= now),
                or_(
                    OUTBOX.c.case_id.is_(None),
                    OUTBOX.c.case_id.not_in([r.case_id for r in held if r.case_id is not None]),
                ),
            )
    row = conn.execute(select(OUTBOX).where(*waiting).order_by(OUTBOX.c.id).limit(1)).first()
    if row is None:
        return None
    head = job_of(row)
    if head.status != JobStatus.PENDING or head.attempts:
        return head
    # Each look below reads a partial index of the few jobs it is after, not the channel's
    # backlog (in a storm tens of thousands of new cards, looked through every post).
    if head.kind is JobKind.POST_CARD and turn == "thread":
        line = conn.execute(
            by_index(select(OUTBOX), "ix_outbox_thread_lines")
            .join(CASES, CASES.c.id == OUTBOX.c.case_id)
            .where(*waiting, THREAD_LINE, OUTBOX.c.attempts == 0, CASES.c.slack_ts.is_not(None))
            .order_by(OUTBOX.c.id)
            .limit(1)
        ).first()
        if line is not None:
            return job_of(line)
    # What may jump the queue, by rank: a crisis thread's first message, an urgent case's new
    # card, a high one's (storage.statuses.CARD_RANKS); on the cards' turn any new card, oldest
    # first, after those.
    if head.kind is JobKind.POST_CARD:
        jumping: tuple[Any, ...] = ()
    elif turn == "card" and head.kind in THREAD_KINDS:
        jumping = (or_(OUTBOX.c.rank == CRISIS_RANK, OUTBOX.c.attempts == 0),)
    else:
        return head
    jumper = conn.execute(
        by_index(select(OUTBOX), "ix_outbox_jumpers")
        .where(*waiting, JUMPER, *jumping)
        .order_by(OUTBOX.c.rank, OUTBOX.c.id)
        .limit(1)
    ).first()
    if jumper is None and jumping:
        jumper = conn.execute(
            select(OUTBOX)
            .where(
                *waiting,
                OUTBOX.c.status == JobStatus.PENDING,
                OUTBOX.c.kind == JobKind.POST_CARD,
                OUTBOX.c.attempts == 0,
            )
            .order_by(OUTBOX.c.id)
            .limit(1)
        ).first()
    return job_of(jumper) if jumper is not None else head


class LeaseLost(Exception):
    """Another worker took over the channel (ours lapsed)."""


def take_next(
    conn: Connection,
    *,
    channel: str,
    holder: str,
    now: datetime,
    until: datetime,
    turn: Turn | None = None,
    in_flight: timedelta = timedelta(0),
) -> Job | None:
    """Renew our lease on `channel` and return its head job, marked in flight when it is due.
    A job another worker has had in flight for less than `in_flight` (longer than one Slack
    call can take) is returned as not yet due.

    The returned job shows its state from before this call, but for its payload, which is as
    it was marked in flight (cases a sweep added to a waiting escalation meanwhile are in it);
    a job not yet due is returned untouched so the caller can wait for it.
    """
    if not acquire_channel(conn, channel=channel, holder=holder, now=now, until=until):
        raise LeaseLost(channel)
    job = head_job(conn, channel=channel, now=now, turn=turn)
    while (
        job is not None
        and job.status == JobStatus.SENDING
        and job.sending_since is not None
        and job.sending_since + in_flight > now
    ):
        # Another worker's call may still be on its way to Slack (its lease lapsed mid-call:
        # a SIGKILL, a stalled database). The job is held until that call must have ended, and
        # then taken over (Slack is searched for its message before posting again); meanwhile
        # the channel's other cases go on (head_job passes over a held job's case).
        conn.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == job.id, OUTBOX.c.status == JobStatus.SENDING)
            .values(not_before=job.sending_since + in_flight)
        )
        job = head_job(conn, channel=channel, now=now, turn=turn)
    if job is not None and job.not_before <= now:
        job = start_sending(conn, job=job, now=now)
    return job


def start_sending(conn: Connection, *, job: Job, now: datetime) -> Job:
    """Mark the job in flight (one left in flight by a crash is taken over); the job with its
    payload as marked."""
    if job.status == JobStatus.SENDING:
        mark_retry(conn, job_id=job.id, not_before=now, error="interrupted")
    marked = mark_sending(conn, job_id=job.id, now=now)
    # On PostgreSQL a sweep may have added cases to a waiting escalation between our read of
    # the job and this update (storage.enqueue.enqueue_escalation): send what was marked.
    return replace(job, payload=marked.payload) if marked is not None else job


def mark_sending(conn: Connection, *, job_id: int, now: datetime) -> Row[Any] | None:
    """Mark a pending job in flight: its row as marked (its payload), None if not pending."""
    return conn.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == job_id, OUTBOX.c.status == JobStatus.PENDING)
        # A job in flight gives up its dedupe key: a new refresh may queue meanwhile, and this
        # one may go back to pending on a retry without colliding with it.
        .values(
            status=JobStatus.SENDING,
            sending_since=now,
            attempts=OUTBOX.c.attempts + 1,
            dedupe_key=None,
        )
        .returning(OUTBOX.c.payload)
    ).first()


def mark_sent(conn: Connection, *, job: Job, now: datetime, channel_id: str, ts: str) -> None:
    """Finish a job and remember where Slack put the message."""
    conn.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == job.id, OUTBOX.c.status == JobStatus.SENDING)
        .values(status=JobStatus.SENT, sent_at=now, slack_ts=ts, last_error=None)
    )
    if job.kind is JobKind.POST_CARD:
        carded = conn.execute(
            update(CASES)
            .where(CASES.c.id == job.case_id)
            .values(slack_channel=channel_id, slack_ts=ts)
            .returning(CASES.c.digest_channel, CASES.c.digest_ts)
        ).first()
        if carded is not None and carded.digest_ts:  # its digest row now points at the card
            digests.queue_refresh(conn, channel=carded.digest_channel, ts=carded.digest_ts, now=now)
    elif job.kind is JobKind.POST_DIGEST:
        digests.mark_posted(conn, job=job, channel_id=channel_id, ts=ts)
    elif job.kind is JobKind.POST_ALERT:
        conn.execute(
            update(ALERTS)
            .where(ALERTS.c.id == (job.payload or {})["alert_id"])
            .values(slack_channel=channel_id, slack_ts=ts)
        )
    elif job.kind is JobKind.POST_CRISIS:
        conn.execute(
            update(CRISES)
            .where(CRISES.c.department == (job.payload or {})["department"])
            .values(slack_channel=channel_id, slack_ts=ts)
        )
    elif job.kind is JobKind.POST_DRAFT:
        conn.execute(
            update(DRAFTS)
            .where(DRAFTS.c.id == (job.payload or {})["draft_id"], DRAFTS.c.slack_ts.is_(None))
            .values(slack_ts=ts)
        )
    elif job.kind is JobKind.POST_MENTION:
        conn.execute(update(MENTIONS).where(MENTIONS.c.id == job.mention_id).values(slack_ts=ts))


def mark_retry(conn: Connection, *, job_id: int, not_before: datetime, error: str) -> None:
    conn.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == job_id)
        .values(status=JobStatus.PENDING, not_before=not_before, last_error=error[:500])
    )


def mark_skipped(conn: Connection, *, job_id: int, reason: str) -> None:
    """Finish a job that has nothing left to say (counted as sent, with the reason)."""
    conn.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == job_id)
        .values(status=JobStatus.SENT, last_error=f"skipped: {reason}"[:500])
    )


def mark_dead(conn: Connection, *, job_id: int, error: str) -> None:
    conn.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == job_id)
        .values(status=JobStatus.DEAD, last_error=error[:500])
    )


def next_due_at(conn: Connection) -> datetime | None:
    """When the earliest waiting job becomes due (None: nothing waits)."""
    return conn.scalar(
        select(func.min(OUTBOX.c.not_before)).where(OUTBOX.c.status == JobStatus.PENDING)
    )


def enqueue_card_update(conn: Connection, *, case_id: int, channel: str, now: datetime) -> None:
    """Queue a refresh of the case's card unless one is already waiting."""
    enqueue_once(
        conn,
        kind=JobKind.UPDATE_CARD,
        channel=channel,
        dedupe_key=card_update_key(case_id),
        now=now,
        case_id=case_id,
    )


# Built once: it runs inside every click's transaction, and building a statement with its
# values inlined costs more Python time than the database takes to run it.
_ENQUEUE = insert(OUTBOX)


def enqueue(
    conn: Connection,
    *,
    kind: JobKind,
    channel: str,
    now: datetime,
    case_id: int | None = None,
    payload: Mapping[str, Any] | None = None,
) -> None:
    """Queue one message for Slack (sent in order with the rest of its channel)."""
    conn.execute(
        _ENQUEUE,
        {
            "kind": kind,
            "case_id": case_id,
            "channel": channel,
            "status": JobStatus.PENDING,
            "attempts": 0,
            "not_before": now,
            "created_at": now,
            "payload": dict(payload) if payload else None,
            "rank": CRISIS_RANK if kind is JobKind.POST_CRISIS else None,
        },
    )
