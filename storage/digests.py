"""Storm digests in the outbox: new cases posted several to a message when a channel is behind.

A digest is an outbox job like any other (one in flight per channel, looked for in Slack before
a retry posts it again): the head card job becomes the digest and takes the other waiting card
jobs of its channel with it, in the same transaction, so no case is shown twice or dropped.
Synchronous: each call runs inside a unit of work (storage.db.unit_of_work).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, case, func, select, update
from sqlalchemy.engine import Connection

from storage.case_row import CaseRow
from storage.enqueue import card_post_key, digest_update_key, enqueue_once
from storage.outbox_indexes import JUMPER, by_index, unindexed
from storage.outbox_job import Job
from storage.statuses import CARD_RANKS, JobKind, JobStatus
from storage.tables import CASES, CRISES, MENTIONS, OUTBOX

_WAITING = OUTBOX.c.status.in_((JobStatus.PENDING, JobStatus.SENDING))
# Urgent, then high cases first: in a digest's rows as in the choice of what goes in one.
_RANK = case((CASES.c.priority == "urgent", 0), (CASES.c.priority == "high", 1), else_=2)


def waiting_jobs(conn: Connection, *, channel: str, up_to: int | None = None) -> int:
    """Messages waiting for `channel` (the one in flight included); counted `up_to` at most."""
    waiting = select(OUTBOX.c.id).where(OUTBOX.c.channel == channel, _WAITING)
    if up_to is not None:  # in a storm: not a count of the whole backlog each time
        waiting = waiting.limit(up_to)
    return conn.scalar(select(func.count()).select_from(waiting.subquery())) or 0


def take_card(
    conn: Connection,
    *,
    job: Job,
    over: int | None,
    rows: int,
    on_topic: Callable[[str, list[str]], bool],
    now: datetime,
    update_gap: timedelta,
) -> Job | None:
    """A new card job just taken, made what the channel needs now (None: nothing to post).

    A case about its department's crisis joins the crisis thread's running digest (refreshed
    at most every `update_gap`: the cases that come meanwhile share a refresh); when more
    than `over` messages wait for the channel (None: never), a storm digest of its waiting new
    cases; otherwise the card, with the follow-ups that came while it waited.
    """
    assert job.case_id is not None
    case_row = conn.execute(
        select(CASES.c.department, CASES.c.digest_channel).where(CASES.c.id == job.case_id)
    ).first()
    if case_row is None or case_row.digest_channel is not None:
        return merge_follow_ups(conn, job=job)  # its digest row was claimed: its own card
    crisis = conn.execute(select(CRISES).where(CRISES.c.department == case_row.department)).first()
    if (
        crisis is not None
        and crisis.slack_ts
        and on_topic(_first_text(conn, job.case_id), crisis.topic)
    ):
        return _join_crisis(conn, job=job, crisis=crisis, rows=rows, now=now, update_gap=update_gap)
    if over is not None and waiting_jobs(conn, channel=job.channel, up_to=over + 1) > over:
        digest = coalesce(conn, job=job, rows=rows)
        if digest.kind is JobKind.POST_DIGEST:
            return digest
    return merge_follow_ups(conn, job=job)


def _first_text(conn: Connection, case_id: int) -> str:
    first = select(func.min(MENTIONS.c.id)).where(MENTIONS.c.case_id == case_id).scalar_subquery()
    return conn.scalar(select(MENTIONS.c.text).where(MENTIONS.c.id == first)) or ""


def _join_crisis(
    conn: Connection,
    *,
    job: Job,
    crisis: Row[Any],
    rows: int,
    now: datetime,
    update_gap: timedelta,
) -> Job | None:
    """Add the case to the crisis thread's running digest (refreshed at most every
    `update_gap`), or start a new one there when there is none or it is full."""
    assert job.case_id is not None
    shown = 0
    if crisis.digest_ts:
        shown = (
            conn.scalar(
                select(func.count()).where(
                    CASES.c.digest_channel == crisis.slack_channel,
                    CASES.c.digest_ts == crisis.digest_ts,
                )
            )
            or 0
        )
    if crisis.digest_ts and shown < rows:
        conn.execute(
            update(CASES)
            .where(CASES.c.id == job.case_id)
            .values(digest_channel=crisis.slack_channel, digest_ts=crisis.digest_ts)
        )
        conn.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == job.id)
            .values(status=JobStatus.SENT, last_error="skipped: in the crisis digest")
        )
        queue_refresh(
            conn, channel=crisis.slack_channel, ts=crisis.digest_ts, now=now, delay=update_gap
        )
        return None
    conn.execute(update(CASES).where(CASES.c.id == job.case_id).values(digest_channel=job.channel))
    payload = {"cases": [job.case_id], "thread_ts": crisis.slack_ts, "crisis": crisis.department}
    conn.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == job.id)
        .values(kind=JobKind.POST_DIGEST, case_id=None, payload=payload)
    )
    return replace(job, kind=JobKind.POST_DIGEST, case_id=None, payload=payload)


def merge_follow_ups(conn: Connection, *, job: Job) -> Job:
    """Fold the case's later mentions, stored while its card waited, into the card job.

    Their thread lines are not sent: the card shows them (up to `card_through`, the newest
    mention when the card was taken; anything later still gets its own line, after the card).
    """
    assert job.case_id is not None
    through = conn.scalar(select(func.max(MENTIONS.c.id)).where(MENTIONS.c.case_id == job.case_id))
    conn.execute(
        update(OUTBOX)
        .where(
            OUTBOX.c.case_id == job.case_id,
            OUTBOX.c.kind == JobKind.POST_MENTION,
            OUTBOX.c.status == JobStatus.PENDING,
            OUTBOX.c.mention_id <= through,
        )
        .values(status=JobStatus.SENT, last_error="skipped: shown in the case's card")
    )
    conn.execute(update(CASES).where(CASES.c.id == job.case_id).values(card_through=through))
    return job


def coalesce(conn: Connection, *, job: Job, rows: int) -> Job:
    """Turn the head card job (in flight, never tried) into a digest of up to `rows` new cases:
    it and the channel's other waiting new cards, urgent and high first, then oldest first.

    The urgent and high ones are read from their own index (their rank, then their age), the
    others from the head of the channel's queue: neither reads the whole backlog, which in a
    storm is what a digest is made for.
    """
    assert job.case_id is not None
    others = select(OUTBOX.c.id).join(CASES, CASES.c.id == OUTBOX.c.case_id)
    others = others.where(
        OUTBOX.c.channel == job.channel,
        OUTBOX.c.kind == JobKind.POST_CARD,
        OUTBOX.c.status == JobStatus.PENDING,
        OUTBOX.c.attempts == 0,
        OUTBOX.c.id != job.id,
        # A case shown in a digest before gets its own card now (work started on it).
        CASES.c.digest_channel.is_(None),
        CASES.c.slack_ts.is_(None),
    )
    first = by_index(others.where(JUMPER), "ix_outbox_jumpers")
    ids = list(conn.scalars(first.order_by(OUTBOX.c.rank, OUTBOX.c.id).limit(rows - 1)))
    if len(ids) < rows - 1:  # every urgent and high one is in: the oldest of the rest
        rest = others.where(OUTBOX.c.rank.is_(None)).order_by(OUTBOX.c.id)
        ids += conn.scalars(rest.limit(rows - 1 - len(ids)))
    taken: list[int] = []
    if ids:
        taken = list(
            conn.scalars(
                update(OUTBOX)
                .where(OUTBOX.c.id.in_(ids), unindexed(OUTBOX.c.status) == JobStatus.PENDING)
                .values(status=JobStatus.SENT, last_error=f"skipped: in digest {job.id}")
                .returning(OUTBOX.c.case_id)
            )
        )
    if not taken:
        return job
    cases = sorted([job.case_id, *taken])
    # Their thread lines are folded into the card each gets when work on it starts.
    conn.execute(
        update(OUTBOX)
        .where(
            OUTBOX.c.case_id.in_(cases),
            OUTBOX.c.kind == JobKind.POST_MENTION,
            unindexed(OUTBOX.c.status) == JobStatus.PENDING,
        )
        .values(status=JobStatus.SENT, last_error="skipped: shown in the case's card")
    )
    conn.execute(update(CASES).where(CASES.c.id.in_(cases)).values(digest_channel=job.channel))
    payload = {"cases": cases}
    conn.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == job.id)
        .values(kind=JobKind.POST_DIGEST, case_id=None, payload=payload)
    )
    return replace(job, kind=JobKind.POST_DIGEST, case_id=None, payload=payload)


def mark_posted(conn: Connection, *, job: Job, channel_id: str, ts: str) -> None:
    """The digest is in Slack: its rows are where their cases can be claimed from."""
    payload = job.payload or {}
    conn.execute(
        update(CASES)
        .where(
            CASES.c.id.in_(payload["cases"]),
            # Moved away before the digest went out: its row is not that case's any more.
            CASES.c.digest_channel == job.channel,
        )
        .values(digest_channel=channel_id, digest_ts=ts)
    )
    if payload.get("crisis"):  # the crisis thread's new running digest
        conn.execute(
            update(CRISES).where(CRISES.c.department == payload["crisis"]).values(digest_ts=ts)
        )


@dataclass(frozen=True, slots=True)
class DigestCase:
    """A case of a digest with its first mention and the ones after it (oldest first)."""

    case: CaseRow
    first: Row[Any]
    later: list[Row[Any]]


def case_rows(conn: Connection, *, case_ids: list[int]) -> list[DigestCase]:
    """The cases of a digest about to be posted, most urgent first."""
    return _rows(conn, CASES.c.id.in_(case_ids))


def rows_of(conn: Connection, *, channel: str, ts: str) -> list[DigestCase]:
    """The cases a posted digest still shows (a case moved elsewhere has left it)."""
    return _rows(conn, CASES.c.digest_channel == channel, CASES.c.digest_ts == ts)


def _rows(conn: Connection, *where: Any) -> list[DigestCase]:
    cases = conn.execute(select(CASES).where(*where).order_by(_RANK, CASES.c.id)).all()
    mentions: dict[int, list[Row[Any]]] = {}
    if cases:  # a digest has a few cases: their mentions by the case index, not a scan
        for mention in conn.execute(
            select(MENTIONS.c.id, MENTIONS.c.case_id, MENTIONS.c.text, MENTIONS.c.url)
            .where(MENTIONS.c.case_id.in_([c.id for c in cases]))
            .order_by(MENTIONS.c.id)
        ):
            mentions.setdefault(mention.case_id, []).append(mention)
    return [DigestCase(c, mentions[c.id][0], mentions[c.id][1:]) for c in cases if c.id in mentions]


def take_refresh(conn: Connection, *, job: Job, now: datetime, update_gap: timedelta) -> Job | None:
    """A card refresh just taken; None when the case is only a digest row so far (a customer
    wrote again): its digest is refreshed instead (one refresh per digest, `update_gap` on)."""
    case_row = conn.execute(
        select(CASES.c.slack_ts, CASES.c.digest_channel, CASES.c.digest_ts).where(
            CASES.c.id == job.case_id
        )
    ).first()
    if case_row is None or case_row.slack_ts or not case_row.digest_ts:
        return job
    conn.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == job.id)
        .values(status=JobStatus.SENT, last_error="skipped: its digest row is refreshed")
    )
    queue_refresh(
        conn, channel=case_row.digest_channel, ts=case_row.digest_ts, now=now, delay=update_gap
    )
    return None


def queue_refresh(
    conn: Connection,
    *,
    channel: str,
    ts: str,
    now: datetime,
    delay: timedelta = timedelta(0),
) -> None:
    """Refresh a digest's rows (one waiting refresh per digest is enough), after `delay`."""
    enqueue_once(
        conn,
        kind=JobKind.UPDATE_DIGEST,
        channel=channel,
        dedupe_key=digest_update_key(channel, ts),
        now=now,
        not_before=now + delay,
        payload={"ts": ts},
    )


def queue_card(
    conn: Connection, *, case_id: int, priority: str, channel: str, now: datetime
) -> None:
    """Work started on a case shown only in a digest: post its own card (once)."""
    enqueue_once(
        conn,
        kind=JobKind.POST_CARD,
        channel=channel,
        dedupe_key=card_post_key(case_id),
        now=now,
        case_id=case_id,
        rank=CARD_RANKS.get(priority),
    )


def later_mentions(conn: Connection, *, case_id: int, through: int | None) -> list[Row[Any]]:
    """The case's mentions after the first, up to `through` (what its card shows)."""
    if through is None:
        return []
    rows = conn.execute(
        select(MENTIONS.c.id, MENTIONS.c.text, MENTIONS.c.url)
        .where(MENTIONS.c.case_id == case_id, MENTIONS.c.id <= through)
        .order_by(MENTIONS.c.id)
    ).all()
    return rows[1:]
