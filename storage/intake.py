"""Storing incoming mentions in one transaction: dedupe, thread into cases, queue the cards.

Synchronous on purpose: the whole unit of work runs in one go (through `run_sync` on
PostgreSQL, in a worker thread with the stdlib driver on SQLite, see storage.db.run_unit),
instead of one thread hop per statement through aiosqlite.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from storage.models import OPEN_STATUSES, JobKind
from storage.outbox import enqueue_card_update
from storage.tables import CASES, EVENTS, MENTIONS, OUTBOX


class AuthorLike(Protocol):
    handle: str
    name: str | None
    followers: int | None
    url: Any


class MentionLike(Protocol):
    """What storage needs of a mention (bot.mentions.MentionIn has it)."""

    source: str
    external_id: str
    url: Any
    text: str
    created_at: datetime
    author: AuthorLike
    addressed: bool
    private: bool
    language: str | None
    in_reply_to: str | None


@dataclass(frozen=True, slots=True)
class Incoming:
    """A validated mention with the routing decision made for it."""

    mention: MentionLike
    department: str
    channel: str
    priority: str
    tags: tuple[str, ...]
    rule: str | None
    sla_due_at: datetime
    sla_warn_at: datetime  # when an unclaimed case gets a warning (business time)


@dataclass(frozen=True, slots=True)
class Stored:
    case_id: int
    duplicate: bool
    new_case: bool


def _key(m: MentionLike) -> tuple[str, str]:
    return (m.source, m.external_id)


def _author(m: MentionLike) -> tuple[str, str]:
    return (m.source, m.author.handle)


@dataclass(frozen=True, slots=True)
class _Existing:
    """A case a new mention by its customer joins."""

    id: int
    channel: str
    owner_id: str | None
    resolved: bool  # recently resolved: the mention reopens it


def store_incoming(
    conn: Connection, *, items: Sequence[Incoming], now: datetime, reopen_after: datetime
) -> list[Stored]:
    """Store a batch in the caller's transaction; one `Stored` per item, in order.

    A mention joins its author's open case on the same source, or reopens one resolved after
    `reopen_after`; otherwise it opens a new case.
    """
    known = _existing_mentions(conn, [_key(i.mention) for i in items])
    fresh: list[Incoming] = []
    seen: set[tuple[str, str]] = set()
    for item in items:
        key = _key(item.mention)
        if key not in known and key not in seen:
            seen.add(key)
            fresh.append(item)

    existing = _cases_to_join(conn, {_author(i.mention) for i in fresh}, reopen_after=reopen_after)
    first_of_author: dict[tuple[str, str], Incoming] = {}
    for item in fresh:
        if _author(item.mention) not in existing:
            first_of_author.setdefault(_author(item.mention), item)
    new_case_ids = _insert_cases(conn, list(first_of_author.values()), now)
    case_of = {author: case.id for author, case in existing.items()}
    case_of |= dict(zip(first_of_author, new_case_ids, strict=True))

    mention_ids = _insert_mentions(conn, fresh, case_of, now)
    firsts = {id(item) for item in first_of_author.values()}
    joined = {case.id: case for case in existing.values()}
    _record_mentions(conn, fresh, mention_ids, case_of, firsts, joined, now)

    stored_now = {
        _key(item.mention): Stored(case_of[_author(item.mention)], False, id(item) in firsts)
        for item in fresh
    }
    results = []
    for item in items:
        key = _key(item.mention)
        if key in stored_now:
            results.append(stored_now.pop(key))
        else:  # stored before, or earlier in this same batch
            case_id = known.get(key) or case_of[_author(item.mention)]
            results.append(Stored(case_id, duplicate=True, new_case=False))
    return results


# Hot-path statements are built once: building and cache-keying a statement costs more than
# SQLite needs to run it.
_KNOWN_MENTIONS = select(MENTIONS.c.external_id, MENTIONS.c.case_id).where(
    MENTIONS.c.source == bindparam("source"),
    MENTIONS.c.external_id.in_(bindparam("ids", expanding=True)),
)
_CASES_TO_JOIN = (
    select(
        CASES.c.id,
        CASES.c.source,
        CASES.c.author_handle,
        CASES.c.slack_channel,
        CASES.c.owner_id,
        CASES.c.status,
    )
    .where(
        CASES.c.source == bindparam("source"),
        CASES.c.author_handle.in_(bindparam("handles", expanding=True)),
        or_(
            CASES.c.status.in_(OPEN_STATUSES),
            and_(CASES.c.status == "resolved", CASES.c.resolved_at >= bindparam("after")),
        ),
    )
    .order_by(CASES.c.id)
)
_INSERT_CASES = insert(CASES).returning(CASES.c.id, CASES.c.source, CASES.c.author_handle)
_INSERT_MENTIONS = insert(MENTIONS).returning(
    MENTIONS.c.id, MENTIONS.c.source, MENTIONS.c.external_id
)
_INSERT_EVENTS = insert(EVENTS)
_INSERT_JOBS = insert(OUTBOX)


def _existing_mentions(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for source, ids in _by_source(keys):
        rows = conn.execute(_KNOWN_MENTIONS, {"source": source, "ids": ids})
        found.update({(source, r.external_id): r.case_id for r in rows})
    return found


def _by_source(keys: Iterable[tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """(source, [ids]) in chunks: `source = ? AND id IN (...)` uses the index on both columns,
    where SQLite does not use it for a two-column tuple IN."""
    grouped: dict[str, list[str]] = {}
    for source, value in dict.fromkeys(keys):
        grouped.setdefault(source, []).append(value)
    for source, values in grouped.items():
        for start in range(0, len(values), 500):
            yield source, values[start : start + 500]


def _cases_to_join(
    conn: Connection, authors: set[tuple[str, str]], *, reopen_after: datetime
) -> dict[tuple[str, str], _Existing]:
    found: dict[tuple[str, str], _Existing] = {}
    for source, handles in _by_source(sorted(authors)):
        rows = conn.execute(
            _CASES_TO_JOIN, {"source": source, "handles": handles, "after": reopen_after}
        )
        for r in rows:
            author, resolved = (r.source, r.author_handle), r.status == "resolved"
            if resolved and author in found:
                continue  # an open case wins over a resolved one
            found[author] = _Existing(r.id, r.slack_channel, r.owner_id, resolved)
    return found


def _insert_cases(conn: Connection, items: list[Incoming], now: datetime) -> list[int]:
    if not items:
        return []
    rows = []
    for item in items:
        m = item.mention
        opened = min(m.created_at, now)
        rows.append(
            {
                "department": item.department,
                "status": "new",
                "priority": item.priority,
                "tags": list(item.tags),
                "rule": item.rule,
                "source": m.source,
                "author_handle": m.author.handle,
                "author_name": m.author.name,
                "author_followers": m.author.followers,
                "author_url": str(m.author.url) if m.author.url else None,
                "reactive": m.addressed,
                "private": m.private,
                "opened_at": opened,
                "last_mention_at": opened,
                "sla_due_at": item.sla_due_at,
                "sla_warn_at": item.sla_warn_at,
                "mention_count": 1,
                # The queue its Slack messages go through; Slack confirms the id on posting.
                "slack_channel": item.channel,
            }
        )
    # Match ids by key: asking SQLAlchemy to keep parameter order makes it insert row by row.
    result = conn.execute(_INSERT_CASES, rows)
    ids = {(r.source, r.author_handle): r.id for r in result}
    return [ids[(row["source"], row["author_handle"])] for row in rows]


def _insert_mentions(
    conn: Connection,
    items: list[Incoming],
    case_of: dict[tuple[str, str], int],
    now: datetime,
) -> list[int]:
    if not items:
        return []
    rows = [
        {
            "case_id": case_of[_author(item.mention)],
            "source": item.mention.source,
            "external_id": item.mention.external_id,
            "url": str(item.mention.url) if item.mention.url else None,
            "text": item.mention.text,
            "author_handle": item.mention.author.handle,
            "language": item.mention.language,
            "addressed": item.mention.addressed,
            "private": item.mention.private,
            "in_reply_to": item.mention.in_reply_to,
            "created_at": item.mention.created_at,
            "received_at": now,
        }
        for item in items
    ]
    result = conn.execute(_INSERT_MENTIONS, rows)
    ids = {(r.source, r.external_id): r.id for r in result}
    return [ids[(row["source"], row["external_id"])] for row in rows]


def _record_mentions(
    conn: Connection,
    items: list[Incoming],
    mention_ids: list[int],
    case_of: dict[tuple[str, str], int],
    firsts: set[int],
    joined: dict[int, _Existing],
    now: datetime,
) -> None:
    """Audit events, case changes and outbox jobs for the mentions just stored."""
    events, jobs, added_to = [], [], {}
    # A new case's later mentions in the same batch follow its card, wherever they would route.
    new_case_channel = {
        case_of[_author(item.mention)]: item.channel for item in items if id(item) in firsts
    }
    for item, mention_id in zip(items, mention_ids, strict=True):
        case_id = case_of[_author(item.mention)]
        job = {"case_id": case_id, "not_before": now, "created_at": now, "dedupe_key": None}
        if id(item) in firsts:
            events.append(_event(case_id, "opened", None, "new", now, mention_id))
            jobs.append(
                {
                    **job,
                    "kind": JobKind.POST_CARD,
                    "channel": item.channel,
                    "payload": None,
                    "mention_id": None,
                    "dedupe_key": f"card-post:{case_id}",
                }
            )
            continue
        case = joined.get(case_id)
        events.append(_event(case_id, "mention_added", None, None, now, mention_id))
        # The owner (or, for a reopened case, the previous owner) is pinged in the thread.
        ping = case.owner_id if case else None
        jobs.append(
            {
                **job,
                "kind": JobKind.POST_MENTION,
                "mention_id": mention_id,
                "channel": case.channel if case else new_case_channel[case_id],
                "payload": {"ping": ping} if ping else None,
            }
        )
        added_to.setdefault(case_id, []).append(item)

    for case_id, added in added_to.items():
        case = joined.get(case_id)
        latest = max(min(i.mention.created_at, now) for i in added)
        values: dict[str, Any] = {
            "mention_count": CASES.c.mention_count + len(added),
            "last_mention_at": func.max(CASES.c.last_mention_at, latest)
            if conn.dialect.name == "sqlite"
            else func.greatest(CASES.c.last_mention_at, latest),
        }
        if case and case.resolved:
            # The customer is back: the case reopens, unowned, with a fresh deadline.
            values |= {
                "status": "reopened",
                "resolved_at": None,
                "owner_id": None,
                "owner_name": None,
                "claimed_at": None,
                "sla_due_at": added[0].sla_due_at,
                "sla_warn_at": added[0].sla_warn_at,
                "sla_warned_at": None,
                "sla_breached_at": None,
            }
            events.append(
                {
                    **_event(case_id, "reopened", "resolved", "reopened", now, None),
                    "detail": {"reason": "customer wrote again", "previous_owner": case.owner_id},
                }
            )
        conn.execute(update(CASES).where(CASES.c.id == case_id).values(**values))
        if case is not None:
            enqueue_card_update(conn, case_id=case_id, channel=case.channel, now=now)
    if events:
        conn.execute(_INSERT_EVENTS, events)
    if jobs:
        conn.execute(_INSERT_JOBS, jobs)


def _event(
    case_id: int,
    kind: str,
    before: str | None,
    after: str | None,
    at: datetime,
    mention: int | None,
) -> dict[str, object]:
    return {
        "case_id": case_id,
        "kind": kind,
        "from_status": before,
        "to_status": after,
        "actor": "system",
        "at": at,
        "detail": {"mention_id": mention},
    }
