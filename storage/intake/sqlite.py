"""The ingest batch's statements through the raw sqlite3 driver: the webhook's hot path.

Same rows as `storage.intake.store.CoreWriter` (tests/intake/test_intake.py compares the two
databases column by column), on the same connection and in the same transaction, without
SQLAlchemy's per-row parameter processing: that cost more CPU than SQLite needs to store the rows.
Values are converted as SQLAlchemy's SQLite types do (storage.sqlite_codec).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy.engine import Connection

from storage.enqueue import card_update_key
from storage.intake.rows import (
    CaseChange,
    Event,
    Existing,
    Incoming,
    Job,
    Known,
    Upgrade,
    by_source,
    join_rows,
)
from storage.sqlite_codec import case_params, encode_json, sqlite_datetime
from storage.sqlite_codec import json_text as _json
from storage.statuses import (
    AWAITING_FIRST_ANSWER,
    INITIAL_STATUS,
    OPEN_SQL,
    RESOLVED_SQL,
    JobKind,
    sql_in,
)
from storage.tables import CASES

_INITIAL = str(INITIAL_STATUS)
# Rows per multi-row INSERT at most: 20 columns x 256 stays well under SQLite's 32,766
# variables. Batches go in power-of-two chunks, so a few dozen statements cover every size
# (and stay in sqlite3's statement cache, see storage.db) and each costs one step; up to
# _EXACT rows (the webhook's usual group commit) in one statement of their own size.
_CHUNK = 256
_EXACT = 16

_CASE_COLUMNS = (
    "id, department, status, priority, tags, rule, source, author_handle, author_name,"
    " author_followers, author_url, reactive, private, opened_at, last_mention_at,"
    " last_received_at, sla_due_at, sla_warn_at, mention_count, slack_channel"
)
_MENTION_COLUMNS = (
    "id, case_id, source, external_id, url, text, raw_text, author_handle, language,"
    " language_detected, addressed, private, in_reply_to, created_at, received_at"
)
_EVENT_COLUMNS = "case_id, kind, from_status, to_status, actor, at, detail"
_JOB_COLUMNS = (
    "kind, case_id, mention_id, channel, status, attempts, not_before, dedupe_key, created_at,"
    " payload, rank"
)
# A case that has no deadline yet (proactive) and still awaits its first answer.
_AWAITING = sql_in("status", AWAITING_FIRST_ANSWER)
_WITHOUT_DEADLINE = f"sla_due_at IS NULL AND first_response_at IS NULL AND {_AWAITING}"
# Deadline and warning given to such a case (both judged by the row as it was).
_DEADLINE_IF_NONE = (
    f"sla_due_at = CASE WHEN {_WITHOUT_DEADLINE} THEN ? ELSE sla_due_at END,"
    f" sla_warn_at = CASE WHEN {_WITHOUT_DEADLINE} THEN ? ELSE sla_warn_at END"
)

_LAST_IDS = "SELECT (SELECT max(id) FROM cases), (SELECT max(id) FROM mentions)"
# storage.outbox.enqueue_card_update: one waiting refresh per case is enough.
_INSERT_CARD_UPDATE = (
    "INSERT INTO outbox (kind, case_id, channel, status, attempts, not_before, created_at,"
    f" dedupe_key) VALUES ('{JobKind.UPDATE_CARD}', ?, ?, 'pending', 0, ?, ?, ?)"
    " ON CONFLICT (dedupe_key) WHERE status = 'pending' DO NOTHING"
)
_ADD_MENTIONS = (
    "UPDATE cases SET mention_count = mention_count + ?,"
    " last_mention_at = max(last_mention_at, ?), last_received_at = ? WHERE id = ?"
)
# Mentions addressed to us: the case becomes reactive, and gets a deadline if it has none.
_ADD_ADDRESSED = (
    "UPDATE cases SET mention_count = mention_count + ?,"
    " last_mention_at = max(last_mention_at, ?), last_received_at = ?,"
    f" reactive = max(reactive, ?), {_DEADLINE_IF_NONE} WHERE id = ?"
)
_UPGRADE_MENTION = "UPDATE mentions SET addressed = ?, private = ? WHERE id = ?"
# A later sighting only adds: addressed makes the case reactive, private makes it private.
_UPGRADE_CASE = (
    "UPDATE cases SET reactive = max(reactive, ?), private = max(private, ?) WHERE id = ?"
    " RETURNING slack_channel"
)
# Newly addressed: also the deadline, counted from now, if the case has none.
_UPGRADE_CASE_DEADLINE = (
    "UPDATE cases SET reactive = max(reactive, ?), private = max(private, ?),"
    f" {_DEADLINE_IF_NONE} WHERE id = ? RETURNING slack_channel"
)
# Addressed to us: also, on a case we answered, the customer waits again, from this message.
_ANSWERED = "answered_at IS NOT NULL"
_ADD_AGAIN = (
    "UPDATE cases SET mention_count = mention_count + ?,"
    " last_mention_at = max(last_mention_at, ?), last_received_at = ?,"
    " reactive = max(reactive, ?),"
    f" sla_due_at = CASE WHEN ({_WITHOUT_DEADLINE}) OR {_ANSWERED} THEN ? ELSE sla_due_at END,"
    f" sla_warn_at = CASE WHEN ({_WITHOUT_DEADLINE}) OR {_ANSWERED} THEN ? ELSE sla_warn_at END,"
    f" sla_warned_at = CASE WHEN {_ANSWERED} THEN NULL ELSE sla_warned_at END,"
    f" sla_breached_at = CASE WHEN {_ANSWERED} THEN NULL ELSE sla_breached_at END,"
    " answered_at = NULL WHERE id = ?"
)
# The customer is back: mentions added, and the values the state machine decided.
_ADD_AND_REOPEN = (
    "UPDATE cases SET mention_count = mention_count + ?, last_mention_at = max(last_mention_at, ?),"
    " last_received_at = ?, reactive = max(reactive, ?), {} WHERE id = ?"
)


@cache
def _reopen_sql(keys: tuple[str, ...]) -> str:
    unknown = set(keys) - set(CASES.c.keys())
    if unknown:  # the keys become SQL: only columns of cases, whoever decided them
        raise ValueError(f"not columns of cases: {sorted(unknown)}")
    return _ADD_AND_REOPEN.format(", ".join(f'"{key}" = ?' for key in keys))


@lru_cache(maxsize=256)
def _tags_json(tags: tuple[str, ...]) -> str:
    return _json(list(tags))


def _padded(values: list[str]) -> list[str]:
    """`values` made a power of two long (the last repeated): IN lists of a few sizes only,
    each one statement in sqlite3's cache, instead of one for every batch size."""
    size = 1 << (len(values) - 1).bit_length()
    return values + values[-1:] * (size - len(values))


@cache
def _known_sql(count: int) -> str:
    marks = ", ".join("?" * count)
    return (
        "SELECT external_id, case_id, id, addressed, private FROM mentions"
        f" WHERE source = ? AND external_id IN ({marks})"
    )


@cache
def _join_sql(count: int) -> str:
    """The authors' open cases, then their recently resolved ones, each through its partial
    index (parameters: source, handles, source, handles, resolved after)."""
    marks = ", ".join("?" * count)
    authors = (
        "SELECT id, source, author_handle, slack_channel, owner_id, status, reactive FROM cases"
        f" WHERE source = ? AND author_handle IN ({marks})"
    )
    return f"{authors} AND {OPEN_SQL} UNION ALL {authors} AND {RESOLVED_SQL} AND resolved_at >= ?"


@cache
def _insert_sql(table: str, columns: str, rows: int) -> str:
    row = "(" + ", ".join("?" * (columns.count(",") + 1)) + ")"
    return f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * rows)}"


class SqliteWriter:
    """storage.intake.store.Writer over the SQLAlchemy connection's own sqlite3 connection.

    The transaction takes SQLite's write lock first (BEGIN IMMEDIATE): what the batch reads
    (known mentions, open cases, the last ids) cannot change before it writes, so new rows get
    their ids from here, and every INSERT is one statement, one step of the SQLite engine. Each
    step lets go of the GIL and has to win it back from the event loop: steps are what this
    thread waits for, more than for SQLite itself.
    """

    def __init__(self, conn: Connection) -> None:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        self.cursor: Any = dbapi.cursor()
        if not dbapi.in_transaction:  # type: ignore[attr-defined]
            self.cursor.execute("BEGIN IMMEDIATE")
        self._last_ids: list[int] | None = None
        # Datetimes as text, by value: a mention's time goes into two rows, and mentions of one
        # stretch of closed hours share their SLA deadlines.
        self._texts: dict[datetime, str] = {}

    def _text(self, value: datetime | None) -> str | None:
        if value is None:  # a proactive case's deadline
            return None
        text = self._texts.get(value)
        if text is None:
            text = self._texts[value] = sqlite_datetime(value)
        return text

    def _next_id(self, table: int, count: int) -> int:
        """The first of `count` new ids in cases (0) or mentions (1)."""
        if self._last_ids is None:
            self._last_ids = [last or 0 for last in self.cursor.execute(_LAST_IDS).fetchall()[0]]
        first = self._last_ids[table] + 1
        self._last_ids[table] += count
        return first

    def known_mentions(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Known]:
        found: dict[tuple[str, str], Known] = {}
        for source, ids in by_source(keys):
            ids = _padded(ids)
            rows = self.cursor.execute(_known_sql(len(ids)), (source, *ids))
            found.update(
                {
                    (source, external_id): Known(case_id, mention_id, bool(addr), bool(priv))
                    for external_id, case_id, mention_id, addr, priv in rows
                }
            )
        return found

    def upgrade(self, upgrades: list[Upgrade], now: datetime) -> None:
        at, cursor = sqlite_datetime(now), self.cursor
        for u in upgrades:
            cursor.execute(_UPGRADE_MENTION, (u.addressed, u.private, u.mention_id))
            if u.deadline is None:
                statement, params = _UPGRADE_CASE, (u.addressed, u.private, u.case_id)
            else:
                due, warn = sqlite_datetime(u.deadline.due), sqlite_datetime(u.deadline.warn)
                statement = _UPGRADE_CASE_DEADLINE
                params = (u.addressed, u.private, due, warn, u.case_id)
            (channel,) = cursor.execute(statement, params).fetchone()
            key = card_update_key(u.case_id)
            cursor.execute(_INSERT_CARD_UPDATE, (u.case_id, channel, at, at, key))

    def cases_to_join(
        self, authors: Iterable[tuple[str, str]], reopen_after: datetime
    ) -> dict[tuple[str, str], Existing]:
        after, rows = sqlite_datetime(reopen_after), []
        for source, handles in by_source(sorted(authors)):
            handles = _padded(handles)
            params = (source, *handles, source, *handles, after)
            rows += self.cursor.execute(_join_sql(len(handles)), params)
        return join_rows(sorted(rows))

    def insert_cases(self, items: list[Incoming], now: datetime) -> list[int]:
        first = self._next_id(0, len(items))
        received, params = sqlite_datetime(now), []
        for case_id, item in enumerate(items, first):
            m, author = item.mention, item.mention.author
            opened = self._text(min(m.created_at, now))
            tags = _tags_json(item.tags)
            params += (
                case_id,
                item.department,
                _INITIAL,
                item.priority,
                tags,
                item.rule,
                m.source,
                author.handle,
                author.name,
                author.followers,
                author.stored_url,
                m.addressed,
                m.private,
                opened,
                opened,
                received,
                self._text(item.sla_due_at),
                self._text(item.sla_warn_at),
                1,
                item.channel,
            )
        self._insert("cases", _CASE_COLUMNS, params, 20)
        return list(range(first, first + len(items)))

    def insert_mentions(
        self, items: list[Incoming], case_ids: list[int], now: datetime
    ) -> list[int]:
        first = self._next_id(1, len(items))
        received, params = sqlite_datetime(now), []
        for mention_id, item, case_id in zip(
            range(first, first + len(items)), items, case_ids, strict=True
        ):
            m = item.mention
            params += (
                mention_id,
                case_id,
                m.source,
                m.external_id,
                str(m.url) if m.url else None,
                m.text,
                m.raw_text,
                m.author.handle,
                m.language,
                m.language_detected,
                m.addressed,
                m.private,
                m.in_reply_to,
                self._text(m.created_at),
                received,
            )
        self._insert("mentions", _MENTION_COLUMNS, params, 15)
        return list(range(first, first + len(items)))

    def _insert(self, table: str, columns: str, params: list[Any], width: int) -> None:
        """Multi-row INSERTs of `width` values a row, in power-of-two chunks."""
        rows, offset = len(params) // width, 0
        while rows:
            chunk = rows if rows <= _EXACT else min(_CHUNK, 1 << (rows.bit_length() - 1))
            end = offset + chunk * width
            self.cursor.execute(_insert_sql(table, columns, chunk), params[offset:end])
            rows, offset = rows - chunk, end

    def record(
        self, changes: list[CaseChange], events: list[Event], jobs: list[Job], now: datetime
    ) -> None:
        at, cursor = sqlite_datetime(now), self.cursor
        for change in changes:
            latest = sqlite_datetime(min(change.latest, now))
            deadline = change.deadline
            due = sqlite_datetime(deadline.due) if deadline else None
            warn = sqlite_datetime(deadline.warn) if deadline else None
            if change.reopen:
                reopen = change.reopen
                params = (change.added, latest, at, change.addressed, *case_params(reopen))
                cursor.execute(_reopen_sql(tuple(reopen)), (*params, change.case_id))
            elif change.addressed or deadline is not None:
                params = (change.added, latest, at, change.addressed, due, warn, change.case_id)
                again = change.addressed and deadline is not None
                cursor.execute(_ADD_AGAIN if again else _ADD_ADDRESSED, params)
            else:
                cursor.execute(_ADD_MENTIONS, (change.added, latest, at, change.case_id))
            if change.card_channel is not None:
                key = card_update_key(change.case_id)
                params = (change.case_id, change.card_channel, at, at, key)
                cursor.execute(_INSERT_CARD_UPDATE, params)
        values: list[Any] = []
        for e in events:
            detail = encode_json(e.detail)
            values += (e.case_id, e.kind, e.from_status, e.to_status, "system", at, detail)
        self._insert("case_events", _EVENT_COLUMNS, values, 7)
        values = []
        for j in jobs:
            values += (j.kind, j.case_id, j.mention_id, j.channel, "pending", 0, at)
            values += (j.dedupe_key, at, _json(j.payload), j.rank)
        self._insert("outbox", _JOB_COLUMNS, values, 11)
