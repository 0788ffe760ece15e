"""Reports for a period: volumes, response and resolution times against the SLA, reopens,
follow-up outcomes and the busiest hours; as Slack blocks, a chart, CSV or JSON."""

from __future__ import annotations

import asyncio
import csv
import io
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.config import WebcareConfig
from bot.insight.team_status import calendar_for
from storage import reports

Period = Literal["today", "week", "month"]
PERIODS: tuple[Period, ...] = ("today", "week", "month")


@dataclass(frozen=True, slots=True)
class Spread:
    """Median and 90th percentile, in minutes."""

    median: float
    p90: float


@dataclass
class Report:
    since: datetime
    until: datetime
    department: str | None
    mentions: int = 0
    mentions_by_source: dict[str, int] = field(default_factory=dict)
    mentions_by_department: dict[str, int] = field(default_factory=dict)
    cases_opened: int = 0
    first_response_business: Spread | None = None
    first_response_wall: Spread | None = None
    answered_within_sla: float | None = None  # share of cases whose deadline has come
    cases_without_deadline: int = 0  # proactive, no rule gave one: not in the SLA share
    resolved: int = 0
    resolution_business_median: float | None = None
    reopened: int = 0
    follow_up_outcomes: dict[str, int] = field(default_factory=dict)
    resolved_without_public_close: int = 0
    mentions_by_hour: list[int] = field(default_factory=lambda: [0] * 24)

    def busiest_hours(self, top: int = 3) -> list[int]:
        ranked = sorted(range(24), key=lambda h: (-self.mentions_by_hour[h], h))
        return [h for h in ranked[:top] if self.mentions_by_hour[h]]

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["since"], data["until"] = self.since.isoformat(), self.until.isoformat()
        data["busiest_hours"] = self.busiest_hours()
        return data


def period_bounds(period: Period, *, now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Today, this week (from Monday) or this month, in the team's time zone, up to now."""
    local = now.astimezone(ZoneInfo(timezone))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        start -= timedelta(days=start.weekday())
    elif period == "month":
        start = start.replace(day=1)
    return start, now


def _cell(value: object) -> object:
    """Spreadsheets run cells starting with = + - @ as formulas: customer text must not."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def spread(values: list[float]) -> Spread | None:
    if not values:
        return None
    if len(values) == 1:
        return Spread(values[0], values[0])
    return Spread(
        statistics.median(values), statistics.quantiles(values, n=10, method="inclusive")[8]
    )


async def build_report(
    engine: AsyncEngine,
    *,
    config: WebcareConfig,
    since: datetime,
    until: datetime,
    department: str | None = None,
) -> Report:
    async with engine.connect() as conn:
        mentions = await reports.mention_counts(
            conn, since=since, until=until, department=department
        )
        opened = await reports.answer_times(conn, since=since, until=until, department=department)
        resolved = await reports.cases_resolved_between(
            conn, since=since, until=until, department=department
        )
        events = await reports.event_counts(conn, since=since, until=until, department=department)
    # A busy month is seconds of Python (business minutes for every case): summed up in a
    # worker thread, so webhooks and clicks are answered meanwhile.
    return await asyncio.to_thread(
        _summarise, config, since, until, department, mentions, opened, resolved, events
    )


def _summarise(
    config: WebcareConfig,
    since: datetime,
    until: datetime,
    department: str | None,
    mentions: list[tuple[str, str, datetime, int]],
    opened: list[Row[Any]],
    resolved: list[Row[Any]],
    events: list[tuple[str, str | None, bool | None, int]],
) -> Report:
    zone = ZoneInfo(config.business_hours.timezone)
    report = Report(since=since, until=until, department=department)

    by_source: Counter[str] = Counter()
    by_department: Counter[str] = Counter()
    for source, dept, hour, count in mentions:
        by_source[source] += count
        by_department[dept] += count
        report.mentions_by_hour[hour.astimezone(zone).hour] += count
    report.mentions = sum(by_source.values())
    report.mentions_by_source = dict(by_source.most_common())
    report.mentions_by_department = dict(by_department.most_common())

    report.cases_opened = len(opened)
    answered = [c for c in opened if c.first_response_at is not None]
    report.first_response_business = spread(
        [
            calendar_for(config, c.department).minutes_between(c.opened_at, c.first_response_at)
            for c in answered
        ]
    )
    report.first_response_wall = spread(
        [(c.first_response_at - c.opened_at).total_seconds() / 60 for c in answered]
    )
    # Against the SLA only what had a deadline: a proactive news hit was never late.
    with_deadline = [c for c in opened if c.sla_due_at is not None]
    report.cases_without_deadline = len(opened) - len(with_deadline)
    on_time = sum(
        c.first_response_at is not None and c.first_response_at <= _first_due(c)
        for c in with_deadline
    )
    late = sum(_late(c, until) for c in with_deadline)
    report.answered_within_sla = on_time / (on_time + late) if on_time + late else None

    report.resolved = len(resolved)
    times = [
        calendar_for(config, c.department).minutes_between(c.opened_at, c.resolved_at)
        for c in resolved
    ]
    report.resolution_business_median = statistics.median(times) if times else None

    for kind, action, public_close, count in events:
        if kind in ("reopened", "reopen"):
            report.reopened += count
        elif kind == "follow_up_outcome":
            outcome = (action or "?").removeprefix("follow_up_")
            report.follow_up_outcomes[outcome] = report.follow_up_outcomes.get(outcome, 0) + count
        elif kind == "resolve" and public_close is False:
            report.resolved_without_public_close += count
    return report


def _late(case: Row[Any], until: datetime) -> bool:
    """Whether a case with a deadline missed it: answered after it, or still waiting for an
    answer when it passed. A case closed before its deadline without a public answer (sorted
    out by phone) was not late, as the SLA sweep never called it breached."""
    if case.first_response_at is not None:
        return bool(case.first_response_at > _first_due(case))
    waited_until = case.resolved_at if case.resolved_at is not None else until
    return bool(case.sla_due_at <= waited_until)


def _first_due(case: Row[Any]) -> datetime:
    """The deadline the first answer was judged against: a later wait (the customer wrote
    again) has a deadline of its own in sla_due_at."""
    return case.first_response_due_at or case.sla_due_at


async def cases_csv(
    engine: AsyncEngine,
    *,
    config: WebcareConfig,
    since: datetime,
    until: datetime,
    department: str | None = None,
) -> str:
    """One row per case opened in the period, for the monthly report to management."""
    async with engine.connect() as conn:
        opened = await reports.cases_opened_between(
            conn, since=since, until=until, department=department
        )
    return await asyncio.to_thread(_csv, config, opened)


def _csv(config: WebcareConfig, opened: list[Row[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "case_id",
            "department",
            "source",
            "customer",
            "status",
            "priority",
            "owner",
            "opened_at",
            "sla_due_at",
            "first_response_at",
            "first_response_business_minutes",
            "within_sla",
            "resolved_at",
            "messages",
        ]
    )
    for c in opened:
        business = (
            round(
                calendar_for(config, c.department).minutes_between(
                    c.opened_at, c.first_response_at
                ),
                1,
            )
            if c.first_response_at
            else ""
        )
        within = (
            ""
            if c.first_response_at is None or c.sla_due_at is None
            else c.first_response_at <= _first_due(c)
        )
        writer.writerow(
            map(
                _cell,
                [
                    c.id,
                    c.department,
                    c.source,
                    c.author_handle,
                    c.status,
                    c.priority,
                    c.owner_id or "",
                    c.opened_at.isoformat(),
                    c.sla_due_at.isoformat() if c.sla_due_at else "",
                    c.first_response_at.isoformat() if c.first_response_at else "",
                    business,
                    within,
                    c.resolved_at.isoformat() if c.resolved_at else "",
                    c.mention_count,
                ],
            )
        )
    return out.getvalue()
