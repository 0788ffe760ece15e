"""The ingest batch's statements through the raw sqlite3 driver: the webhook's hot path.

Same rows as `storage.intake.CoreWriter` (tests/test_intake.py compares the two databases
column by column), on the same connection and in the same transaction, without SQLAlchemy's
per-row parameter processing: that cost more CPU than SQLite needs to store the rows.
Values are converted the way SQLAlchemy's SQLite types do: datetimes as naive UTC text with
microseconds, JSON as `json.dumps` text (None as 'null'), booleans as 0/1.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy.engine import Connection

from storage.intake import (
    CaseChange,
    Event,
    Existing,
    Incoming,
    Job,
    by_source,
    join_rows,
)
from storage.models import OPEN_STATUSES, JobKind

# Rows per multi-row INSERT: 18 columns x 500 stays well under SQLite's 32,766 variables.
_CHUNK = 500

_CASE_COLUMNS = (
    "department, status, priority, tags, rule, source, author_handle, author_name,"
    " author_followers, author_url, reactive, private, opened_at, last_mention_at, sla_due_at,"
    " sla_warn_at, mention_count, slack_channel"
)
_MENTION_COLUMNS = (
    "case_id, source, external_id, url, text, author_handle, language, addressed, private,"
    " in_reply_to, created_at, received_at"
)
_OPEN = ", ".join(f"'{status}'" for status in OPEN_STATUSES)

_INSERT_EVENT = (
    "INSERT INTO case_events (case_id, kind, from_status, to_status, actor, at, detail)"
    " VALUES (?, ?, ?, ?, 'system', ?, ?)"
)
_INSERT_JOB = (
    "INSERT INTO outbox (kind, case_id, mention_id, channel, status, attempts, not_before,"
    " dedupe_key, created_at, payload) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)"
)
# storage.outbox.enqueue_card_update: one waiting refresh per case is enough.
_INSERT_CARD_UPDATE = (
    "INSERT INTO outbox (kind, case_id, channel, status, attempts, not_before, created_at,"
    f" dedupe_key) VALUES ('{JobKind.UPDATE_CARD}', ?, ?, 'pending', 0, ?, ?, ?)"
    " ON CONFLICT (dedupe_key) WHERE status = 'pending' DO NOTHING"
)
_ADD_MENTIONS = (
    "UPDATE cases SET mention_count = mention_count + ?,"
    " last_mention_at = max(last_mention_at, ?) WHERE id = ?"
)
# The customer is back: the case reopens, unowned, with a fresh deadline.
_REOPEN = (
    "UPDATE cases SET mention_count = mention_count + ?, last_mention_at = max(last_mention_at, ?),"
    " status = 'reopened', resolved_at = NULL, owner_id = NULL, owner_name = NULL,"
    " claimed_at = NULL, sla_due_at = ?, sla_warn_at = ?, sla_warned_at = NULL,"
    " sla_breached_at = NULL WHERE id = ?"
)


def sqlite_datetime(value: datetime) -> str:
    """What SQLAlchemy stores for a `UTCDateTime` on SQLite: naive UTC, always microseconds."""
    if value.tzinfo is UTC:  # nearly always: skip the conversions
        return value.isoformat(" ", "microseconds")[:-6]  # without "+00:00"
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTCDateTime column")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


_encode = json.JSONEncoder().encode  # json.dumps with default options, minus its dispatch


def _json(value: Any) -> str:
    return "null" if value is None else _encode(value)


@cache
def _known_sql(count: int) -> str:
    marks = ", ".join("?" * count)
    return (
        f"SELECT external_id, case_id FROM mentions WHERE source = ? AND external_id IN ({marks})"
    )


@cache
def _join_sql(count: int) -> str:
    marks = ", ".join("?" * count)
    return (
        "SELECT id, source, author_handle, slack_channel, owner_id, status FROM cases"
        f" WHERE source = ? AND author_handle IN ({marks})"
        f" AND (status IN ({_OPEN}) OR (status = 'resolved' AND resolved_at >= ?))"
    )


@cache
def _insert_sql(table: str, columns: str, returning: str, rows: int) -> str:
    row = "(" + ", ".join("?" * (columns.count(",") + 1)) + ")"
    return f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * rows)} RETURNING {returning}"


class SqliteWriter:
    """storage.intake.Writer over the SQLAlchemy connection's own sqlite3 connection."""

    def __init__(self, conn: Connection) -> None:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        self.cursor: Any = dbapi.cursor()

    def known_mentions(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = {}
        for source, ids in by_source(keys):
            rows = self.cursor.execute(_known_sql(len(ids)), (source, *ids))
            found.update({(source, external_id): case_id for external_id, case_id in rows})
        return found

    def cases_to_join(
        self, authors: Iterable[tuple[str, str]], reopen_after: datetime
    ) -> dict[tuple[str, str], Existing]:
        after, rows = sqlite_datetime(reopen_after), []
        for source, handles in by_source(sorted(authors)):
            rows += self.cursor.execute(_join_sql(len(handles)), (source, *handles, after))
        return join_rows(sorted(rows))

    def insert_cases(self, items: list[Incoming], now: datetime) -> list[int]:
        params: list[Any] = []
        for item in items:
            m, author = item.mention, item.mention.author
            opened = sqlite_datetime(min(m.created_at, now))
            params += (
                item.department,
                "new",
                item.priority,
                _json(list(item.tags)),
                item.rule,
                m.source,
                author.handle,
                author.name,
                author.followers,
                str(author.url) if author.url else None,
                m.addressed,
                m.private,
                opened,
                opened,
                sqlite_datetime(item.sla_due_at),
                sqlite_datetime(item.sla_warn_at),
                1,
                item.channel,
            )
        ids = self._insert("cases", _CASE_COLUMNS, "id, source, author_handle", params, 18)
        return [ids[(i.mention.source, i.mention.author.handle)] for i in items]

    def insert_mentions(
        self, items: list[Incoming], case_ids: list[int], now: datetime
    ) -> list[int]:
        received, params = sqlite_datetime(now), []
        for item, case_id in zip(items, case_ids, strict=True):
            m = item.mention
            params += (
                case_id,
                m.source,
                m.external_id,
                str(m.url) if m.url else None,
                m.text,
                m.author.handle,
                m.language,
                m.addressed,
                m.private,
                m.in_reply_to,
                sqlite_datetime(m.created_at),
                received,
            )
        ids = self._insert("mentions", _MENTION_COLUMNS, "id, source, external_id", params, 12)
        return [ids[(i.mention.source, i.mention.external_id)] for i in items]

    def _insert(
        self, table: str, columns: str, returning: str, params: list[Any], width: int
    ) -> dict[tuple[str, str], int]:
        """Multi-row INSERT … RETURNING, in chunks; ids by the returned key (the order of
        RETURNING rows is not promised)."""
        ids: dict[tuple[str, str], int] = {}
        step = _CHUNK * width
        for start in range(0, len(params), step):
            chunk = params[start : start + step]
            sql = _insert_sql(table, columns, returning, len(chunk) // width)
            ids.update({(a, b): row_id for row_id, a, b in self.cursor.execute(sql, chunk)})
        return ids

    def record(
        self, changes: list[CaseChange], events: list[Event], jobs: list[Job], now: datetime
    ) -> None:
        at, cursor = sqlite_datetime(now), self.cursor
        for change in changes:
            latest = sqlite_datetime(min(change.latest, now))
            if change.reopen is None:
                cursor.execute(_ADD_MENTIONS, (change.added, latest, change.case_id))
            else:
                due = sqlite_datetime(change.reopen.sla_due_at)
                warn = sqlite_datetime(change.reopen.sla_warn_at)
                cursor.execute(_REOPEN, (change.added, latest, due, warn, change.case_id))
            if change.card_channel is not None:
                key = f"card:{change.case_id}"
                cursor.execute(
                    _INSERT_CARD_UPDATE, (change.case_id, change.card_channel, at, at, key)
                )
        if events:
            cursor.executemany(
                _INSERT_EVENT,
                [
                    (e.case_id, e.kind, e.from_status, e.to_status, at, _json(e.detail))
                    for e in events
                ],
            )
        if jobs:
            cursor.executemany(
                _INSERT_JOB,
                [
                    (
                        j.kind,
                        j.case_id,
                        j.mention_id,
                        j.channel,
                        at,
                        j.dedupe_key,
                        at,
                        _json(j.payload),
                    )
                    for j in jobs
                ],
            )
