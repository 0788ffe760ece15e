"""INSERTs on PostgreSQL with one array per column (`INSERT … SELECT * FROM unnest($1::varchar[],
…)`), sent through asyncpg: the webhook's hot path (storage.intake.postgres, .first_mentions).

SQLAlchemy's multi-row INSERT renders a statement with a parameter per value and converts each
value in Python: for a batch of a hundred mentions that is most of the webhook's CPU. With
arrays the SQL text is the same for every batch (asyncpg prepares it once per connection) and
asyncpg encodes the arrays in C. Values go through the columns' own bind processing, so the
rows are the ones `CoreWriter` writes (tests/storage/test_pg_intake.py compares them).

A column is given as a list (one value a row), `One` (one value for all rows) or `Sql` (an
expression over the rows of the `ids` CTE, for a statement that numbers its rows itself).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Column, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from storage.intake.rows import Incoming
from storage.statuses import INITIAL_STATUS
from storage.types import UTCDateTime

_DIALECT = postgresql.dialect()
_ASYNCPG = postgresql.asyncpg.dialect()  # type: ignore[attr-defined]
_Plan = tuple[str, list[Callable[[Any], Any] | None]]
_PLANS: dict[tuple[Any, ...], _Plan] = {}

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


class One(NamedTuple):
    """One value for every row of an insert."""

    value: Any


class Sql(NamedTuple):
    """A column's value as an SQL expression over `ids` (written by us, never from input)."""

    text: str


_UTC_BIND = UTCDateTime().bind_processor(_ASYNCPG)


def utc_bind(value: datetime) -> Any:
    """A timestamp as SQLAlchemy binds it for asyncpg."""
    return _UTC_BIND(value)


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
    kinds: tuple[str | Sql, ...],
    dialect: Dialect,
) -> _Plan:
    """The statement and each parameter's bind processing (as SQLAlchemy does it for
    asyncpg), built once per table, columns and how each is given (`kinds`: "list", "one" or
    an `Sql`). Rows come from the arrays; with `Sql` columns, from `ids` too (by row number)."""
    key = (table.name, columns, returning, kinds)
    if key in _PLANS:
        return _PLANS[key]
    arrays, names, values = [], [], []
    processors = []
    n = 0
    for name, kind in zip(columns, kinds, strict=True):
        column = table.c[name]
        if isinstance(kind, Sql):
            values.append(kind.text)
            continue
        n += 1
        cast = f"${n}::{_sql_type(column)}"
        if kind == "one":
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
    numbered = any(isinstance(kind, Sql) for kind in kinds)
    if not arrays:
        source = "ids"
    elif numbered:
        source = (
            f"unnest({', '.join(arrays)}) WITH ORDINALITY AS u({', '.join(names)}, n)"
            " JOIN ids USING (n)"
        )
    else:
        source = f"unnest({', '.join(arrays)}) AS u({', '.join(names)})"
    sql = f"INSERT INTO {table.name} ({', '.join(columns)})"
    sql += f" SELECT {', '.join(values)} FROM {source}"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    _PLANS[key] = (sql, processors)
    return _PLANS[key]


@lru_cache(maxsize=64)
def _defaults(table: Table, given: tuple[str, ...]) -> dict[str, Any]:
    """The Python-side defaults of the columns not given (all of them constants); the same
    few per table and set of columns, so found once each (callers copy, never change it)."""
    found: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.name in given or column.primary_key or default is None:
            continue
        if not default.is_scalar:  # none of the ingest tables has one; say so if one comes
            raise NotImplementedError(f"{table.name}.{column.name}: a callable default")
        found[column.name] = default.arg  # type: ignore[attr-defined]
    return found


def statement(
    table: Table, given: dict[str, Any], dialect: Dialect, returning: tuple[str, ...] = ()
) -> tuple[str, list[Any]]:
    """The INSERT of rows given a column at a time, and its arguments ($1, $2, …)."""
    # Columns left out get their Python-side defaults, as SQLAlchemy's INSERT gives them.
    defaults = _defaults(table, tuple(given))
    values: dict[str, Any] = {**given, **{k: One(v) for k, v in defaults.items()}}
    often = _OFTEN_UNIFORM.get(table.name, frozenset())
    for name in often.intersection(values):
        column = values[name]
        if isinstance(column, list) and all(v == column[0] for v in column):
            values[name] = One(column[0])
    kinds = tuple(
        v if isinstance(v, Sql) else "one" if isinstance(v, One) else "list"
        for v in values.values()
    )
    sql, processors = _plan(table, tuple(values), returning, kinds, dialect)
    arrays: list[Any] = []
    parameters = (v for v in values.values() if not isinstance(v, Sql))
    for column, process in zip(parameters, processors, strict=True):
        if isinstance(column, One):
            arrays.append(process(column.value) if process is not None else column.value)
        else:
            arrays.append([process(v) for v in column] if process is not None else column)
    return sql, arrays


_PARAMETER = re.compile(r"\$(\d+)")


@lru_cache(maxsize=64)
def numbered_from(sql: str, offset: int) -> str:
    """`sql` with its parameters $1, $2, … numbered after `offset` others."""
    return _PARAMETER.sub(lambda m: f"${int(m.group(1)) + offset}", sql)


def case_columns(items: list[Incoming], now: datetime) -> dict[str, Any]:
    """The new cases of `items` (each the first mention of its customer), a column at a time:
    the values CoreWriter.insert_cases writes."""
    ms = [item.mention for item in items]
    opened = [min(m.created_at, now) for m in ms]
    return {
        "department": [item.department for item in items],
        "status": One(str(INITIAL_STATUS)),
        "priority": [item.priority for item in items],
        "tags": [list(item.tags) for item in items],
        "rule": [item.rule for item in items],
        "source": [m.source for m in ms],
        "author_handle": [m.author.handle for m in ms],
        "author_name": [m.author.name for m in ms],
        "author_followers": [m.author.followers for m in ms],
        "author_url": [m.author.stored_url for m in ms],
        "reactive": [m.addressed for m in ms],
        "private": [m.private for m in ms],
        "opened_at": opened,
        "last_mention_at": opened,
        "last_received_at": One(now),
        "sla_due_at": [item.sla_due_at for item in items],
        "sla_warn_at": [item.sla_warn_at for item in items],
        "mention_count": One(1),
        "slack_channel": [item.channel for item in items],
    }


def mention_columns(items: list[Incoming], now: datetime) -> dict[str, Any]:
    """The mentions of `items`, a column at a time, all but their case (CoreWriter's values)."""
    ms = [item.mention for item in items]
    return {
        "source": [m.source for m in ms],
        "external_id": [m.external_id for m in ms],
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
        "received_at": One(now),
    }
