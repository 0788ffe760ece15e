"""Storing incoming mentions in one transaction: dedupe, thread into cases, queue the cards.

Synchronous on purpose: the whole unit of work runs in one go (through `run_sync` on
PostgreSQL; on SQLite with the stdlib driver, in the writer thread or, for a short batch, on
the event loop, see storage.db.UnitOfWork), instead of one thread hop per statement through
aiosqlite.

What happens to a batch is decided here, once, for both databases; the statements are
written by a `Writer`: SQLAlchemy Core (`CoreWriter`, any database) or the raw sqlite3 driver
(`storage.intake.sqlite.SqliteWriter`, the webhook's hot path on SQLite)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from storage.enqueue import card_post_key
from storage.intake.core import CoreWriter
from storage.intake.postgres import PgWriter
from storage.intake.rows import (
    CaseChange,
    Deadline,
    DecideReturn,
    Event,
    Existing,
    Incoming,
    Job,
    Known,
    Stored,
    Upgrade,
    Writer,
)
from storage.intake.sqlite import SqliteWriter
from storage.statuses import CARD_RANKS, INITIAL_STATUS, JobKind


def store_incoming(
    conn: Connection,
    *,
    items: Sequence[Incoming],
    now: datetime,
    reopen_after: datetime,
    returned: DecideReturn,
    fast: bool | None = None,
) -> list[Stored]:
    """Store a batch in the caller's transaction; one `Stored` per item, in order.

    A mention joins its author's open case on the same source, or reopens one resolved after
    `reopen_after` as `returned` decides; otherwise it opens a new case. `fast` (the default)
    inserts through the driver (raw sqlite3; asyncpg with one array per column) instead of
    SQLAlchemy Core; the rows are the same. Other PostgreSQL drivers take the Core path.
    """
    if fast is None:
        fast = True
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "asyncpg" and fast:
        return _store(PgWriter(conn, items, reopen_after), items, now, reopen_after, returned)
    if not fast:
        return _store(CoreWriter(conn), items, now, reopen_after, returned)
    # A raw sqlite3 error is raised as SQLAlchemy's by the unit of work (storage.db).
    return _store(SqliteWriter(conn), items, now, reopen_after, returned)


def _store(
    db: Writer,
    items: Sequence[Incoming],
    now: datetime,
    reopen_after: datetime,
    returned: DecideReturn,
) -> list[Stored]:
    keys = [(i.mention.source, i.mention.external_id) for i in items]
    known = db.known_mentions(keys)
    fresh: list[Incoming] = []
    fresh_keys: list[tuple[str, str]] = []
    fresh_authors: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for item, key in zip(items, keys, strict=True):
        if key not in known and key not in seen:
            seen.add(key)
            fresh.append(item)
            fresh_keys.append(key)
            fresh_authors.append((key[0], item.mention.author.handle))

    upgrades = _upgrades(items, keys, known, now)
    if upgrades:
        db.upgrade(upgrades, now)
        events = [
            Event(u.case_id, "mention_upgraded", None, None, _upgrade_detail(u)) for u in upgrades
        ]
        db.record([], events, [], now)

    existing = db.cases_to_join(set(fresh_authors), reopen_after) if fresh else {}
    first_of_author: dict[tuple[str, str], Incoming] = {}
    for item, author in zip(fresh, fresh_authors, strict=True):
        if author not in existing and author not in first_of_author:
            first_of_author[author] = item
    new_case_ids = db.insert_cases(list(first_of_author.values()), now) if first_of_author else []
    case_of = {author: case.id for author, case in existing.items()}
    case_of.update(zip(first_of_author, new_case_ids, strict=True))

    fresh_cases = [case_of[author] for author in fresh_authors]
    mention_ids = db.insert_mentions(fresh, fresh_cases, now) if fresh else []
    firsts = {id(item) for item in first_of_author.values()}
    if fresh:
        changes, events, jobs = _plan_records(
            fresh, fresh_cases, mention_ids, firsts, existing, returned, now
        )
        db.record(changes, events, jobs, now)

    stored_now = {
        key: Stored(case_id, False, id(item) in firsts)
        for item, key, case_id in zip(fresh, fresh_keys, fresh_cases, strict=True)
    }
    case_of_key = dict(zip(fresh_keys, fresh_cases, strict=True))
    results = []
    for key in keys:
        if key in stored_now:
            results.append(stored_now.pop(key))
        else:  # stored before, or earlier in this same batch (maybe under another author)
            case_id = known[key].case_id if key in known else case_of_key[key]
            results.append(Stored(case_id, duplicate=True, new_case=False))
    return results


def _upgrades(
    items: Sequence[Incoming],
    keys: list[tuple[str, str]],
    known: dict[tuple[str, str], Known],
    now: datetime,
) -> list[Upgrade]:
    """Stored mentions this batch shows to be addressed to the brand (or private) after all:
    first seen through a search, now as a mention notification. A case that becomes addressed
    so gets its response deadline counted from now (it had none as a proactive case)."""
    found: dict[tuple[str, str], Upgrade] = {}
    for item, key in zip(items, keys, strict=True):
        was = found.get(key) or known.get(key)
        if was is None:
            continue
        addressed = was.addressed or item.mention.addressed
        private = was.private or item.mention.private
        if (addressed, private) != (was.addressed, was.private):
            deadline = was.deadline if isinstance(was, Upgrade) else None
            if addressed and not was.addressed:
                deadline = Deadline(*item.deadlines(now))
            found[key] = Upgrade(was.mention_id, was.case_id, addressed, private, deadline)
    return list(found.values())


def _upgrade_detail(upgrade: Upgrade) -> dict[str, Any]:
    return {
        "mention_id": upgrade.mention_id,
        "addressed": upgrade.addressed,
        "private": upgrade.private,
    }


def _plan_records(
    items: list[Incoming],
    case_ids: list[int],
    mention_ids: list[int],
    firsts: set[int],
    existing: dict[tuple[str, str], Existing],
    returned: DecideReturn,
    now: datetime,
) -> tuple[list[CaseChange], list[Event], list[Job]]:
    """Audit events, case changes and outbox jobs for the mentions just stored."""
    events: list[Event] = []
    jobs: list[Job] = []
    added_to: dict[int, list[Incoming]] = {}
    joined = {case.id: case for case in existing.values()}
    # A new case's later mentions in the same batch follow its card, wherever they would route.
    new_case_channel: dict[int, str] = {}
    for item, case_id, mention_id in zip(items, case_ids, mention_ids, strict=True):
        if id(item) in firsts:
            new_case_channel[case_id] = item.channel
            events.append(
                Event(case_id, "opened", None, INITIAL_STATUS, {"mention_id": mention_id})
            )
            rank = CARD_RANKS.get(item.priority)
            key = card_post_key(case_id)
            jobs.append(Job(JobKind.POST_CARD, case_id, None, item.channel, None, key, rank))
            continue
        case = joined.get(case_id)
        events.append(Event(case_id, "mention_added", None, None, {"mention_id": mention_id}))
        # The owner (or, for a reopened case, the previous owner) is pinged in the thread.
        ping = case.owner_id if case else None
        channel = case.channel if case else new_case_channel[case_id]
        payload = {"ping": ping} if ping else None
        jobs.append(Job(JobKind.POST_MENTION, case_id, mention_id, channel, payload, None))
        added_to.setdefault(case_id, []).append(item)

    changes = []
    for case_id, added in added_to.items():
        case = joined.get(case_id)
        latest = max(i.mention.created_at for i in added)
        deadline = next((d for i in added if (d := i.deadline) is not None), None)
        reopen = None
        if case is not None and case.resolved:
            # The customer is back: the case reopens with a fresh deadline (a proactive case
            # only when a rule gives it one), as the state machine decides.
            if deadline is None and case.reactive:
                deadline = Deadline(*added[0].deadlines(added[0].start))
            reopening = returned(case, deadline, now)
            events.append(reopening.event)
            reopen = reopening.values
        addressed = any(i.mention.addressed for i in added)
        channel = case.channel if case else None
        changes.append(
            CaseChange(case_id, len(added), latest, reopen, deadline, addressed, channel)
        )
    return changes, events, jobs
