"""A report as Slack blocks, and the busiest-hours chart as a PNG."""

from __future__ import annotations

import io

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.core.i18n import Lang, format_when, t
from bot.insight.reports import Report, Spread
from bot.render.mrkdwn import escape


def _spread(value: Spread | None, lang: Lang) -> str:
    if value is None:
        return "—"
    return t("report.spread", lang, median=round(value.median), p90=round(value.p90))


def report_blocks(report: Report, *, period: str, timezone: str, lang: Lang) -> list[Block]:
    since = format_when(report.since, lang=lang, timezone=timezone)
    scope = escape(report.department) if report.department else t("report.everyone", lang)
    sources = ", ".join(
        f"{t('source.' + s, lang)} {n}" for s, n in report.mentions_by_source.items()
    )
    departments = ", ".join(f"{escape(d)} {n}" for d, n in report.mentions_by_department.items())
    within = (
        f"{round(100 * report.answered_within_sla)}%"
        if report.answered_within_sla is not None
        else "—"
    )
    resolution = (
        f"{round(report.resolution_business_median)} min"
        if report.resolution_business_median is not None
        else "—"
    )
    outcomes = (
        ", ".join(
            f"{t('report.outcome.' + k, lang)} {n}"
            for k, n in sorted(report.follow_up_outcomes.items())
        )
        or "—"
    )
    hours = ", ".join(f"{h:02d}:00" for h in report.busiest_hours()) or "—"
    lines = [
        t("report.volume", lang, mentions=report.mentions, cases=report.cases_opened),
        t("report.by_source", lang, sources=sources or "—"),
        t("report.by_department", lang, departments=departments or "—"),
        t(
            "report.first_response",
            lang,
            business=_spread(report.first_response_business, lang),
            wall=_spread(report.first_response_wall, lang),
        ),
        t("report.within_sla", lang, share=within)
        + (
            " " + t("report.without_deadline", lang, count=report.cases_without_deadline)
            if report.cases_without_deadline
            else ""
        ),
        t("report.resolution", lang, resolved=report.resolved, median=resolution),
        t("report.reopened", lang, count=report.reopened),
        t("report.follow_ups", lang, outcomes=outcomes),
        t("report.no_public_close", lang, count=report.resolved_without_public_close),
        t("report.busiest", lang, hours=hours),
    ]
    return [
        HeaderBlock(text=PlainTextObject(text=t(f"report.title.{period}", lang)[:150])),
        ContextBlock(
            elements=[MarkdownTextObject(text=t("report.scope", lang, scope=scope, since=since))]
        ),
        SectionBlock(text=MarkdownTextObject(text="\n".join(lines)[:3000])),
    ]


def busiest_hours_png(report: Report, *, lang: Lang) -> bytes:
    """Mentions per hour of the day, as a bar chart.

    matplotlib is imported here, not with the bot: it and numpy are some 40 MB of memory and
    most of a second of start-up for a chart a team asks for now and then. A `Figure` of its
    own, not pyplot's global state: safe in a worker thread (handlers draw it off the loop)."""
    from matplotlib.figure import Figure  # renders with Agg to memory: no screen needed
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(8, 3), dpi=100)
    axes = figure.subplots()
    axes.bar(range(24), report.mentions_by_hour, color="#4A154B")
    axes.set_xticks(range(0, 24, 2))
    axes.set_xlabel(t("report.chart.hour", lang))
    axes.set_ylabel(t("report.chart.mentions", lang))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # whole mentions, never 2.5
    axes.set_title(t("report.chart.title", lang))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
