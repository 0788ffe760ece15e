"""Storing incoming mentions in one transaction: dedupe, thread into cases, queue the cards.

Synchronous on purpose: the whole unit of work runs in one go (through `run_sync` on
PostgreSQL; on SQLite with the stdlib driver, in the writer thread or, for a short batch, on
the event loop, see storage.db.UnitOfWork), instead of one thread hop per statement through
aiosqlite.

What happens to a batch is decided here, once, for both databases; the statements are
written by a `Writer`: SQLAlchemy Core (`CoreWriter`, any database) or the raw sqlite3 driver
(`storage.intake.sqlite.SqliteWriter`, the webhook's hot path on SQLite).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.engine import Connection

from storage.enqueue import card_post_key
from storage.outbox import enqueue_card_update
from storage.sla import AWAITING_FIRST_ANSWER
from storage.statuses import CARD_RANKS, INITIAL_STATUS, OPEN_SQL, RESOLVED_SQL, JobKind
from storage.tables import CASES, EVENTS, MENTIONS, OUTBOX


class AuthorLike(Protocol):
    handle: str
    name: str | None
    followers: int | None
    url: Any


class MentionLike(Protocol):
    """What storage needs of a mention (bot.intake.mentions.MentionIn has it)."""

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


@dataclass(slots=True)  # not frozen: one is built for every mention, and frozen costs
class Incoming:
    """A validated mention with the routing decision made for it."""

    mention: MentionLike
    department: str
    channel: str
    priority: str
    tags: tuple[str, ...]
    rule: str | None
    # None: a proactive mention (about us, not addressed to us) no rule gives a deadline.
    sla_due_at: datetime | None
    sla_warn_at: datetime | None  # when an unclaimed case gets a warning (business time)
    start: datetime  # when its response clock starts (bot.intake.deadlines.clock_start)
    # (due, warning) for a clock started at a moment: the deadline it would give its case
    # once the case is addressed to us (a later sighting, a reopened reactive case).
    deadlines: Callable[[datetime], tuple[datetime, datetime]]

    @property
    def deadline(self) -> Deadline | None:
        if self.sla_due_at is None or self.sla_warn_at is None:
            return None
        return Deadline(self.sla_due_at, self.sla_warn_at)


class Deadline(NamedTuple):
    due: datetime
    warn: datetime


class Stored(NamedTuple):
    case_id: int
    duplicate: bool
    new_case: bool


class Known(NamedTuple):
    """A mention stored before: its case, and what it was taken for."""

    case_id: int
    mention_id: int
    addressed: bool
    private: bool


class Upgrade(NamedTuple):
    """A stored mention seen again as addressed (or private): its flags become these."""

    mention_id: int
    case_id: int
    addressed: bool
    private: bool
    # Newly addressed: the deadline, from now, its case gets if it has none and is unanswered.
    deadline: Deadline | None = None


class Existing(NamedTuple):
    """A case a new mention by its customer joins."""

    id: int
    channel: str
    owner_id: str | None
    status: str  # open, or recently resolved: then the mention reopens it
    reactive: bool  # addressed to us: reopened, it gets a deadline again

    @property
    def resolved(self) -> bool:
        return self.status == "resolved"


class Event(NamedTuple):
    """An audit event to insert (actor "system", at the batch's `now`)."""

    case_id: int
    kind: str
    from_status: str | None
    to_status: str | None
    detail: dict[str, Any]


class Job(NamedTuple):
    """An outbox job to insert (pending, not before the batch's `now`)."""

    kind: str
    case_id: int
    mention_id: int | None
    channel: str
    payload: dict[str, Any] | None
    dedupe_key: str | None
    rank: int | None = None  # a new card of an urgent or high case (storage.statuses.CARD_RANKS)


class Reopening(NamedTuple):
    """What the state machine decided for a resolved case its customer came back to."""

    values: dict[str, Any]  # the case's new columns (status, owner, dates, deadline)
    event: Event


# The decision for a resolved case, a fresh deadline for it (None: none), the batch's time:
# bot.cases.state_machine.customer_return, passed in by the ingest (storage decides nothing).
DecideReturn = Callable[[Existing, "Deadline | None", datetime], Reopening]


class CaseChange(NamedTuple):
    """Mentions added to a case that existed before the batch."""

    case_id: int
    added: int
    latest: datetime  # the newest added mention's time (never in the future)
    reopen: dict[str, Any] | None  # the case was resolved: the values it reopens with
    # Not reopened: given to the case if it has none and awaits its first answer (an
    # addressed mention joined a proactive case).
    deadline: Deadline | None
    addressed: bool  # an added mention is addressed to us: the case becomes reactive
    card_channel: str | None  # refresh the card in this channel


class Writer(Protocol):
    """The statements of one ingest batch, in the caller's transaction."""

    def known_mentions(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Known]:
        """Each (source, external_id) already stored."""
        ...

    def upgrade(self, upgrades: list[Upgrade], now: datetime) -> None:
        """Set the mentions' flags, make their cases reactive (or private) too, and queue
        those cases' card refreshes."""
        ...

    def cases_to_join(
        self, authors: Iterable[tuple[str, str]], reopen_after: datetime
    ) -> dict[tuple[str, str], Existing]:
        """Each (source, handle)'s open case, else the one resolved after `reopen_after`."""
        ...

    def insert_cases(self, items: list[Incoming], now: datetime) -> list[int]: ...

    def insert_mentions(
        self, items: list[Incoming], case_ids: list[int], now: datetime
    ) -> list[int]: ...

    def record(
        self, changes: list[CaseChange], events: list[Event], jobs: list[Job], now: datetime
    ) -> None:
        """Apply the case changes (and card refreshes), then insert events, then jobs."""
        ...


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
        from storage.intake.postgres import PgWriter

        return _store(PgWriter(conn, items, reopen_after), items, now, reopen_after, returned)
    if not fast:
        return _store(CoreWriter(conn), items, now, reopen_after, returned)
    from storage.intake.sqlite import SqliteWriter

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


def by_source(keys: Iterable[tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """(source, [ids]) in chunks: `source = ? AND id IN (...)` uses the index on both columns,
    where SQLite does not use it for a two-column tuple IN."""
    grouped: dict[str, list[str]] = {}
    for source, value in dict.fromkeys(keys):
        grouped.setdefault(source, []).append(value)
    for source, values in grouped.items():
        for start in range(0, len(values), 500):
            yield source, values[start : start + 500]


def join_rows(rows: Iterable[Sequence[Any]]) -> dict[tuple[str, str], Existing]:
    """Rows (id, source, handle, channel, owner, status, reactive), by id: an open case wins."""
    found: dict[tuple[str, str], Existing] = {}
    for case_id, source, handle, channel, owner, status, reactive in rows:
        author, resolved = (source, handle), status == "resolved"
        if resolved and author in found:
            continue  # an open case wins over a resolved one
        found[author] = Existing(case_id, channel, owner, status, bool(reactive))
    return found


# -- SQLAlchemy Core (PostgreSQL, and SQLite when asked) ------------------------------------

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


def _deadline_if_none(deadline: Deadline) -> dict[str, Any]:
    """Values giving `deadline` to a case without one that awaits its first answer."""
    due, warn = CASES.c.sla_due_at, CASES.c.sla_warn_at
    return {
        "sla_due_at": case((_WITHOUT_DEADLINE, literal(deadline.due, due.type)), else_=due),
        "sla_warn_at": case((_WITHOUT_DEADLINE, literal(deadline.warn, warn.type)), else_=warn),
    }


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
            if u.deadline is not None:
                changed |= _deadline_if_none(u.deadline)
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
                values |= _deadline_if_none(change.deadline)
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
