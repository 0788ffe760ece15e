"""The case state machine: the one writer of a case's status.

Every change of status goes through here: a click, a forward or move, a reply sent, the customer
writing again (ingest asks `decide` and stores what it says). Each action checks the case's
current status (and owner) against TRANSITIONS, under a lock on the case, so two clicks at the
same moment have exactly one winner; EFFECTS says what else it does (owner, dates, deadline, its
audit event). The change, its audit event, the card refresh and the thread line are one
transaction. tests/cases/test_one_writer.py checks that no other module sets a status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.engine import Connection

from storage import schedule
from storage.case_row import CaseRow
from storage.intake.rows import Deadline, Event, Existing, Reopening
from storage.statuses import OPEN_STATUSES
from storage.statuses import CaseStatus as S
from storage.transitions.core import apply_change, move_case


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
    # The customer writes again after the case was resolved (ingest, actor "system").
    CUSTOMER_RETURN = "customer_return"


_BATCHED = (Action.CLAIM, Action.UNCLAIM, Action.TAKE_OVER)
_OPEN = tuple(S(status) for status in OPEN_STATUSES)


# (action, from status) → to status; None keeps the status as it is.
TRANSITIONS: dict[tuple[Action, S], S | None] = {
    (Action.CLAIM, S.NEW): S.CLAIMED,
    (Action.CLAIM, S.REOPENED): S.CLAIMED,
    (Action.CLAIM, S.FORWARDED): S.CLAIMED,
    # Answered without an owner (before whoever answered became it): someone can take it.
    (Action.CLAIM, S.REPLIED): S.CLAIMED,
    (Action.UNCLAIM, S.CLAIMED): S.NEW,
    (Action.TAKE_OVER, S.CLAIMED): None,
    (Action.TAKE_OVER, S.REPLIED): None,
    (Action.TAKE_OVER, S.FOLLOW_UP): None,
    **{(Action.RESOLVE, status): S.RESOLVED for status in _OPEN},
    (Action.REOPEN, S.RESOLVED): S.REOPENED,
    (Action.REOPEN, S.IGNORED): S.REOPENED,
    # An ignored case stays ignored when its author writes again: the mention opens a new case.
    (Action.CUSTOMER_RETURN, S.RESOLVED): S.REOPENED,
    **{(Action.FOLLOW_UP, status): S.FOLLOW_UP for status in _OPEN},
    # The answers to "is the customer's problem solved?"
    (Action.FOLLOW_UP_SOLVED, S.FOLLOW_UP): S.RESOLVED,
    (Action.FOLLOW_UP_STILL_OPEN, S.FOLLOW_UP): None,
    (Action.FOLLOW_UP_REOPEN, S.FOLLOW_UP): S.CLAIMED,
}
TRANSITIONS |= {
    **{(Action.FORWARD, status): S.FORWARDED for status in _OPEN},
    (Action.TAKE_FORWARDED, S.FORWARDED): S.CLAIMED,
    # Back to its owner (a forwarded case without one goes back to the queue: see decide).
    (Action.SEND_BACK, S.FORWARDED): S.CLAIMED,
    **{(Action.MOVE, status): S.NEW for status in _OPEN},
    **{(Action.DRAFT, status): None for status in _OPEN},
    **{(Action.REPLY_SENT, status): S.REPLIED for status in _OPEN},
    # A reply while a follow-up is planned: the check with the customer still comes.
    (Action.REPLY_SENT, S.FOLLOW_UP): None,
    # A reply published while someone resolved the case is still recorded.
    (Action.REPLY_SENT, S.RESOLVED): None,
}
# Ways out of "forwarded" that leave the case with its owner, still to be checked with the
# customer: a follow-up planned before the forward goes on (see transition).
_RESUME_FOLLOW_UP = (Action.TAKE_FORWARDED, Action.SEND_BACK, Action.REPLY_SENT)
FOLLOW_UP_OUTCOMES = (
    Action.FOLLOW_UP_SOLVED,
    Action.FOLLOW_UP_STILL_OPEN,
    Action.FOLLOW_UP_REOPEN,
)


class Owner(StrEnum):
    """Who owns the case after a transition."""

    KEEP = "keep"
    ACTOR = "actor"  # the one who acted
    ACTOR_IF_NONE = "actor_if_none"  # its owner, or else the one who acted
    CLEAR = "clear"  # nobody: back in the queue


@dataclass(frozen=True, slots=True)
class Effects:
    """What an action does besides the status: its name in the audit trail, who owns the case
    after it, and what happens to its dates. Every action refreshes the card and adds a line to
    its thread (except DRAFT, whose draft message is the line)."""

    event: str
    owner: Owner = Owner.KEEP
    resolved: bool | None = None  # True: resolved now; False: not resolved any more
    clears_forward: bool = False  # the forward (and its deadline) is over
    first_response: bool = False  # the customer has had an answer
    new_deadline: bool = False  # a fresh response deadline (the customer waits again)


EFFECTS: dict[Action, Effects] = {
    Action.CLAIM: Effects("claim", owner=Owner.ACTOR),
    Action.UNCLAIM: Effects("unclaim", owner=Owner.CLEAR),
    Action.TAKE_OVER: Effects("take_over", owner=Owner.ACTOR),
    Action.RESOLVE: Effects("resolve", resolved=True),
    # Reopened by a person: the deadline stays as it was (the customer did not write again).
    Action.REOPEN: Effects("reopen", owner=Owner.CLEAR, resolved=False),
    Action.CUSTOMER_RETURN: Effects("reopen", owner=Owner.CLEAR, resolved=False, new_deadline=True),
    Action.FOLLOW_UP: Effects("follow_up", owner=Owner.ACTOR_IF_NONE),
    Action.FOLLOW_UP_SOLVED: Effects("follow_up_outcome", resolved=True),
    Action.FOLLOW_UP_STILL_OPEN: Effects("follow_up_outcome"),
    Action.FOLLOW_UP_REOPEN: Effects("follow_up_outcome", owner=Owner.ACTOR),
    Action.FORWARD: Effects("forward", owner=Owner.ACTOR_IF_NONE),
    Action.TAKE_FORWARDED: Effects("take_forwarded", owner=Owner.ACTOR, clears_forward=True),
    Action.SEND_BACK: Effects("send_back", clears_forward=True),
    Action.MOVE: Effects("move", owner=Owner.CLEAR, clears_forward=True),
    Action.DRAFT: Effects("draft"),
    # Whoever answered an unclaimed case owns it: an answered case is nobody's queue item any
    # more, and its owner is who the customer's next message and the follow-up go to.
    Action.REPLY_SENT: Effects("reply_sent", owner=Owner.ACTOR_IF_NONE, first_response=True),
}


@dataclass(frozen=True, slots=True)
class Actor:
    """A person clicking in Slack."""

    id: str
    name: str


SYSTEM = Actor("system", "webcare")


class InvalidTransition(Exception):
    """The action does not fit the case as it is now; `reason` keys the message to show."""

    def __init__(self, reason: str, *, status: str | None = None, owner: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.owner = owner


@dataclass(frozen=True, slots=True)
class Change:
    """A decided transition: the case's new values, the audit event and the thread line."""

    action: Action
    values: dict[str, Any]
    event: str
    note: dict[str, Any]


def decide(
    action: Action,
    case: Any,
    actor: Actor,
    *,
    now: datetime,
    expected_owner: str | None = None,
    note: Mapping[str, Any] | None = None,
    deadline: tuple[datetime, datetime] | None = None,
    follow_up_planned: bool = False,
) -> Change:
    """Check `action` against the case as it is now and decide the case's new values.

    Raises InvalidTransition when it does not fit. `note` adds to the thread line, `deadline`
    is the (due, warn) of a transition that gives a fresh one (None: no deadline).
    `follow_up_planned`: a forwarded case whose follow-up is still to come goes back to
    waiting for it when the forward is answered or a reply is sent.
    """
    if case is None:
        raise InvalidTransition("not_found")
    _check(action, case, actor, expected_owner)
    effects = EFFECTS[action]
    to = TRANSITIONS[(action, S(case.status))] or S(case.status)
    values: dict[str, Any] = {}
    owner = case.owner_id
    if effects.owner is Owner.ACTOR or (effects.owner is Owner.ACTOR_IF_NONE and owner is None):
        values |= {"owner_id": actor.id, "owner_name": actor.name, "claimed_at": now}
        owner = actor.id
    elif effects.owner is Owner.CLEAR:
        values |= {"owner_id": None, "owner_name": None, "claimed_at": None}
        owner = None
    if follow_up_planned and action in _RESUME_FOLLOW_UP and owner is not None:
        to = S.FOLLOW_UP
    if to is S.CLAIMED and owner is None:  # claimed by nobody: it waits in the queue
        to = S.NEW
    values["status"] = to
    if effects.resolved is not None:
        values["resolved_at"] = now if effects.resolved else None
    # Out of "forwarded" by any way (resolved, answered, claimed...): the forward is over, and
    # its deadline with it.
    if effects.clears_forward or (S(case.status) is S.FORWARDED and to is not S.FORWARDED):
        values |= {"forwarded_to": None, "forward_due_at": None}
    if effects.first_response:
        values["answered_at"] = now
        if case.first_response_at is None:
            values["first_response_at"] = now
            values["first_response_due_at"] = case.sla_due_at
    if effects.new_deadline:
        due, warn = deadline or (None, None)
        values |= {"sla_due_at": due, "sla_warn_at": warn}
        # The customer waits for an answer again: the new deadline is watched.
        values |= {"sla_warned_at": None, "sla_breached_at": None, "answered_at": None}
    line: dict[str, Any] = {"action": action.value, "actor": actor.name, "at": now.isoformat()}
    if action is Action.TAKE_OVER:
        line["previous_owner"] = case.owner_name or case.owner_id
    return Change(action, values, effects.event, line | dict(note or {}))


def transition(
    conn: Connection,
    action: Action,
    *,
    case: Any,
    actor: Actor,
    now: datetime,
    expected_owner: str | None = None,
    note: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
    also: Mapping[str, Any] | None = None,
) -> CaseRow:
    """Decide and write a transition of a locked case: its values (with `also`, the action's own
    columns such as a forward's person), the audit event, the card refresh and the thread line.
    """
    # A forward answered (or a reply sent) while a follow-up is planned: the case goes back to
    # waiting for it, and one that came due meanwhile is asked now.
    resumes = (
        case is not None
        and S(case.status) is S.FORWARDED
        and action in _RESUME_FOLLOW_UP
        and schedule.follow_up_planned(conn, case_id=case.id)
    )
    change = decide(
        action,
        case,
        actor,
        now=now,
        expected_owner=expected_owner,
        note=note,
        follow_up_planned=resumes,
    )
    if also and "status" in also:
        raise ValueError("a case's status is decided by the state machine, not passed in")
    if resumes:
        schedule.release_held(conn, case_id=case.id, now=now)
    return apply_change(
        conn,
        case=case,
        values=change.values | dict(also or {}),
        event=change.event,
        actor=actor.id,
        now=now,
        note=change.note,
        detail=detail,
    )


def move(
    conn: Connection,
    *,
    case: Any,
    actor: Actor,
    now: datetime,
    department: str,
    channel: str,
    note: Mapping[str, Any],
) -> CaseRow:
    """Move a locked case to another department's channel: a new card there, in the queue."""
    change = decide(Action.MOVE, case, actor, now=now, note=note)
    return move_case(
        conn,
        case=case,
        values=change.values,
        event=change.event,
        department=department,
        channel=channel,
        actor=actor.id,
        now=now,
        note=change.note,
    )


def customer_return(case: Existing, deadline: Deadline | None, now: datetime) -> Reopening:
    """The customer writes again on a resolved case: it reopens, unowned, with `deadline` (the
    customer waits for an answer again; None: a proactive case without one). The ingest stores
    it with the new mention; the mention in the thread pings the previous owner."""
    note = {"reason": "customer wrote again", "previous_owner": case.owner_id}
    change = decide(Action.CUSTOMER_RETURN, case, SYSTEM, now=now, deadline=deadline, note=note)
    status = change.values["status"]
    return Reopening(change.values, Event(case.id, change.event, case.status, status, change.note))


def record(
    conn: Connection,
    *,
    case: Any,
    event: str,
    actor: Actor,
    now: datetime,
    detail: Mapping[str, Any],
) -> CaseRow:
    """Log an event on a locked case that leaves the case as it is (a draft saved, approved)."""
    return apply_change(
        conn, case=case, values={}, event=event, actor=actor.id, now=now, note=None, detail=detail
    )


def check(action: Action, case: CaseRow | None, actor: Actor) -> None:
    """Raise InvalidTransition unless `actor` may do `action` on `case` as it is now."""
    if case is None:
        raise InvalidTransition("not_found")
    _check(action, case, actor, None)


def _check(action: Action, case: CaseRow, actor: Actor, expected_owner: str | None) -> None:
    status = S(case.status)
    # Claim takes a case nobody has (a forwarded one has its owner): from an outdated card a
    # claim must not take it from its owner unasked, that is what Take over is for.
    if (action, status) not in TRANSITIONS or (action is Action.CLAIM and case.owner_id):
        if action is Action.CLAIM and case.owner_id:
            reason = "own_case" if case.owner_id == actor.id else "already_claimed"
            raise InvalidTransition(reason, status=status, owner=case.owner_id)
        reason = "resolved" if status in (S.RESOLVED, S.IGNORED) else "not_allowed"
        raise InvalidTransition(reason, status=status, owner=case.owner_id)
    if action in (Action.TAKE_FORWARDED, Action.SEND_BACK) and case.forwarded_to != actor.id:
        raise InvalidTransition("not_forwarded_to_you", status=status, owner=case.owner_id)
    if action is Action.UNCLAIM and case.owner_id != actor.id:
        raise InvalidTransition("not_owner", status=status, owner=case.owner_id)
    # The follow-up question goes to the owner; a copy of it from before a take-over answers
    # nothing (it would make its reader the owner again, unasked).
    if action in FOLLOW_UP_OUTCOMES and case.owner_id not in (None, actor.id):
        raise InvalidTransition("not_your_follow_up", status=status, owner=case.owner_id)
    if action is Action.TAKE_OVER:
        if case.owner_id == actor.id:
            raise InvalidTransition("own_case", status=status, owner=case.owner_id)
        if case.owner_id != expected_owner:  # someone else took it since the card was drawn
            raise InvalidTransition("stale_card", status=status, owner=case.owner_id)
