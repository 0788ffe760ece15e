"""The outbox's partial indexes as the queries that use them write them (storage.outbox's head
job, storage.digests' storm digests): each finds the few waiting jobs it is after without
reading the channel's whole backlog, which in a storm is tens of thousands of new cards."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from storage.statuses import THREAD_KINDS
from storage.tables import OUTBOX

# The indexes' conditions as storage.models writes them, with literals, not parameters: only
# then do SQLite and PostgreSQL see that a query may use the index.
_PENDING = OUTBOX.c.status == literal_column("'pending'")
# WAITING_JUMPER_SQL: crisis messages, urgent and high new cards (ix_outbox_jumpers).
JUMPER = and_(_PENDING, OUTBOX.c.rank.is_not(None))
# WAITING_THREAD_LINE_SQL: messages in a card's thread (ix_outbox_thread_lines).
THREAD_LINE = and_(
    _PENDING, OUTBOX.c.kind.in_([literal_column(f"'{kind}'") for kind in THREAD_KINDS])
)


def by_index(statement: Select[Any], index: str) -> Select[Any]:
    """`statement` reading the outbox through `index` on SQLite, which would not pick the
    partial index by itself: the channel's queue index looks as good to it, and reads the whole
    backlog. (PostgreSQL's planner weighs the index's size.)"""
    return statement.with_hint(OUTBOX, f"INDEXED BY {index}", "sqlite")


class unindexed(FunctionElement[Any]):
    """A column SQLite is not to look up by its index here (SQLite's unary "+"): in `id IN (…)
    AND status = 'pending'` it would otherwise read every waiting job through the status index
    instead of the few ids. Plain elsewhere."""

    inherit_cache = True

    def __init__(self, column: ColumnElement[Any]) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _plain(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)  # type: ignore[no-any-return]


@compiles(unindexed, "sqlite")
def _unary_plus(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + compiler.process(element.clauses, **kw)  # type: ignore[no-any-return]
