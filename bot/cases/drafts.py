"""Reply drafts: written from a template, checked (length, personal data in public), approved
where a department wants a second pair of eyes, then sent; the first sent reply sets the
case's first-response time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.personal_data import Finding, find_personal_data
from bot.cases.state_machine import Action, Actor, InvalidTransition, check, record, transition
from bot.core.config import WebcareConfig
from bot.core.config.departments import Department
from storage.case_row import CaseRow
from storage.db import unit_of_work
from storage.outbox import enqueue
from storage.statuses import DraftStatus, JobKind
from storage.tables import DRAFTS
from storage.transitions.core import lock_case

# Characters a reply may have on each platform (None: no practical limit).
PLATFORM_LIMITS: dict[str, int | None] = {
    "x": 280,
    "bluesky": 300,
    "mastodon": 500,
    "instagram": 2200,
    "facebook": 8000,
    "reddit": 10_000,
    "forum": None,
    "review": 5000,
    "rss": None,
    "email": None,
    "other": None,
}

# A Send still under way after this long died with its process (a platform answers within
# seconds): the draft may then be marked as sent by hand.
STUCK = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class DraftCheck:
    length: int
    limit: int | None
    findings: list[Finding]

    @property
    def too_long(self) -> bool:
        return self.limit is not None and self.length > self.limit


@cache
def _patterns(items: tuple[tuple[str, str], ...]) -> dict[str, re.Pattern[str]]:
    return {name: re.compile(pattern) for name, pattern in items}


def check_draft(text: str, *, source: str, public: bool, config: WebcareConfig) -> DraftCheck:
    """Length against the platform's limit; personal data only matters in a public reply."""
    findings: list[Finding] = []
    if public:
        extra = _patterns(tuple(sorted(config.personal_data_patterns.items())))
        findings = find_personal_data(text, extra_patterns=extra)
    return DraftCheck(len(text), PLATFORM_LIMITS.get(source), findings)


def fill_template(text: str, *, case: CaseRow, agent_name: str) -> str:
    """A template with its placeholders filled in for this case and agent."""
    values = {
        "customer_name": case.author_name or f"@{case.author_handle}",
        "customer_handle": f"@{case.author_handle}",
        "agent_first_name": agent_name.split()[0] if agent_name.strip() else agent_name,
        "case_id": str(case.id),
    }
    return re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), m.group(0)), text)


async def save_draft(
    engine: AsyncEngine,
    *,
    case_id: int,
    actor: Actor,
    text: str,
    public: bool,
    overridden: list[str],
    now: datetime,
    draft_id: int | None = None,
) -> int:
    """Store a new draft (or an edit of `draft_id`) and show it in the card's thread."""

    def work(conn: Connection) -> Any:
        case = lock_case(conn, case_id=case_id)
        check(Action.DRAFT, case, actor)
        assert case is not None
        values = {
            "text": text,
            "public": public,
            "overridden_findings": overridden,
            "updated_at": now,
            "status": DraftStatus.DRAFT,
            "approved_by": None,
        }
        saved_id = draft_id
        if saved_id is None:
            saved_id = (
                conn.execute(
                    insert(DRAFTS)
                    .values(
                        case_id=case_id,
                        author_id=actor.id,
                        author_name=actor.name,
                        editor_ids=[],
                        created_at=now,
                        **values,
                    )
                    .returning(DRAFTS.c.id)
                )
            ).scalar_one()
        else:
            before = conn.execute(
                select(DRAFTS.c.author_id, DRAFTS.c.editor_ids).where(
                    DRAFTS.c.id == saved_id, DRAFTS.c.case_id == case_id
                )
            ).first()
            if before is None:
                raise InvalidTransition("draft_sent")
            editors = list(before.editor_ids or [])
            if actor.id != before.author_id and actor.id not in editors:
                editors.append(actor.id)  # whoever changes the text is one of its authors
            # A draft being sent is the text going out: an edit saved now would be recorded
            # as sent (or undo the send's approval) while the original is already public.
            edited = conn.execute(
                update(DRAFTS)
                .where(
                    DRAFTS.c.id == saved_id,
                    DRAFTS.c.case_id == case_id,
                    DRAFTS.c.status.not_in((DraftStatus.SENT, DraftStatus.SENDING)),
                )
                .values(**values, editor_ids=editors)
            )
            if not edited.rowcount:
                # Sent or being sent; anything else (a failed send put back since) changed
                # nothing: "try again" is the honest answer.
                status = _draft(conn, saved_id).status
                raise InvalidTransition(
                    f"draft_{status}"
                    if status in (DraftStatus.SENT, DraftStatus.SENDING)
                    else "failed"
                )
        detail: dict[str, Any] = {"draft_id": saved_id, "public": public}
        if overridden:  # posting personal data in public was a conscious choice: log it
            detail["personal_data_override"] = overridden
        _queue_draft_message(conn, case=case, draft_id=saved_id, now=now)
        record(conn, case=case, event="draft_saved", actor=actor, now=now, detail=detail)
        return saved_id

    return await unit_of_work(engine).run(work)


def draft_version(draft: Any) -> str:
    """Changes with every edit: an approval names the version the approver read."""
    return str(int(draft.updated_at.timestamp() * 1000))


async def approve_draft(
    engine: AsyncEngine,
    *,
    draft_id: int,
    actor: Actor,
    department: Department,
    now: datetime,
    seen_version: str | None = None,
) -> None:
    """Approve the draft as the approver saw it: an edit made since (whose refreshed message
    may not have reached their screen yet) is refused, not approved unread."""
    if not department.requires_approval:
        raise InvalidTransition("no_approval_needed")

    def work(conn: Connection) -> Any:
        draft = _draft(conn, draft_id)
        # Four eyes: nobody who wrote any of the text (its author, anyone who edited it)
        # approves it.
        if draft.author_id == actor.id or actor.id in (draft.editor_ids or []):
            raise InvalidTransition("own_draft")
        if draft.status != DraftStatus.DRAFT:
            raise InvalidTransition(f"draft_{draft.status}")
        # An approval names the version it read; one that names none approves nothing.
        if seen_version is None or seen_version != draft_version(draft):
            raise InvalidTransition("draft_changed")
        case = lock_case(conn, case_id=draft.case_id)
        assert case is not None
        conn.execute(
            update(DRAFTS)
            .where(DRAFTS.c.id == draft_id)
            .values(status=DraftStatus.APPROVED, approved_by=actor.id, updated_at=now)
        )
        _queue_draft_message(conn, case=case, draft_id=draft_id, now=now)
        record(
            conn,
            case=case,
            event="draft_approved",
            actor=actor,
            now=now,
            detail={"draft_id": draft_id},
        )

    return await unit_of_work(engine).run(work)


async def mark_sent(
    engine: AsyncEngine,
    *,
    draft_id: int,
    actor: Actor,
    url: str | None,
    department: Department,
    now: datetime,
    sent_by_us: bool = False,
) -> Row[Any]:
    """Record that the reply is out: the case is answered, its first response time is set.
    `sent_by_us`: Send published it (the draft was taken for sending, see begin_sending);
    otherwise someone says they posted it by hand, which waits while Send is under way (the
    customer would get the reply twice, and the record would name the wrong link)."""

    def work(conn: Connection) -> Any:
        draft = _draft(conn, draft_id)
        if draft.status == DraftStatus.SENT:
            raise InvalidTransition("draft_sent")
        sending_since = draft.sent_at or draft.updated_at
        if draft.status == DraftStatus.SENDING and not sent_by_us and now - sending_since < STUCK:
            raise InvalidTransition("draft_sending")
        was_approved = draft.status in (DraftStatus.APPROVED, DraftStatus.SENDING)
        if department.requires_approval and not was_approved:
            raise InvalidTransition("needs_approval")
        case = lock_case(conn, case_id=draft.case_id)
        check(Action.REPLY_SENT, case, actor)
        assert case is not None
        conn.execute(
            update(DRAFTS)
            .where(DRAFTS.c.id == draft_id)
            .values(status=DraftStatus.SENT, sent_at=now, sent_url=url, updated_at=now)
        )
        _queue_draft_message(conn, case=case, draft_id=draft_id, now=now)
        # The thread line names the draft's author: it is their reply that went out.
        return transition(
            conn,
            Action.REPLY_SENT,
            case=case,
            actor=actor,
            now=now,
            note={"actor": draft.author_name, "url": url or ""},
            detail={"draft_id": draft_id, "url": url, "first": case.first_response_at is None},
        )

    return await unit_of_work(engine).run(work)


async def begin_sending(
    engine: AsyncEngine, *, draft_id: int, department: Department, now: datetime
) -> tuple[str, Row[Any]]:
    """Take the draft for sending (two clicks on Send: one wins); returns its status before
    and the draft as taken: that text is what goes out (an edit saved just before is in it,
    and none can follow, see save_draft)."""
    ready = (
        (DraftStatus.APPROVED,)
        if department.requires_approval
        else (DraftStatus.DRAFT, DraftStatus.APPROVED)
    )

    def work(conn: Connection) -> tuple[str, Row[Any]]:
        draft = _draft(conn, draft_id)
        taken = conn.execute(
            update(DRAFTS)
            .where(DRAFTS.c.id == draft_id, DRAFTS.c.status.in_(ready))
            # sent_at holds when the send began until it is recorded (its text and version,
            # updated_at, stay: a retried send looks for what went out since then).
            .values(status=DraftStatus.SENDING, sent_at=now)
        )
        if not taken.rowcount:
            # Read again: a concurrent Send may have taken it after our first read.
            now_status = _draft(conn, draft_id).status
            if now_status == DraftStatus.DRAFT:
                raise InvalidTransition("needs_approval")
            raise InvalidTransition(f"draft_{now_status}")
        return str(draft.status), _draft(conn, draft_id)

    return await unit_of_work(engine).run(work)


async def abort_sending(engine: AsyncEngine, *, draft_id: int, back_to: str) -> None:
    """Sending failed: the draft is as it was and may be sent again."""

    def work(conn: Connection) -> None:
        conn.execute(
            update(DRAFTS)
            .where(DRAFTS.c.id == draft_id, DRAFTS.c.status == DraftStatus.SENDING)
            .values(status=back_to, sent_at=None)
        )

    await unit_of_work(engine).run(work)


async def get_draft(engine: AsyncEngine, *, draft_id: int) -> Row[Any]:
    async with engine.connect() as conn:
        return await conn.run_sync(_draft, draft_id)


def _draft(conn: Connection, draft_id: int) -> Row[Any]:
    draft = conn.execute(select(DRAFTS).where(DRAFTS.c.id == draft_id)).first()
    if draft is None:
        raise InvalidTransition("not_found")
    return draft


def _queue_draft_message(conn: Connection, *, case: CaseRow, draft_id: int, now: datetime) -> None:
    enqueue(
        conn,
        kind=JobKind.POST_DRAFT,
        channel=case.slack_channel,
        case_id=case.id,
        payload={"draft_id": draft_id},
        now=now,
    )


def limits_text(limit: int | None) -> str:
    return "∞" if limit is None else str(limit)
