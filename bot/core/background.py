"""Work that runs after a request was answered (a click's change after its ack): held until it
is done, so it is not garbage-collected half-way, and waited for at shutdown, so a deploy in
the middle of a burst of clicks does not drop clicks that Slack was already told were taken."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)
_RUNNING: set[asyncio.Task[Any]] = set()  # the loop itself keeps only weak references


def start(work: Coroutine[Any, Any, object]) -> None:
    task = asyncio.ensure_future(work)
    _RUNNING.add(task)
    task.add_done_callback(_finished)


def _finished(task: asyncio.Task[Any]) -> None:
    _RUNNING.discard(task)
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("work after a request was answered failed", exc_info=error)


DRAIN_SECONDS = 10.0  # at shutdown; a platform's stop signal usually allows 30 s


async def drain() -> None:
    """Wait (at most DRAIN_SECONDS) for the work that is still running."""
    if not _RUNNING:
        return
    _done, pending = await asyncio.wait(set(_RUNNING), timeout=DRAIN_SECONDS)
    if pending:
        log.warning("stopping with %d unfinished click(s)", len(pending))
