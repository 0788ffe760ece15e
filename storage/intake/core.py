"""The ingest batch's statements through SQLAlchemy Core: PostgreSQL's base (storage.intake.postgres
sends its INSERTs as arrays), and SQLite's when asked (tests compare it with the raw path)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.engine import Connection

from storage.intake.rows import (
    CaseChange,
    Deadline,
    Event,
    Existing,
    Incoming,
    Job,
    Known,
    Upgrade,
    by_source,
    join_rows,
)
from storage.outbox import enqueue_card_update
from storage.statuses import AWAITING_FIRST_ANSWER, INITIAL_STATUS, OPEN_SQL, RESOLVED_SQL
from storage.tables import CASES, EVENTS, MENTIONS, OUTBOX

# Hot-path statements are built once: building and cache-keying a statement costs more than
# SQLite needs to run it.
_KNOWN_MENTIONS = select(
    MENTIONS.c.external_id,
    MENTIONS.c.case_id,
    MENTIONS.c.id,
    MENTIONS.c.addressed,
    MENTIONS.c.private,
).where(
    MENTIONS.c.source == bindparam("source"),
    MENTIONS.c.external_id.in_(bindparam("ids", expanding=True)),
)


_AUTHORS = select(
    CASES.c.id,
    CASES.c.source,
    CASES.c.author_handle,
    CASES.c.slack_channel,
    CASES.c.owner_id,
    CASES.c.status,
    CASES.c.reactive,
).where(
    CASES.c.source == bindparam("source"),
    CASES.c.author_handle.in_(bindparam("handles", expanding=True)),
)


# Open cases, then recently resolved ones, each through its partial index (their conditions
# written as the indexes write them).
_CASES_TO_JOIN = union_all(
    _AUTHORS.where(text(OPEN_SQL)),
    _AUTHORS.where(text(RESOLVED_SQL), CASES.c.resolved_at >= bindparam("after")),
)


_INSERTS: dict[tuple[str, tuple[str, ...]], Any] = {}  # built once per table and RETURNING


# A case that has no deadline yet (proactive) and still awaits its first answer.
_WITHOUT_DEADLINE = and_(
    CASES.c.sla_due_at.is_(None),
    CASES.c.first_response_at.is_(None),
    CASES.c.status.in_(AWAITING_FIRST_ANSWER),
)


# A case we answered: a message addressed to us now means the customer waits again.
_ANSWERED = CASES.c.answered_at.is_not(None)


def _deadline_if_none(deadline: Deadline, *, addressed: bool) -> dict[str, Any]:
    """Values giving `deadline` to a case without one that awaits its first answer, and, for a
    message `addressed` to us, to a case we answered: the customer waits again, from it."""
    due, warn = CASES.c.sla_due_at, CASES.c.sla_warn_at
    gets = or_(_WITHOUT_DEADLINE, _ANSWERED) if addressed else _WITHOUT_DEADLINE
    values: dict[str, Any] = {
        "sla_due_at": case((gets, literal(deadline.due, due.type)), else_=due),
        "sla_warn_at": case((gets, literal(deadline.warn, warn.type)), else_=warn),
    }
    if addressed:
        for name in ("sla_warned_at", "sla_breached_at"):
            values[name] = case((_ANSWERED, null()), else_=CASES.c[name])
        values["answered_at"] = null()
    return values


class CoreWriter:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def known_mentions(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Known]:
        found: dict[tuple[str, str], Known] = {}
        for source, ids in by_source(keys):
            rows = self.conn.execute(_KNOWN_MENTIONS, {"source": source, "ids": ids})
            found.update(
                {
                    (source, r.external_id): Known(
                        r.case_id, r.id, bool(r.addressed), bool(r.private)
                    )
                    for r in rows
                }
            )
        return found

    def upgrade(self, upgrades: list[Upgrade], now: datetime) -> None:
        for u in upgrades:
            self.conn.execute(
                update(MENTIONS)
                .where(MENTIONS.c.id == u.mention_id)
                .values(addressed=u.addressed, private=u.private)
            )
            changed: dict[str, Any] = {"reactive": True} if u.addressed else {}
            changed |= {"private": True} if u.private else {}
            if u.deadline is not None:  # the same message seen again: no new wait
                changed |= _deadline_if_none(u.deadline, addressed=False)
            channel = self.conn.execute(
                update(CASES)
                .where(CASES.c.id == u.case_id)
                .values(**changed)
                .returning(CASES.c.slack_channel)
            ).scalar_one()
            enqueue_card_update(self.conn, case_id=u.case_id, channel=channel, now=now)

    def cases_to_join(
        self, authors: Iterable[tuple[str, str]], reopen_after: datetime
    ) -> dict[tuple[str, str], Existing]:
        rows: list[Sequence[Any]] = []
        for source, handles in by_source(sorted(authors)):
            params = {"source": source, "handles": handles, "after": reopen_after}
            rows += self.conn.execute(_CASES_TO_JOIN, params).all()
        return join_rows(sorted(rows, key=lambda r: r[0]))

    def insert_cases(self, items: list[Incoming], now: datetime) -> list[int]:
        rows = []
        for item in items:
            m = item.mention
            opened = min(m.created_at, now)
            rows.append(
                {
                    "department": item.department,
                    "status": INITIAL_STATUS,
                    "priority": item.priority,
                    "tags": list(item.tags),
                    "rule": item.rule,
                    "source": m.source,
                    "author_handle": m.author.handle,
                    "author_name": m.author.name,
                    "author_followers": m.author.followers,
                    "author_url": m.author.stored_url,
                    "reactive": m.addressed,
                    "private": m.private,
                    "opened_at": opened,
                    "last_mention_at": opened,
                    "last_received_at": now,
                    "sla_due_at": item.sla_due_at,
                    "sla_warn_at": item.sla_warn_at,
                    "mention_count": 1,
                    # The queue its Slack messages go through; Slack confirms the id on posting.
                    "slack_channel": item.channel,
                }
            )
        # Match ids by key: asking SQLAlchemy to keep parameter order makes it insert row by row.
        result = self._insert_many(CASES, rows, returning=("id", "source", "author_handle"))
        ids = {(r[1], r[2]): r[0] for r in result}
        return [ids[(row["source"], row["author_handle"])] for row in rows]

    def insert_mentions(
        self, items: list[Incoming], case_ids: list[int], now: datetime
    ) -> list[int]:
        rows = [
            {
                "case_id": case_id,
                "source": item.mention.source,
                "external_id": item.mention.external_id,
                "url": str(item.mention.url) if item.mention.url else None,
                "text": item.mention.text,
                "raw_text": item.mention.raw_text,
                "author_handle": item.mention.author.handle,
                "language": item.mention.language,
                "language_detected": item.mention.language_detected,
                "addressed": item.mention.addressed,
                "private": item.mention.private,
                "in_reply_to": item.mention.in_reply_to,
                "created_at": item.mention.created_at,
                "received_at": now,
            }
            for item, case_id in zip(items, case_ids, strict=True)
        ]
        result = self._insert_many(MENTIONS, rows, returning=("id", "source", "external_id"))
        ids = {(r[1], r[2]): r[0] for r in result}
        return [ids[(row["source"], row["external_id"])] for row in rows]

    def record(
        self, changes: list[CaseChange], events: list[Event], jobs: list[Job], now: datetime
    ) -> None:
        conn = self.conn
        greatest = func.max if conn.dialect.name == "sqlite" else func.greatest
        for change in changes:
            values: dict[str, Any] = {
                "mention_count": CASES.c.mention_count + change.added,
                "last_mention_at": greatest(CASES.c.last_mention_at, min(change.latest, now)),
                "last_received_at": now,
            }
            if change.addressed:
                values["reactive"] = True
            if change.reopen:
                values |= change.reopen
            elif change.deadline is not None:
                values |= _deadline_if_none(change.deadline, addressed=change.addressed)
            conn.execute(update(CASES).where(CASES.c.id == change.case_id).values(**values))
            if change.card_channel is not None:
                enqueue_card_update(
                    conn, case_id=change.case_id, channel=change.card_channel, now=now
                )
        if events:
            self._insert_many(
                EVENTS, [{**e._asdict(), "actor": "system", "at": now} for e in events]
            )
        if jobs:
            self._insert_many(
                OUTBOX, [{**j._asdict(), "not_before": now, "created_at": now} for j in jobs]
            )

    def _insert_many(
        self, table: Table, rows: list[dict[str, Any]], returning: tuple[str, ...] = ()
    ) -> Sequence[Sequence[Any]]:
        """Insert `rows` (all with the same keys); the `returning` columns of each new row."""
        if not returning:
            self.conn.execute(insert(table), rows)
            return []
        statement = _INSERTS.get((table.name, returning))
        if statement is None:
            statement = insert(table).returning(*(table.c[name] for name in returning))
            _INSERTS[(table.name, returning)] = statement
        return self.conn.execute(statement, rows).all()
