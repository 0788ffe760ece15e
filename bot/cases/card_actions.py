"""The card's buttons that change only the case itself: claim, release, take over, resolve,
reopen. Each is one transition of the state machine, under a lock on the case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.batching import batcher
from bot.cases.state_machine import Action, Actor, InvalidTransition, transition
from storage import schedule
from storage.case_row import CaseRow
from storage.db import unit_of_work
from storage.transitions.core import lock_case

# The buttons clicked in bursts, whose checks come before any write (bot.cases.batching).
_BATCHED = (Action.CLAIM, Action.UNCLAIM, Action.TAKE_OVER)


async def claim(engine: AsyncEngine, *, case_id: int, actor: Actor, now: datetime) -> CaseRow:
    """Make `actor` the owner of an unclaimed case."""
    return await _act(engine, Action.CLAIM, case_id=case_id, actor=actor, now=now)


async def unclaim(engine: AsyncEngine, *, case_id: int, actor: Actor, now: datetime) -> CaseRow:
    """The owner gives a case back to the queue."""
    return await _act(engine, Action.UNCLAIM, case_id=case_id, actor=actor, now=now)


async def take_over(
    engine: AsyncEngine, *, case_id: int, actor: Actor, expected_owner: str, now: datetime
) -> CaseRow:
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
) -> CaseRow:
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


async def reopen(engine: AsyncEngine, *, case_id: int, actor: Actor, now: datetime) -> CaseRow:
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
) -> CaseRow:
    def work(conn: Connection) -> Any:
        case = lock_case(conn, case_id=case_id)
        changed = transition(
            conn,
            action,
            case=case,
            actor=actor,
            now=now,
            expected_owner=expected_owner,
            note=details,
        )
        if action is Action.RESOLVE:
            schedule.cancel_tasks(conn, case_id=case_id)
        return changed

    # The buttons clicked in bursts, whose checks come before any write (bot.cases.batching).
    runner = batcher(engine, (InvalidTransition,)) if action in _BATCHED else None
    try:
        if runner is not None:
            return await runner.run(work)
        return await unit_of_work(engine).run(work)
    except IntegrityError:
        # Reopening while the customer already has another open case on the platform.
        raise InvalidTransition("another_open_case") from None
