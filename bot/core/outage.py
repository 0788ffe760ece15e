"""Telling "the database is unavailable" apart from a bug, and saying so once per outage.

A database that refuses connections, does not answer or drops them is an outage: requests are
answered 503 (nothing was stored, send again) and background work waits and tries again. The
log gets one line when the outage starts and one when it ends, not a traceback per request.
"""

from __future__ import annotations

import logging
import sqlite3
import time

from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.core import metrics

log = logging.getLogger(__name__)


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached now, rather than that a query or the
    schema is wrong. asyncpg's connection errors reach us raw (OSError), not wrapped."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError | TimeoutError | PoolTimeout | InterfaceError):
            return True
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        if getattr(error, "sqlite_errorcode", None) in _SQLITE_UNAVAILABLE:
            return True
        state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(state, str) and state.startswith(_PG_UNAVAILABLE):
            return True
        error = getattr(error, "orig", None) or error.__cause__
    return False


# SQLite: another process holds the lock, or the file cannot be opened, read or written.
_SQLITE_UNAVAILABLE = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
}
# PostgreSQL SQLSTATE classes: connection exception, insufficient resources (too many
# connections), operator intervention (shutting down, cannot connect now).
_PG_UNAVAILABLE = ("08", "53", "57P")


class DatabaseOutage:
    """Tracks whether the database is down; one log line per change."""

    def __init__(self) -> None:
        self.down_since: float | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, exc: BaseException, *, doing: str) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            metrics.DATABASE_UP.set(0)
            log.error(
                "database unavailable while %s (%s: %s); answering 503 and retrying until it is "
                "back",
                doing,
                type(exc).__name__,
                str(exc).splitlines()[0][:200] if str(exc) else "no detail",
            )

    def ok(self) -> None:
        if self.down_since is not None:
            seconds = time.monotonic() - self.down_since
            self.down_since = None
            metrics.DATABASE_UP.set(1)
            log.warning("database available again after %.0f s", seconds)


# One per process: every part of the bot shares one database.
OUTAGE = DatabaseOutage()
