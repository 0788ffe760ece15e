"""New customers' first mentions on PostgreSQL, stored in one statement: no BEGIN, no COMMIT.

In a storm most of a batch is people writing for the first time: each mention opens a case,
gets an `opened` event and a card to post. Through `store_incoming` that takes six round
trips to the server (BEGIN, the lookups, cases, mentions, events with jobs, COMMIT), and on a
loaded machine each one waits its turn for a core. Here one statement does all of it, for the
mentions whose id is not stored and whose customer has no open (or recently resolved) case:
it numbers them (`ids`), inserts their cases, mentions, events and jobs as data-modifying
WITHs and answers the new ids. One statement is one transaction: all of it or nothing.

The rest of the batch (a customer writing twice in it, a mention seen before, a returning
customer) goes through `store_incoming` after it, as before. A race with another replica
(the same mention, or a case opened for the same customer a moment before) breaks a unique
index, fails the whole statement and is retried by the ingestor like any other conflict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.enqueue import CARD_POST_PREFIX
from storage.intake.pg_arrays import (
    One,
    Sql,
    case_columns,
    mention_columns,
    numbered_from,
    statement,
    utc_bind,
)
from storage.intake.rows import Incoming, Stored
from storage.statuses import CARD_RANKS, INITIAL_STATUS, OPEN_SQL, RESOLVED_SQL, JobKind
from storage.tables import CASES, EVENTS, MENTIONS, OUTBOX

# The batch's candidates (u.n is their number from 1) that may open a case: no stored mention
# with that id, no open case of that customer, none resolved after $4. Each probe goes through
# an index (OFFSET 0 keeps the planner from turning them into joins over whole tables, which
# it would do for a prepared statement planned while the tables were small); nextval runs
# only for the rows that pass.
_IDS = f"""
SELECT u.n, nextval('cases_id_seq')::int AS case_id, nextval('mentions_id_seq')::int AS mention_id
FROM unnest($1::varchar[], $2::varchar[], $3::varchar[])
     WITH ORDINALITY AS u(source, external_id, handle, n)
WHERE NOT EXISTS (
    SELECT FROM mentions WHERE source = u.source AND external_id = u.external_id OFFSET 0)
  AND NOT EXISTS (
    SELECT FROM cases WHERE source = u.source AND author_handle = u.handle AND {OPEN_SQL}
    OFFSET 0)
  AND NOT EXISTS (
    SELECT FROM cases WHERE source = u.source AND author_handle = u.handle AND {RESOLVED_SQL}
      AND resolved_at >= $4::timestamptz OFFSET 0)
"""
_CASE_ID = Sql("ids.case_id")
# As orjson writes {"mention_id": 5} for the other write paths: the same text in the column.
_OPENED_DETAIL = Sql("""format('{"mention_id":%s}', ids.mention_id)::json""")


def candidates(items: Sequence[Incoming]) -> list[int]:
    """The positions of the items that may open a case of their own: the only mention of
    their customer in the batch, sent once in it."""
    keys = [(i.mention.source, i.mention.external_id) for i in items]
    authors = [(i.mention.source, i.mention.author.handle) for i in items]
    twice_keys = {k for k, n in Counter(keys).items() if n > 1}
    twice_authors = {a for a, n in Counter(authors).items() if n > 1}
    return [
        at
        for at, (key, author) in enumerate(zip(keys, authors, strict=True))
        if key not in twice_keys and author not in twice_authors
    ]


async def store_first_mentions(
    conn: AsyncConnection, items: list[Incoming], now: datetime, reopen_after: datetime
) -> dict[int, Stored]:
    """Open a case for each item whose mention and customer are new (each item the only one
    of its customer in `items`: see `candidates`); by position in `items`, what was stored.
    `conn` is in autocommit mode: the statement is its own transaction."""
    sql, arguments = _statement(items, now, reopen_after, conn.dialect)
    rows = (await conn.exec_driver_sql(sql, tuple(arguments))).all()
    return {n - 1: Stored(case_id, duplicate=False, new_case=True) for n, case_id, _ in rows}


def _statement(
    items: list[Incoming], now: datetime, reopen_after: datetime, dialect: Dialect
) -> tuple[str, list[Any]]:
    ms = [item.mention for item in items]
    arguments: list[Any] = [
        [m.source for m in ms],
        [m.external_id for m in ms],
        [m.author.handle for m in ms],
        utc_bind(reopen_after),
    ]
    inserts = [
        statement(CASES, {"id": _CASE_ID, **case_columns(items, now)}, dialect),
        statement(
            MENTIONS,
            {"id": Sql("ids.mention_id"), "case_id": _CASE_ID, **mention_columns(items, now)},
            dialect,
        ),
        statement(
            EVENTS,
            {
                "case_id": _CASE_ID,
                "kind": One("opened"),
                "from_status": One(None),
                "to_status": One(str(INITIAL_STATUS)),
                "detail": _OPENED_DETAIL,
                "actor": One("system"),
                "at": One(now),
            },
            dialect,
        ),
        statement(
            OUTBOX,
            {
                "kind": One(str(JobKind.POST_CARD)),
                "case_id": _CASE_ID,
                "mention_id": One(None),
                "channel": [item.channel for item in items],
                "payload": One(None),
                "dedupe_key": Sql(f"'{CARD_POST_PREFIX}' || ids.case_id"),
                # Urgent and high new cards jump the queue.
                "rank": [CARD_RANKS.get(item.priority) for item in items],
                "not_before": One(now),
                "created_at": One(now),
            },
            dialect,
        ),
    ]
    parts = [f"WITH ids AS ({_IDS})"]
    for name, (sql, args) in zip(("cases", "mentions", "events", "jobs"), inserts, strict=True):
        parts.append(f", new_{name} AS ({numbered_from(sql, len(arguments))})")
        arguments += args
    parts.append(" SELECT n, case_id, mention_id FROM ids")
    return "".join(parts), arguments
