"""Keeps PostgreSQL's statistics current while the tables grow fast (PostgreSQL only).

PostgreSQL plans a query from the statistics ANALYZE gathered. A new database's tables have
none, and autovacuum looks only once a minute: until then the planner believes `cases` and
`mentions` are nearly empty, and looks up a batch's customers and mention ids by the source
alone, reading every row of it. Ingest then slows down with every mention stored (measured:
5,000 mentions/s falling to 1,300 within 12,000 mentions; 5,700/s steady once analysed). So
the bot analyses the tables it looks up by itself each time they have doubled since it last
did: a dozen cheap, sampled ANALYZEs on the way to a million rows, then none.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, text

log = logging.getLogger(__name__)

FIRST_AT = 1_000  # rows: below this any plan is fast
TABLES = "cases, mentions, outbox"


class TableStats:
    def __init__(self) -> None:
        self.rows: float | None = None  # mentions at the last ANALYZE (as PostgreSQL counts)
        self.added = 0

    def stored(self, count: int) -> bool:
        """Count mentions stored; True when the tables are due for ANALYZE."""
        self.added += count
        known = self.rows or 0.0
        return self.rows is None or self.added >= max(FIRST_AT, known)

    def analyze(self, conn: Connection) -> None:
        """ANALYZE if due, judged against what PostgreSQL itself knows (another replica or
        autovacuum may have analysed meanwhile)."""
        known = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = to_regclass('mentions')")
        ).scalar()
        known = max(float(known or 0), 0.0)  # -1: never analysed
        if self.rows is None and known >= FIRST_AT:
            self.rows, self.added = known, 0  # a database with history: already analysed
            return
        conn.exec_driver_sql(f"ANALYZE {TABLES}")
        self.rows = max(known, float(self.added))
        self.added = 0
        log.info("analysed %s for the planner (about %.0f mentions)", TABLES, self.rows)
