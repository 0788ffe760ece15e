"""The webhook's hot path on PostgreSQL: each batch's INSERTs as one statement per table with
one array per column (`INSERT … SELECT * FROM unnest($1::varchar[], …)`), through asyncpg.

SQLAlchemy's multi-row INSERT renders a statement with a parameter per value and converts each
value in Python: for a batch of a hundred mentions that is most of the webhook's CPU. With
arrays the SQL text is the same for every batch (asyncpg prepares it once per connection) and
asyncpg encodes the arrays in C. Values go through the columns' own bind processing, so the
rows are the ones `CoreWriter` writes (tests/intake/test_intake.py compares them).

The statements run on the SQLAlchemy connection's own asyncpg connection, inside the
transaction SQLAlchemy began for the batch (its first statement, the duplicate check, goes
through SQLAlchemy and begins it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from asyncpg.exceptions import IntegrityConstraintViolationError
from sqlalchemy import Column, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.util import await_only

from storage.intake.core import CoreWriter
from storage.intake.rows import (
    CaseChange,
    Event,
    Existing,
    Incoming,
    Job,
    Known,
    Upgrade,
    join_rows,
)
from storage.statuses import INITIAL_STATUS, OPEN_SQL, RESOLVED_SQL
from storage.tables import CASES, EVENTS, MENTIONS, OUTBOX
from storage.types import UTCDateTime

_DIALECT = postgresql.dialect()
_UTC_BIND = CASES.c.resolved_at.type.bind_processor(postgresql.asyncpg.dialect())
_Plan = tuple[str, list[Callable[[Any], Any] | None]]
_PLANS: dict[tuple[str, tuple[str, ...], tuple[str, ...], frozenset[str]], _Plan] = {}

# Columns sent as one value instead of an array when every row of the batch has the same
# value in them (its time, constants; a batch of new cases: the same kind of event and job).
# asyncpg checks every array element it encodes against collections.abc (about half a
# microsecond each), and a timestamp costs three times that to encode.
_OFTEN_UNIFORM: dict[str, frozenset[str]] = {
    "cases": frozenset(
        {"status", "mention_count", "last_received_at", "rule", "tags", "priority", "private"}
    ),
    "mentions": frozenset({"received_at", "raw_text", "in_reply_to", "private"}),
    "case_events": frozenset({"actor", "at", "kind", "from_status", "to_status"}),
    "outbox": frozenset({"not_before", "created_at", "kind", "mention_id", "payload"}),
}
# Timestamps in arrays go as microseconds since 1970 (an int64: no timezone arithmetic in
# asyncpg's encoder), turned back into timestamptz by the statement, exactly.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTCDateTime column")
    return (value - _EPOCH) // _MICROSECOND


def _sql_type(column: Column[Any]) -> str:
    return str(column.type.compile(dialect=_DIALECT))


def _plan(
    table: Table,
    columns: tuple[str, ...],
    returning: tuple[str, ...],
    scalars: frozenset[str],
    dialect: Dialect,
) -> _Plan:
    """The statement and each column's bind processing (as SQLAlchemy does it for asyncpg),
    built once per table, columns and which of them are one value for all rows."""
    key = (table.name, columns, returning, scalars)
    if key not in _PLANS:
        arrays, names, values = [], [], []
        processors = []
        for n, name in enumerate(columns, start=1):
            column = table.c[name]
            cast = f"${n}::{_sql_type(column)}"
            if name in scalars:
                values.append(cast)
            elif isinstance(column.type, UTCDateTime):
                arrays.append(f"${n}::int8[]")
                names.append(name)
                values.append(f"'epoch'::timestamptz + u.{name} * interval '1 microsecond'")
                processors.append(_micros)
                continue
            else:
                arrays.append(f"{cast}[]")
                names.append(name)
                values.append(f"u.{name}")
            processors.append(column.type._cached_bind_processor(dialect))
        sql = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {', '.join(values)}"
            f" FROM unnest({', '.join(arrays)}) AS u({', '.join(names)})"
        )
        if returning:
            sql += f" RETURNING {', '.join(returning)}"
        _PLANS[key] = (sql, processors)
    return _PLANS[key]


def _defaults(table: Table, given: tuple[str, ...]) -> dict[str, Any]:
    """The Python-side defaults of the columns not given (all of them constants)."""
    found: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.name in given or column.primary_key or default is None:
            continue
        if not default.is_scalar:  # none of the ingest tables has one; say so if one comes
            raise NotImplementedError(f"{table.name}.{column.name}: a callable default")
        found[column.name] = default.arg  # type: ignore[attr-defined]
    return found


# The batch's stored mentions and its customers' cases to join, in one statement: kind 0 is a
# mention (source, external_id, case, mention id, addressed, private), kind 1 a case (source,
# handle, id, reactive, channel, owner, status) that is open or was resolved after $5.
# Each key is looked up through an index (LATERAL … OFFSET 0 keeps the planner from turning
# the lookups into a hash join over every row, which it prefers while it thinks the batch has
# more keys than the tables have rows). Open and resolved cases are read apart, each part with
# the condition of a partial index on (source, author_handle): uq_cases_open_author, and one of
# resolved cases where the schema has it.
_CASE = "SELECT id, reactive, slack_channel, owner_id, status FROM cases"
_LOOKUP = f"""
SELECT 0, k.source, k.external_id, m.case_id, m.id, m.addressed, m.private,
       NULL::varchar, NULL::varchar, NULL::varchar
FROM unnest($1::varchar[], $2::varchar[]) AS k(source, external_id)
CROSS JOIN LATERAL (
    SELECT case_id, id, addressed, private FROM mentions
    WHERE source = k.source AND external_id = k.external_id OFFSET 0
) AS m
UNION ALL
SELECT 1, a.source, a.handle, c.id, NULL, c.reactive, NULL, c.slack_channel, c.owner_id, c.status
FROM unnest($3::varchar[], $4::varchar[]) AS a(source, handle)
CROSS JOIN LATERAL (
    {_CASE} WHERE source = a.source AND author_handle = a.handle
      AND {OPEN_SQL}
    UNION ALL
    {_CASE} WHERE source = a.source AND author_handle = a.handle
      AND {RESOLVED_SQL} AND resolved_at >= $5::timestamptz
    OFFSET 0
) AS c
"""


class PgWriter(CoreWriter):
    """`CoreWriter` with its INSERTs sent as arrays (see the module's doc), and the batch's
    lookups (stored mentions, its customers' cases) in one statement."""

    def __init__(self, conn: Connection, items: Sequence[Incoming], reopen_after: datetime) -> None:
        super().__init__(conn)
        self.raw: Any = conn.connection.driver_connection
        self.items, self.reopen_after = items, reopen_after
        self._cases: list[Sequence[Any]] = []
        self._made_reactive: set[int] = set()

    def known_mentions(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Known]:
        """The stored mentions among `keys`; also reads the cases of all the batch's
        customers, for `cases_to_join` (one round trip instead of two)."""
        keys = list(dict.fromkeys(keys))
        authors = list(
            dict.fromkeys((i.mention.source, i.mention.author.handle) for i in self.items)
        )
        reopen_after = _UTC_BIND(self.reopen_after)
        # Through SQLAlchemy: the batch's first statement begins its transaction.
        rows = self.conn.exec_driver_sql(
            _LOOKUP,
            (
                [k[0] for k in keys],
                [k[1] for k in keys],
                [a[0] for a in authors],
                [a[1] for a in authors],
                reopen_after,
            ),
        ).all()
        found: dict[tuple[str, str], Known] = {}
        for row in rows:
            if row[0] == 0:
                found[(row[1], row[2])] = Known(row[3], row[4], bool(row[5]), bool(row[6]))
            else:
                # As _CASES_TO_JOIN's rows: (id, source, handle, channel, owner, status, reactive)
                self._cases.append((row[3], row[1], row[2], row[7], row[8], row[9], row[5]))
        return found

    def upgrade(self, upgrades: list[Upgrade], now: datetime) -> None:
        super().upgrade(upgrades, now)
        self._made_reactive.update(u.case_id for u in upgrades if u.addressed)

    def cases_to_join(
        self, authors: Iterable[tuple[str, str]], reopen_after: datetime
    ) -> dict[tuple[str, str], Existing]:
        if reopen_after != self.reopen_after:
            return super().cases_to_join(authors, reopen_after)
        wanted = set(authors)
        rows = [
            # An upgrade earlier in this batch made the case reactive (as a read now would see).
            (*row[:6], True) if row[0] in self._made_reactive else row
            for row in self._cases
            if (row[1], row[2]) in wanted
        ]
        return join_rows(sorted(rows, key=lambda r: r[0]))

    # The rows CoreWriter builds as one dict each, built here a column at a time (the same
    # values: tests/test_pg_intake.py compares the rows); `_One` marks a value for all rows.

    def insert_cases(self, items: list[Incoming], now: datetime) -> list[int]:
        ms = [item.mention for item in items]
        opened = [min(m.created_at, now) for m in ms]
        sources = [m.source for m in ms]
        handles = [m.author.handle for m in ms]
        columns: dict[str, Any] = {
            "department": [item.department for item in items],
            "status": _One(str(INITIAL_STATUS)),
            "priority": [item.priority for item in items],
            "tags": [list(item.tags) for item in items],
            "rule": [item.rule for item in items],
            "source": sources,
            "author_handle": handles,
            "author_name": [m.author.name for m in ms],
            "author_followers": [m.author.followers for m in ms],
            "author_url": [m.author.stored_url for m in ms],
            "reactive": [m.addressed for m in ms],
            "private": [m.private for m in ms],
            "opened_at": opened,
            "last_mention_at": opened,
            "last_received_at": _One(now),
            "sla_due_at": [item.sla_due_at for item in items],
            "sla_warn_at": [item.sla_warn_at for item in items],
            "mention_count": _One(1),
            "slack_channel": [item.channel for item in items],
        }
        result = self._insert_columns(CASES, columns, ("id", "source", "author_handle"))
        ids = {(r[1], r[2]): r[0] for r in result}
        return [ids[key] for key in zip(sources, handles, strict=True)]

    def insert_mentions(
        self, items: list[Incoming], case_ids: list[int], now: datetime
    ) -> list[int]:
        ms = [item.mention for item in items]
        sources = [m.source for m in ms]
        external_ids = [m.external_id for m in ms]
        columns: dict[str, Any] = {
            "case_id": case_ids,
            "source": sources,
            "external_id": external_ids,
            "url": [str(m.url) if m.url else None for m in ms],
            "text": [m.text for m in ms],
            "raw_text": [m.raw_text for m in ms],
            "author_handle": [m.author.handle for m in ms],
            "language": [m.language for m in ms],
            "language_detected": [m.language_detected for m in ms],
            "addressed": [m.addressed for m in ms],
            "private": [m.private for m in ms],
            "in_reply_to": [m.in_reply_to for m in ms],
            "created_at": [m.created_at for m in ms],
            "received_at": _One(now),
        }
        result = self._insert_columns(MENTIONS, columns, ("id", "source", "external_id"))
        ids = {(r[1], r[2]): r[0] for r in result}
        return [ids[key] for key in zip(sources, external_ids, strict=True)]

    def record(
        self, changes: list[CaseChange], events: list[Event], jobs: list[Job], now: datetime
    ) -> None:
        super().record(changes, [], [], now)  # the case changes and their card refreshes
        statements = []
        if events:
            statements.append(
                self._statement(
                    EVENTS,
                    {
                        "case_id": [e.case_id for e in events],
                        "kind": [e.kind for e in events],
                        "from_status": [e.from_status for e in events],
                        "to_status": [e.to_status for e in events],
                        "detail": [e.detail for e in events],
                        "actor": _One("system"),
                        "at": _One(now),
                    },
                )
            )
        if jobs:
            statements.append(
                self._statement(
                    OUTBOX,
                    {
                        "kind": [j.kind for j in jobs],
                        "case_id": [j.case_id for j in jobs],
                        "mention_id": [j.mention_id for j in jobs],
                        "channel": [j.channel for j in jobs],
                        "payload": [j.payload for j in jobs],
                        "dedupe_key": [j.dedupe_key for j in jobs],
                        "rank": [j.rank for j in jobs],  # urgent and high new cards jump the queue
                        "not_before": _One(now),
                        "created_at": _One(now),
                    },
                )
            )
        if len(statements) == 2:
            # Events and jobs in one statement: one round trip to the server fewer per batch.
            (first, first_args), (second, second_args) = statements
            statements = [(_together(first, second, len(first_args)), first_args + second_args)]
        for sql, arrays in statements:
            self._execute(sql, arrays, returning=False)

    def _insert_many(
        self, table: Table, rows: list[dict[str, Any]], returning: tuple[str, ...] = ()
    ) -> Sequence[Sequence[Any]]:
        columns = {name: [row[name] for row in rows] for name in rows[0]}
        return self._insert_columns(table, columns, returning)

    def _insert_columns(
        self, table: Table, given: dict[str, Any], returning: tuple[str, ...] = ()
    ) -> Sequence[Sequence[Any]]:
        """Insert rows given a column at a time: a list of values, or `_One` for all rows."""
        sql, arrays = self._statement(table, given, returning)
        return self._execute(sql, arrays, returning=bool(returning))

    def _statement(
        self, table: Table, given: dict[str, Any], returning: tuple[str, ...] = ()
    ) -> tuple[str, list[Any]]:
        """The INSERT of rows given a column at a time, and its arguments."""
        # Columns left out get their Python-side defaults, as SQLAlchemy's INSERT gives them.
        defaults = _defaults(table, tuple(given))
        values: dict[str, Any] = {**given, **{k: _One(v) for k, v in defaults.items()}}
        often = _OFTEN_UNIFORM.get(table.name, frozenset())
        for name in often.intersection(values):
            column = values[name]
            if not isinstance(column, _One) and all(v == column[0] for v in column):
                values[name] = _One(column[0])
        columns = tuple(values)
        scalars = frozenset(name for name, v in values.items() if isinstance(v, _One))
        sql, processors = _plan(table, columns, returning, scalars, self.conn.dialect)
        arrays: list[Any] = []
        for column, process in zip(values.values(), processors, strict=True):
            if isinstance(column, _One):
                arrays.append(process(column.value) if process is not None else column.value)
            else:
                arrays.append([process(v) for v in column] if process is not None else column)
        return sql, arrays

    def _execute(self, sql: str, arrays: list[Any], *, returning: bool) -> Sequence[Sequence[Any]]:
        if not self.raw.is_in_transaction():  # never let a batch commit row by row
            raise RuntimeError("PgWriter runs inside the batch's transaction")
        try:
            if returning:
                return await_only(self.raw.fetch(sql, *arrays))  # type: ignore[no-any-return]
            await_only(self.raw.execute(sql, *arrays))
        except IntegrityConstraintViolationError as exc:
            # As SQLAlchemy raises it: the ingestor retries a batch that lost a race (another
            # replica stored the mention, or opened the author's case, a moment before).
            raise IntegrityError(sql, None, exc) from exc
        return []


_PARAMETER = re.compile(r"\$(\d+)")


@lru_cache(maxsize=64)
def _together(first: str, second: str, offset: int) -> str:
    """Two INSERTs as one statement (the first as a data-modifying WITH, which PostgreSQL
    always carries out in full); the second's parameters numbered after the first's."""
    renumbered = _PARAMETER.sub(lambda m: f"${int(m.group(1)) + offset}", second)
    return f"WITH first_insert AS ({first}) {renumbered}"


class _One(NamedTuple):
    """One value for every row of an insert."""

    value: Any
