"""Forwarding: to a person (a department contact, or anyone) with a deadline that is watched,
or moving a case to another department's channel.

Forwarding must never become a black hole: the person is reminded before the deadline, and
the case's owner is told when it passes unanswered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.state_machine import Action, Actor, InvalidTransition, check, move, transition
from bot.core.business_time import BusinessCalendar
from bot.core.config import WebcareConfig
from storage import schedule
from storage.case_row import CaseRow
from storage.db import unit_of_work
from storage.outbox import enqueue
from storage.statuses import DraftStatus, JobKind, JobStatus, TaskKind
from storage.tables import DRAFTS, OUTBOX
from storage.transitions.core import lock_case

FORWARD_TASKS = (TaskKind.FORWARD_REMINDER, TaskKind.FORWARD_DEADLINE)


@dataclass(frozen=True, slots=True)
class ForwardRequest:
    """What the forward modal asked for: a person, or another department."""

    person: str | None
    department: str | None
    note: str | None


async def forward_to_person(
    engine: AsyncEngine,
    *,
    case_id: int,
    actor: Actor,
    person: str,
    note: str | None,
    config: WebcareConfig,
    calendar_for: Callable[[str], BusinessCalendar],
    now: datetime,
) -> CaseRow:
    """Hand the case to `person` to answer by a deadline, in the business hours of the case's
    department (`calendar_for` a department key); the actor stays (or becomes) owner."""

    def work(conn: Connection) -> Any:
        case = lock_case(conn, case_id=case_id)
        calendar = calendar_for(case.department if case is not None else "")
        due = calendar.add(now, config.forward_deadline_minutes)
        remind = calendar.add(now, config.forward_deadline_minutes * config.forward_reminder_at)
        changed = transition(
            conn,
            Action.FORWARD,
            case=case,
            actor=actor,
            now=now,
            also={"forwarded_to": person, "forward_due_at": due},
            note={"to": person, "forward_note": note or "", "due_at": due.isoformat()},
        )
        schedule.enqueue_dm(
            conn,
            user=person,
            case_id=case_id,
            now=now,
            payload={
                "kind": "forwarded",
                "by": actor.name,
                "note": note,
                "due_at": due.isoformat(),
            },
        )
        for kind, at, notify in (
            (TaskKind.FORWARD_REMINDER, remind, person),
            (TaskKind.FORWARD_DEADLINE, due, changed.owner_id),
        ):
            schedule.add_task(
                conn,
                kind=kind,
                case_id=case_id,
                due_at=at,
                notify=notify,
                created_by=actor.id,
                now=now,
            )
        return changed

    return await unit_of_work(engine).run(work)


async def answer_forward(
    engine: AsyncEngine, *, case_id: int, actor: Actor, take: bool, now: datetime
) -> CaseRow:
    """The person takes the forwarded case (and owns it) or sends it back to its owner."""
    action = Action.TAKE_FORWARDED if take else Action.SEND_BACK

    def work(conn: Connection) -> Any:
        case = lock_case(conn, case_id=case_id)
        changed = transition(conn, action, case=case, actor=actor, now=now)
        for kind in FORWARD_TASKS:
            schedule.cancel_tasks(conn, case_id=case_id, kind=kind)
        return changed

    return await unit_of_work(engine).run(work)


def _repost_drafts(conn: Connection, *, case_id: int, channel: str, now: datetime) -> None:
    """A moved case's drafts still to send, posted again in the new card's thread (after the
    card: a channel's jobs go out in order), where the new department can approve and send
    them. Their messages in the old thread are then out of date: their buttons are refused
    (handlers.drafts), and an edit goes to the new message, not by a ts the old channel had."""
    open_drafts = conn.execute(
        select(DRAFTS.c.id).where(
            DRAFTS.c.case_id == case_id,
            DRAFTS.c.slack_ts.is_not(None),
            DRAFTS.c.status.in_([DraftStatus.DRAFT, DraftStatus.APPROVED]),
        )
    ).scalars()
    # One already waiting to be posted (an edit, taken along to the new channel) is enough.
    waiting = {
        (job.payload or {}).get("draft_id")
        for job in conn.execute(
            select(OUTBOX.c.payload).where(
                OUTBOX.c.case_id == case_id,
                OUTBOX.c.status == JobStatus.PENDING,
                OUTBOX.c.kind == JobKind.POST_DRAFT,
            )
        )
    }
    reposted = [draft_id for draft_id in open_drafts if draft_id not in waiting]
    conn.execute(update(DRAFTS).where(DRAFTS.c.case_id == case_id).values(slack_ts=None))
    # Approved in the old department: the new one approves for itself (its rules may differ).
    conn.execute(
        update(DRAFTS)
        .where(DRAFTS.c.case_id == case_id, DRAFTS.c.status == DraftStatus.APPROVED)
        .values(status=DraftStatus.DRAFT, approved_by=None)
    )
    for draft_id in reposted:
        payload = {"draft_id": draft_id}
        enqueue(
            conn,
            kind=JobKind.POST_DRAFT,
            channel=channel,
            case_id=case_id,
            payload=payload,
            now=now,
        )


async def move_to_department(
    engine: AsyncEngine,
    *,
    case_id: int,
    actor: Actor,
    department: str,
    note: str | None,
    config: WebcareConfig,
    now: datetime,
) -> CaseRow:
    """Post the case's card in `department`'s channel; the old card points there."""
    target = config.department(department)

    def work(conn: Connection) -> Any:
        case = lock_case(conn, case_id=case_id)
        check(Action.MOVE, case, actor)
        if case.department == target.key:
            raise InvalidTransition("same_department", status=case.status)
        moved = move(
            conn,
            case=case,
            actor=actor,
            now=now,
            department=target.key,
            channel=target.channel,
            note={"department": target.name, "forward_note": note or ""},
        )
        # The case starts over in its new department: no forward, and no follow-up of the
        # owner it no longer has.
        for kind in (*FORWARD_TASKS, TaskKind.FOLLOW_UP):
            schedule.cancel_tasks(conn, case_id=case_id, kind=kind)
        _repost_drafts(conn, case_id=case_id, channel=target.channel, now=now)
        return moved

    return await unit_of_work(engine).run(work)
