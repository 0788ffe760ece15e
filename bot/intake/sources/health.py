"""Is a source down? One alert in the configured channel when a source has been failing (or,
where the team asked for it, quiet) for longer than allowed, and one "recovered" message when it
works again; the flag lives on the source's cursor row, so replicas and restarts say it once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.clock import Clock
from bot.core.config import WebcareConfig
from storage import cursors, outbox
from storage.statuses import JobKind

log = logging.getLogger(__name__)
DEFAULT_AFTER_MINUTES = 30  # when no source_alerts are configured (status, health)


@dataclass(frozen=True, slots=True)
class Down:
    """Why a source counts as down, and since when."""

    reason: str  # "failing" or "quiet"
    since: datetime
    error: str | None = None


# Learning a source's pace: only from this many items on, and never quicker than the floor
# (many sources are calm at night and over the weekend); quiet means this many usual gaps
# without a new item.
LEARN_FROM_ITEMS = 50
LEARNT_FLOOR = timedelta(days=3)
LEARNT_GAPS = 10


def down_state(
    source: Any, row: Any, *, now: datetime, after_minutes: int, watched: bool = True
) -> Down | None:
    """Failing for `after_minutes`, or quiet: no new item for longer than `quiet_after`.
    Quiet is judged only for a source `watched` (polled successfully since this process
    started): after downtime every source would look quiet until its first poll."""
    if row is None:
        return None
    if row.failing_since is not None and now - row.failing_since >= timedelta(
        minutes=after_minutes
    ):
        return Down("failing", row.failing_since, row.last_error)
    quiet, last = quiet_after(source, row), row.last_item_at
    if watched and quiet is not None and last is not None and now - last >= quiet:
        return Down("quiet", last)
    return None


def quiet_after(source: Any, row: Any) -> timedelta | None:
    """How long without a new item counts as quiet for this source: its
    `quiet_alert_minutes`, or else ten of its usual gaps between arrivals (at least three
    days) once fifty items have come in after its first poll; None: not watched for quiet."""
    configured = getattr(source, "quiet_alert_minutes", None)
    if configured is not None:
        return timedelta(minutes=configured) if configured else None
    if row is None or row.items_learned < LEARN_FROM_ITEMS or not row.first_success_at:
        return None
    if not row.last_item_at or row.last_item_at <= row.first_success_at:
        return None
    usual_gap = (row.last_item_at - row.first_success_at) / row.items_learned
    return max(LEARNT_FLOOR, LEARNT_GAPS * usual_gap)


class SourceHealth:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        config: WebcareConfig,
        clock: Clock,
        on_alert: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.on_alert = on_alert
        self.polled: set[str] = set()  # sources read successfully since this process started

    def polled_ok(self, name: str) -> None:
        self.polled.add(name)

    async def first_poll(self, name: str, *, items: int, since: datetime, now: datetime) -> None:
        """Say what a source's first poll took in (its backfill), so the team knows the
        source works and how far back it reached."""
        log.info("source %s: first poll took in %d items posted since %s", name, items, since)
        alerts = self.config.source_alerts
        if alerts is None:
            return
        payload = {"source": name, "state": "connected", "since": since.isoformat(), "items": items}
        async with self.engine.begin() as conn:
            await conn.run_sync(
                lambda sync: outbox.enqueue(
                    sync,
                    kind=JobKind.SOURCE_ALERT,
                    channel=alerts.channel,
                    now=now,
                    payload=payload,
                )
            )
        if self.on_alert is not None:
            self.on_alert()

    def after_minutes(self) -> int:
        alerts = self.config.source_alerts
        return alerts.after_minutes if alerts else DEFAULT_AFTER_MINUTES

    async def down_sources(self) -> dict[str, Down]:
        """The configured sources that are down now, by name."""
        async with self.engine.connect() as conn:
            rows = await cursors.all_cursors(conn)
        return self._down(rows, self.clock.now())

    def _down(self, rows: dict[str, Any], now: datetime) -> dict[str, Down]:
        found = {}
        for source in self.config.sources:
            down = down_state(
                source,
                rows.get(source.name),
                now=now,
                after_minutes=self.after_minutes(),
                watched=source.name in self.polled,
            )
            if down is not None:
                found[source.name] = down
        return found

    async def check(self) -> int:
        """Queue the alerts and recoveries that are due; returns how many were queued."""
        alerts = self.config.source_alerts
        if alerts is None:
            return 0
        now = self.clock.now()
        queued = 0
        async with self.engine.begin() as conn:
            rows = await cursors.all_cursors(conn)
            down = self._down(rows, now)
            for source in self.config.sources:
                payload = await _change(conn, source.name, rows.get(source.name), down, now)
                if payload is not None:
                    await conn.run_sync(
                        lambda sync, body=payload: outbox.enqueue(
                            sync,
                            kind=JobKind.SOURCE_ALERT,
                            channel=alerts.channel,
                            now=now,
                            payload=body,
                        )
                    )
                    log.warning("source %s: %s", source.name, payload["state"])
                    queued += 1
        if queued and self.on_alert is not None:
            self.on_alert()
        return queued


async def _change(
    conn: Any, name: str, row: Any, down: dict[str, Down], now: datetime
) -> dict[str, Any] | None:
    """The message to post when the source went down or came back (claimed on its row)."""
    state = down.get(name)
    if state is not None and row.down_alert_at is None:
        if await cursors.mark_down_alerted(conn, name=name, now=now):
            return {
                "source": name,
                "state": state.reason,
                "since": state.since.isoformat(),
                "error": state.error,
            }
        return None
    came_back = state is None and row is not None and row.down_alert_at is not None
    if came_back and await cursors.mark_recovered(conn, name=name):
        return {"source": name, "state": "recovered", "since": row.down_alert_at.isoformat()}
    return None


def source_report(
    config: WebcareConfig, rows: dict[str, Any], *, now: datetime, polled: set[str] | None = None
) -> dict[str, Any]:
    """Per configured source, what /healthz and /metrics show: last success and error, items
    seen, lag (time since the newest item), and whether it counts as down."""
    alerts = config.source_alerts
    after = alerts.after_minutes if alerts else DEFAULT_AFTER_MINUTES
    shown: dict[str, Any] = {}
    for source in config.sources:
        row = rows.get(source.name)
        watched = polled is None or source.name in polled
        down = down_state(source, row, now=now, after_minutes=after, watched=watched)
        newest = row.newest_seen_at if row else None
        quiet = quiet_after(source, row)
        shown[source.name] = {
            "type": source.type,
            "last_success": _iso(row.last_success_at) if row else None,
            "last_error": row.last_error if row and row.failures else None,
            "last_error_at": _iso(row.last_error_at) if row and row.failures else None,
            "failures_in_a_row": row.failures if row else 0,
            "items_seen": row.items_seen if row else 0,
            "lag_seconds": round((now - newest).total_seconds()) if newest else None,
            "down": down is not None,
            "down_reason": down.reason if down else None,
            "quiet_after_minutes": round(quiet.total_seconds() / 60) if quiet else None,
        }
    return shown


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
