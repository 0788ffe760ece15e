"""The statements of storage.transitions.core through the raw sqlite3 driver: every click's path.

Through SQLAlchemy each statement of a claim cost more Python time than SQLite takes to run
it, in the unit of work's thread, holding the GIL the event loop needs to ack the next clicks;
sqlite3 releases the GIL while SQLite works. Same rows as the Core path, on the same
connection and in the same transaction (tests/storage/test_transitions_sqlite.py compares the
two databases column by column). Values are converted as SQLAlchemy's SQLite types do
(storage.sqlite_codec).
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy.engine import Connection

from storage.enqueue import card_update_key
from storage.sqlite_codec import case_params, encode_json, readers, sqlite_datetime
from storage.statuses import JobKind
from storage.tables import CASES

_COLUMNS = tuple(CASES.c.keys())
_SELECTED = ", ".join(f'"{name}"' for name in _COLUMNS)
# A case as lock_case and apply_change return it: attribute access, like SQLAlchemy's Row.
CaseRow = namedtuple("CaseRow", _COLUMNS)  # type: ignore[misc]

# A no-op write takes the database's write lock (SQLite has no row locks) and RETURNING reads
# the row under it. The column is in no index and no foreign key: writing `id` to itself made
# SQLite rewrite every index entry of the row and look for its child rows, on every click.
_LOCK = f"UPDATE cases SET mention_count = mention_count WHERE id = ? RETURNING {_SELECTED}"
_INSERT_EVENT = (
    "INSERT INTO case_events (case_id, kind, from_status, to_status, actor, at, detail)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# storage.outbox.enqueue_card_update: one waiting refresh per case is enough.
_ENQUEUE_CARD_UPDATE = (
    "INSERT INTO outbox (kind, case_id, channel, status, attempts, not_before, created_at,"
    f" dedupe_key) VALUES ('{JobKind.UPDATE_CARD}', ?, ?, 'pending', 0, ?, ?, ?)"
    " ON CONFLICT (dedupe_key) WHERE status = 'pending' DO NOTHING"
)
# storage.schedule.enqueue_note (storage.outbox.enqueue)
_ENQUEUE_NOTE = (
    "INSERT INTO outbox (kind, case_id, channel, status, attempts, not_before, created_at,"
    f" payload) VALUES ('{JobKind.POST_NOTE}', ?, ?, 'pending', 0, ?, ?, ?)"
)

# Both in one statement, in that order (a waiting refresh is not queued twice; a note always is).
_ENQUEUE_CARD_UPDATE_AND_NOTE = (
    "INSERT INTO outbox (kind, case_id, channel, status, attempts, not_before, created_at,"
    " dedupe_key, payload) VALUES"
    f" ('{JobKind.UPDATE_CARD}', ?, ?, 'pending', 0, ?, ?, ?, NULL),"
    f" ('{JobKind.POST_NOTE}', ?, ?, 'pending', 0, ?, ?, NULL, ?)"
    " ON CONFLICT (dedupe_key) WHERE status = 'pending' DO NOTHING"
)


def cursor(conn: Connection) -> sqlite3.Cursor | None:
    """A cursor on the stdlib sqlite3 connection under `conn` (the unit of work's), else None."""
    if conn.dialect.driver != "pysqlite":
        return None
    driver = conn.connection.driver_connection
    return driver.cursor() if isinstance(driver, sqlite3.Connection) else None


_READERS = readers(CASES)


def _case_row(raw: tuple[Any, ...]) -> Any:
    values = list(raw)
    for i, read in _READERS:
        if values[i] is not None:
            values[i] = read(values[i])
    return CaseRow._make(values)


def _one(cur: sqlite3.Cursor) -> Any:
    rows = cur.fetchall()  # every row, so the statement is finished before the next one
    return _case_row(rows[0]) if rows else None


def lock_case(cur: sqlite3.Cursor, case_id: int) -> Any:
    return _one(cur.execute(_LOCK, (case_id,)))


@cache
def _update_sql(keys: tuple[str, ...]) -> str:
    unknown = set(keys) - set(_COLUMNS)
    if unknown:
        raise ValueError(f"not columns of cases: {sorted(unknown)}")
    assignments = ", ".join(f'"{key}" = ?' for key in keys)
    return f"UPDATE cases SET {assignments} WHERE id = ? RETURNING {_SELECTED}"


def update_case(cur: sqlite3.Cursor, case_id: int, values: Mapping[str, Any]) -> Any:
    sql = _update_sql(tuple(values))
    return _one(cur.execute(sql, (*case_params(values), case_id)))


def insert_event(
    cur: sqlite3.Cursor,
    *,
    case_id: int,
    kind: str,
    from_status: str | None,
    to_status: str | None,
    actor: str,
    at: datetime,
    detail: Mapping[str, Any],
) -> None:
    cur.execute(
        _INSERT_EVENT,
        (
            case_id,
            str(kind),
            from_status,
            to_status,
            actor,
            sqlite_datetime(at),
            encode_json(detail),
        ),
    )


def enqueue_card_update(cur: sqlite3.Cursor, *, case_id: int, channel: str, now: datetime) -> None:
    at = sqlite_datetime(now)
    cur.execute(_ENQUEUE_CARD_UPDATE, (case_id, channel, at, at, card_update_key(case_id)))


def enqueue_note(
    cur: sqlite3.Cursor, *, case_id: int, channel: str, note: Mapping[str, Any], now: datetime
) -> None:
    at = sqlite_datetime(now)
    cur.execute(
        _ENQUEUE_NOTE, (case_id, channel, at, at, encode_json(dict(note)) if note else "null")
    )


def enqueue_card_update_and_note(
    cur: sqlite3.Cursor, *, case_id: int, channel: str, note: Mapping[str, Any], now: datetime
) -> None:
    """enqueue_card_update, then enqueue_note: the same rows, one statement."""
    at = sqlite_datetime(now)
    payload = encode_json(dict(note)) if note else "null"
    params = (case_id, channel, at, at, card_update_key(case_id), case_id, channel, at, at, payload)
    cur.execute(_ENQUEUE_CARD_UPDATE_AND_NOTE, params)
