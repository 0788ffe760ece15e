"""One `webcare serve` per SQLite file: a second one is refused at start, with the reason.

SQLite has one writer, and the outbox leases and scheduled work assume one process per file
(replicas need PostgreSQL). Two processes would compete for the write lock and stall both.
The lock is an advisory `flock` on a file beside the database, held as long as the process
lives: the kernel drops it when the process dies, even on SIGKILL, so nothing is left stale.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url


class AlreadyServing(Exception):
    """Another process serves this SQLite file."""


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyServing(holder) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None


def serve_lock(database_url: str) -> FileLock | None:
    """The lock `serve` must hold for this database; None when it needs none (PostgreSQL,
    or an in-memory SQLite database)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return FileLock(Path(f"{url.database}.serve-lock"))
