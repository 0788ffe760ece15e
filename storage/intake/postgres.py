"""The webhook's hot path on PostgreSQL: each batch's INSERTs as one statement per table with
one array per column (storage.intake.pg_arrays), through asyncpg, and the batch's lookups
(stored mentions, its customers' cases) in one statement.

The statements run on the SQLAlchemy connection's own asyncpg connection, inside the
transaction SQLAlchemy began for the batch (its first statement, the lookup, goes through
SQLAlchemy and begins it). A batch of new customers' first mentions takes one statement in
all instead (storage.intake.first_mentions).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from asyncpg.exceptions import IntegrityConstraintViolationError
from sqlalchemy import Table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.util import await_only

from storage.intake.core import CoreWriter
from storage.intake.pg_arrays import (
    One,
    case_columns,
    mention_columns,
    numbered_from,
    statement,
    utc_bind,
)
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
from storage.statuses import OPEN_SQL, RESOLVED_SQL
from storage.tables import CASES, EVENTS, MENTIONS, OUTBOX

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
        reopen_after = utc_bind(self.reopen_after)
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
    # values: tests/storage/test_pg_intake.py compares the rows).

    def insert_cases(self, items: list[Incoming], now: datetime) -> list[int]:
        columns = case_columns(items, now)
        result = self._insert_columns(CASES, columns, ("id", "source", "author_handle"))
        ids = {(r[1], r[2]): r[0] for r in result}
        return [ids[key] for key in zip(columns["source"], columns["author_handle"], strict=True)]

    def insert_mentions(
        self, items: list[Incoming], case_ids: list[int], now: datetime
    ) -> list[int]:
        columns = {"case_id": case_ids, **mention_columns(items, now)}
        result = self._insert_columns(MENTIONS, columns, ("id", "source", "external_id"))
        ids = {(r[1], r[2]): r[0] for r in result}
        return [ids[key] for key in zip(columns["source"], columns["external_id"], strict=True)]

    def record(
        self, changes: list[CaseChange], events: list[Event], jobs: list[Job], now: datetime
    ) -> None:
        super().record(changes, [], [], now)  # the case changes and their card refreshes
        statements = []
        if events:  # Event's fields are the columns it fills
            given = {**_by_column(events), "actor": One("system"), "at": One(now)}
            statements.append(self._statement(EVENTS, given))
        if jobs:  # as are Job's (rank: urgent and high new cards jump the queue)
            given = {**_by_column(jobs), "not_before": One(now), "created_at": One(now)}
            statements.append(self._statement(OUTBOX, given))
        if len(statements) == 2:
            # Events and jobs in one statement (the first as a data-modifying WITH, which
            # PostgreSQL always carries out in full): one round trip to the server fewer.
            (first, first_args), (second, second_args) = statements
            together = f"WITH first_insert AS ({first}) {numbered_from(second, len(first_args))}"
            statements = [(together, first_args + second_args)]
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
        return statement(table, given, self.conn.dialect, returning)

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


def _by_column(rows: Sequence[Event] | Sequence[Job]) -> dict[str, list[Any]]:
    """Rows of one NamedTuple type, a column (field) at a time."""
    return {name: [getattr(row, name) for row in rows] for name in rows[0]._fields}
