"""Values as SQLAlchemy's SQLite types store them, for the paths that skip SQLAlchemy (the raw
sqlite3 writers of storage.intake.sqlite and storage.transitions.sqlite): datetimes as naive
UTC text with microseconds, JSON as the engine writes it (storage.types.dumps_json; None as
'null'), booleans as 0/1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Table

from storage.tables import CASES
from storage.types import UTCDateTime, dumps_json, loads_json

encode_json = dumps_json


def sqlite_datetime(value: datetime) -> str:
    """What SQLAlchemy stores for a `UTCDateTime` on SQLite: naive UTC, always microseconds."""
    if value.tzinfo is UTC:  # nearly always: skip the conversions
        return value.isoformat(" ", "microseconds")[:-6]  # without "+00:00"
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTCDateTime column")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def read_datetime(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def json_text(value: Any) -> str:
    return "null" if value is None else encode_json(value)


def _reader(column: Column[Any]) -> Callable[[Any], Any] | None:
    if isinstance(column.type, UTCDateTime):
        return read_datetime
    if isinstance(column.type, JSON):
        return loads_json
    if isinstance(column.type, Boolean):
        return bool
    return None


def _writer(column: Column[Any]) -> Callable[[Any], Any]:
    if isinstance(column.type, UTCDateTime):
        return sqlite_datetime
    if isinstance(column.type, JSON):
        return encode_json
    if isinstance(column.type, Boolean):
        return int
    return lambda value: str(value) if isinstance(value, str) else value  # StrEnum -> str


def readers(table: Table) -> list[tuple[int, Callable[[Any], Any]]]:
    """(position, convert) for each column of `table` whose stored value needs converting."""
    return [(i, read) for i, column in enumerate(table.c) if (read := _reader(column))]


_CASE_WRITERS = {column.key: _writer(column) for column in CASES.c}


def case_params(values: Mapping[str, Any]) -> list[Any]:
    """`values` of cases columns as SQLite parameters, in their order."""
    unknown = set(values) - set(_CASE_WRITERS)
    if unknown:
        raise ValueError(f"not columns of cases: {sorted(unknown)}")
    return [None if v is None else _CASE_WRITERS[k](v) for k, v in values.items()]
