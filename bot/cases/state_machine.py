"""The case state machine: every change to a case goes through here.

Each action checks the case's current status (and owner) against what it allows, under a lock
on the case, so two clicks at the same moment have exactly one winner. The change, its audit
event and the card refresh are one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Row
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.batching import batcher
from storage import schedule
from storage.db import unit_of_work
from storage.models import CaseStatus as S
from storage.models import TaskKind
from storage.transitions.core import apply_change, lock_case


class Action(StrEnum):
    CLAIM = "claim"
    UNCLAIM = "unclaim"
    TAKE_OVER = "take_over"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    FOLLOW_UP = "follow_up"
    FOLLOW_UP_SOLVED = "follow_up_solved"
    FOLLOW_UP_STILL_OPEN = "follow_up_still_open"
    FOLLOW_UP_REOPEN = "follow_up_reopen"
    FORWARD = "forward"
    TAKE_FORWARDED = "take_forwarded"
    SEND_BACK = "send_back"
    MOVE = "move"
    DRAFT = "draft"
    REPLY_SENT = "reply_sent"


_BATCHED = (Action.CLAIM, Action.UNCLAIM, Action.TAKE_OVER)
_OPEN = (S.NEW, S.CLAIMED, S.REPLIED, S.FOLLOW_UP, S.FORWARDED, S.REOPENED)


# (action, from status) → to status; None keeps the status as it is.
TRANSITIONS: dict[tuple[Action, S], S | None] = {
    (Action.CLAIM, S.NEW): S.CLAIMED,
    (Action.CLAIM, S.REOPENED): S.CLAIMED,
    (Action.CLAIM, S.FORWARDED): S.CLAIMED,
    (Action.UNCLAIM, S.CLAIMED): S.NEW,
    (Action.TAKE_OVER, S.CLAIMED): None,
    (Action.TAKE_OVER, S.REPLIED): None,
    (Action.TAKE_OVER, S.FOLLOW_UP): None,
    **{(Action.RESOLVE, status): S.RESOLVED for status in _OPEN},
    (Action.REOPEN, S.RESOLVED): S.REOPENED,
    (Action.REOPEN, S.IGNORED): S.REOPENED,
    **{(Action.FOLLOW_UP, status): S.FOLLOW_UP for status in _OPEN},
    # The answers to "is the customer's problem solved?"
    (Action.FOLLOW_UP_SOLVED, S.FOLLOW_UP): S.RESOLVED,
    (Action.FOLLOW_UP_STILL_OPEN, S.FOLLOW_UP): None,
    (Action.FOLLOW_UP_REOPEN, S.FOLLOW_UP): S.CLAIMED,
}
TRANSITIONS |= {
    **{(Action.FORWARD, status): S.FORWARDED for status in _OPEN},
    (Action.TAKE_FORWARDED, S.FORWARDED): S.CLAIMED,
    (Action.SEND_BACK, S.FORWARDED): S.CLAIMED,
    **{(Action.MOVE, status): S.NEW for status in _OPEN},
    **{(Action.DRAFT, status): None for status in _OPEN},
    **{(Action.REPLY_SENT, status): S.REPLIED for status in _OPEN},
    # A reply published while someone resolved the case is still recorded.
    (Action.REPLY_SENT, S.RESOLVED): None,
}
FOLLOW_UP_OUTCOMES = (
    Action.FOLLOW_UP_SOLVED,
    Action.FOLLOW_UP_STILL_OPEN,
    Action.FOLLOW_UP_REOPEN,
)


@dataclass(frozen=True, slots=True)
class Actor:
    """A person clicking in Slack."""

    id: str
    name: str


class InvalidTransition(Exception):
    """The action does not fit the case as it is now; `reason` keys the message to show."""

    def __init__(self, reason: str, *, status: str | None = None, owner: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.owner = owner


async def claim(engine: AsyncEngine, *, case_id: int, actor: Actor, now: datetime) -> Row[Any]:
    """Make `actor` the owner of an unclaimed case."""
    return await _act(engine, Action.CLAIM, case_id=case_id, actor=actor, now=now)


async def unclaim(engine: AsyncEngine, *, case_id: int, actor: Actor, now: datetime) -> Row[Any]:
    """The owner gives a case back to the queue."""
    return await _act(engine, Action.UNCLAIM, case_id=case_id, actor=actor, now=now)


async def take_over(
    engine: AsyncEngine, *, case_id: int, actor: Actor, expected_owner: str, now: datetime
) -> Row[Any]:
    """Take a case from its owner; `expected_owner` is whom the actor confirmed to take it from."""
    return await _act(
        engine,
        Action.TAKE_OVER,
        case_id=case_id,
        actor=actor,
        now=now,
        expected_owner=expected_owner,
    )


async def resolve(
    engine: AsyncEngine,
    *,
    case_id: int,
    actor: Actor,
    now: datetime,
    closing_note: str | None = None,
    public_close: bool | None = None,
) -> Row[Any]:
    """Close a case. `public_close` records, for a conversation that moved from public to
    private, whether the public thread was told it was sorted out (None: not asked)."""
    details: dict[str, Any] = {}
    if closing_note:
        details["closing_note"] = closing_note
    if public_close is not None:
        details["public_close"] = public_close
    return await _act(
        engine, Action.RESOLVE, case_id=case_id, actor=actor, now=now, details=details
    )


async def reopen(engine: AsyncEngine, *, case_id: int, actor: Actor, now: datetime) -> Row[Any]:
    return await _act(engine, Action.REOPEN, case_id=case_id, actor=actor, now=now)


async def _act(
    engine: AsyncEngine,
    action: Action,
    *,
    case_id: int,
    actor: Actor,
    now: datetime,
    expected_owner: str | None = None,
    details: dict[str, Any] | None = None,
) -> Row[Any]:
    def work(conn: Connection) -> Any:
        case = lock_case(conn, case_id=case_id)
        if case is None:
            raise InvalidTransition("not_found")
        _check(action, case, actor, expected_owner)
        to_status = TRANSITIONS[(action, S(case.status))] or case.status
        values: dict[str, Any] = {"status": to_status}
        if action in (Action.CLAIM, Action.TAKE_OVER):
            values |= {"owner_id": actor.id, "owner_name": actor.name, "claimed_at": now}
        elif action is Action.UNCLAIM or action is Action.REOPEN:
            values |= {"owner_id": None, "owner_name": None, "claimed_at": None}
        if action is Action.RESOLVE:
            values["resolved_at"] = now
        elif action is Action.REOPEN:
            values["resolved_at"] = None
        note = {"action": action.value, "actor": actor.name, "at": now.isoformat()}
        note |= details or {}
        if action is Action.TAKE_OVER:
            note["previous_owner"] = case.owner_name or case.owner_id
        if action is Action.RESOLVE:
            schedule.cancel_tasks(conn, case_id=case_id)
        return apply_change(
            conn,
            case=case,
            values=values,
            event=action.value,
            actor=actor.id,
            now=now,
            note=note,
        )

    # The buttons clicked in bursts, whose checks come before any write (bot.cases.batching).
    runner = batcher(engine, (InvalidTransition,)) if action in _BATCHED else None
    try:
        if runner is not None:
            return await runner.run(work)
        return await unit_of_work(engine).run(work)
    except IntegrityError:
        # Reopening while the customer already has another open case on the platform.
        raise InvalidTransition("another_open_case") from None


def check(action: Action, case: Row[Any] | None, actor: Actor) -> None:
    """Raise InvalidTransition unless `actor` may do `action` on `case` as it is now."""
    if case is None:
        raise InvalidTransition("not_found")
    _check(action, case, actor, None)


def _check(action: Action, case: Row[Any], actor: Actor, expected_owner: str | None) -> None:
    status = S(case.status)
    if (action, status) not in TRANSITIONS:
        if action is Action.CLAIM and case.owner_id:
            reason = "own_case" if case.owner_id == actor.id else "already_claimed"
            raise InvalidTransition(reason, status=status, owner=case.owner_id)
        reason = "resolved" if status in (S.RESOLVED, S.IGNORED) else "not_allowed"
        raise InvalidTransition(reason, status=status, owner=case.owner_id)
    if action in (Action.TAKE_FORWARDED, Action.SEND_BACK) and case.forwarded_to != actor.id:
        raise InvalidTransition("not_forwarded_to_you", status=status, owner=case.owner_id)
    if action is Action.UNCLAIM and case.owner_id != actor.id:
        raise InvalidTransition("not_owner", status=status, owner=case.owner_id)
    if action is Action.TAKE_OVER:
        if case.owner_id == actor.id:
            raise InvalidTransition("own_case", status=status, owner=case.owner_id)
        if case.owner_id != expected_owner:  # someone else took it since the card was drawn
            raise InvalidTransition("stale_card", status=status, owner=case.owner_id)


async def schedule_follow_up(
    engine: AsyncEngine, *, case_id: int, actor: Actor, due_at: datetime, now: datetime
) -> Row[Any]:
    """Ask the owner (or `actor`, who then owns the case) at `due_at` whether it is solved."""

    def work(conn: Connection) -> Any:
        case = lock_case(conn, case_id=case_id)
        if case is None:
            raise InvalidTransition("not_found")
        _check(Action.FOLLOW_UP, case, actor, None)
        values: dict[str, Any] = {"status": S.FOLLOW_UP}
        owner = case.owner_id
        if owner is None:
            owner = actor.id
            values |= {"owner_id": actor.id, "owner_name": actor.name, "claimed_at": now}
        schedule.add_task(
            conn,
            kind=TaskKind.FOLLOW_UP,
            case_id=case_id,
            due_at=due_at,
            notify=owner,
            created_by=actor.id,
            now=now,
        )
        note = {
            "action": Action.FOLLOW_UP.value,
            "actor": actor.name,
            "at": now.isoformat(),
            "due_at": due_at.isoformat(),
        }
        return apply_change(
            conn,
            case=case,
            values=values,
            event=Action.FOLLOW_UP.value,
            actor=actor.id,
            now=now,
            note=note,
        )

    return await unit_of_work(engine).run(work)


async def record_follow_up(
    engine: AsyncEngine,
    *,
    case_id: int,
    actor: Actor,
    outcome: Action,
    now: datetime,
    snooze_until: datetime | None = None,
) -> Row[Any]:
    """Record the answer to a due follow-up: solved, still open (ask again later) or reopen."""
    if outcome not in FOLLOW_UP_OUTCOMES:
        raise ValueError(f"{outcome} is not a follow-up outcome")

    def work(conn: Connection) -> Any:
        case = lock_case(conn, case_id=case_id)
        if case is None:
            raise InvalidTransition("not_found")
        _check(outcome, case, actor, None)
        values: dict[str, Any] = {"status": TRANSITIONS[(outcome, S(case.status))] or case.status}
        if outcome is Action.FOLLOW_UP_SOLVED:
            values["resolved_at"] = now
        elif outcome is Action.FOLLOW_UP_REOPEN:
            values |= {"owner_id": actor.id, "owner_name": actor.name, "claimed_at": now}
        note: dict[str, Any] = {"action": outcome.value, "actor": actor.name, "at": now.isoformat()}
        if outcome is Action.FOLLOW_UP_STILL_OPEN:
            if snooze_until is None:
                raise ValueError("a still-open follow-up needs the time to ask again")
            schedule.add_task(
                conn,
                kind=TaskKind.FOLLOW_UP,
                case_id=case_id,
                due_at=snooze_until,
                notify=case.owner_id or actor.id,
                created_by=actor.id,
                now=now,
            )
            note["due_at"] = snooze_until.isoformat()
        else:
            schedule.cancel_tasks(conn, case_id=case_id, kind=TaskKind.FOLLOW_UP)
        return apply_change(
            conn,
            case=case,
            values=values,
            event="follow_up_outcome",
            actor=actor.id,
            now=now,
            note=note,
        )

    return await unit_of_work(engine).run(work)
