"""Forwarding: to a person (a department contact, or anyone) with a deadline that is watched,
or moving a case to another department's channel.

Forwarding must never become a black hole: the person is reminded before the deadline, and
the case's owner is told when it passes unanswered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.state_machine import Action, Actor, InvalidTransition, check
from bot.core.business_time import BusinessCalendar
from bot.core.config import WebcareConfig
from storage import schedule
from storage.db import unit_of_work
from storage.models import CaseStatus, TaskKind
from storage.tables import DRAFTS
from storage.transitions.core import apply_change, lock_case, move_case

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
    calendar: BusinessCalendar,
    now: datetime,
) -> Row[Any]:
    """Hand the case to `person` to answer by a deadline; the actor stays (or becomes) owner."""
    due = calendar.add(now, config.forward_deadline_minutes)
    remind = calendar.add(now, config.forward_deadline_minutes * config.forward_reminder_at)

    def work(conn: Connection) -> Any:
        case = lock_case(conn, case_id=case_id)
        check(Action.FORWARD, case, actor)
        assert case is not None
        owner = case.owner_id or actor.id
        values: dict[str, Any] = {
            "status": CaseStatus.FORWARDED,
            "forwarded_to": person,
            "forward_due_at": due,
        }
        if case.owner_id is None:
            values |= {"owner_id": actor.id, "owner_name": actor.name, "claimed_at": now}
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
            (TaskKind.FORWARD_DEADLINE, due, owner),
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
        return apply_change(
            conn,
            case=case,
            values=values,
            event=Action.FORWARD.value,
            actor=actor.id,
            now=now,
            note={
                "action": "forward",
                "actor": actor.name,
                "at": now.isoformat(),
                "to": person,
                "forward_note": note or "",
                "due_at": due.isoformat(),
            },
        )

    return await unit_of_work(engine).run(work)


async def answer_forward(
    engine: AsyncEngine, *, case_id: int, actor: Actor, take: bool, now: datetime
) -> Row[Any]:
    """The person takes the forwarded case (and owns it) or sends it back to its owner."""
    action = Action.TAKE_FORWARDED if take else Action.SEND_BACK

    def work(conn: Connection) -> Any:
        case = lock_case(conn, case_id=case_id)
        check(action, case, actor)
        assert case is not None
        values: dict[str, Any] = {"forwarded_to": None, "forward_due_at": None}
        if take:
            values |= {
                "status": CaseStatus.CLAIMED,
                "owner_id": actor.id,
                "owner_name": actor.name,
                "claimed_at": now,
            }
        else:
            values["status"] = CaseStatus.CLAIMED if case.owner_id else CaseStatus.NEW
        for kind in FORWARD_TASKS:
            schedule.cancel_tasks(conn, case_id=case_id, kind=kind)
        return apply_change(
            conn,
            case=case,
            values=values,
            event=action.value,
            actor=actor.id,
            now=now,
            note={"action": action.value, "actor": actor.name, "at": now.isoformat()},
        )

    return await unit_of_work(engine).run(work)


async def move_to_department(
    engine: AsyncEngine,
    *,
    case_id: int,
    actor: Actor,
    department: str,
    note: str | None,
    config: WebcareConfig,
    now: datetime,
) -> Row[Any]:
    """Post the case's card in `department`'s channel; the old card points there."""
    target = config.department(department)

    def work(conn: Connection) -> Any:
        case = lock_case(conn, case_id=case_id)
        check(Action.MOVE, case, actor)
        assert case is not None
        if case.department == target.key:
            raise InvalidTransition("same_department", status=case.status)
        for kind in FORWARD_TASKS:
            schedule.cancel_tasks(conn, case_id=case_id, kind=kind)
        # Draft messages stay in the old channel's thread: an edit is posted anew in the new
        # card's thread, not chat.update'd by a ts that channel never had.
        conn.execute(update(DRAFTS).where(DRAFTS.c.case_id == case_id).values(slack_ts=None))
        return move_case(
            conn,
            case=case,
            department=target.key,
            channel=target.channel,
            actor=actor.id,
            now=now,
            note={
                "action": "move",
                "actor": actor.name,
                "at": now.isoformat(),
                "department": target.name,
                "forward_note": note or "",
            },
        )

    return await unit_of_work(engine).run(work)
