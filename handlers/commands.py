"""The /webcare slash command."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.i18n import Lang, t
from bot.insight.backlog import behind, channel_backlog
from bot.insight.reports import PERIODS, build_report, period_bounds
from bot.insight.team_status import find_department, team_status
from bot.render.cards import as_dicts, help_blocks
from bot.render.mrkdwn import escape
from bot.render.reports import busiest_hours_png, report_blocks
from bot.render.status import mine_blocks, status_blocks
from handlers.services import Services
from storage import outbox_report, stats

log = logging.getLogger(__name__)


def register(app: AsyncApp) -> None:
    app.command("/webcare")(webcare_command)


async def webcare_command(
    ack: AsyncAck,
    respond: AsyncRespond,
    command: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
    lang: Lang,
) -> None:
    words = _typed(command.get("text") or "").split()
    sub = words[0].lower() if words else "help"
    # Answers go only to the person who asked ("ephemeral"), as JSON so they can carry blocks.
    if sub == "help":
        await ack(
            text=t("help.body", lang),
            blocks=as_dicts(help_blocks(lang=lang)),
            response_type="ephemeral",
        )
    elif sub == "status":
        await ack(**await _status(services, command, words[1:], lang), response_type="ephemeral")
    elif sub == "mine":
        async with services.engine.connect() as conn:
            cases, total = await stats.owned_by(conn, user=command["user_id"])
        team_url = _team_url(services, command)
        blocks = mine_blocks(cases, total=total, team_url=team_url, lang=lang)
        await ack(
            text=t("mine.title", lang, count=total),
            blocks=as_dicts(blocks),
            response_type="ephemeral",
        )
    elif sub == "report":
        await _report(ack, respond, services, command, words[1:], client, lang)
    else:
        await ack(text=t("command.unknown", lang, sub=escape(sub[:40])), response_type="ephemeral")


def _typed(text: str) -> str:
    """The command's text as it was typed: Slack sends "&", "<" and ">" escaped ("Outages &
    incidents" arrives as "Outages &amp; incidents"), and only those three."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _team_url(services: Services, command: dict[str, Any]) -> str | None:
    domain = command.get("team_domain")
    return services.workspace.url or (f"https://{domain}.slack.com/" if domain else None)


async def _status(
    services: Services, command: dict[str, Any], args: list[str], lang: Lang
) -> dict[str, Any]:
    """The answer to `/webcare status [department]`."""
    config = services.config
    only = None
    if args:
        only = find_department(config, " ".join(args))
        if only is None:
            known = ", ".join(d.key for d in config.departments)
            return {
                "text": t(
                    "status.unknown_department", lang, name=escape(" ".join(args)[:40]), known=known
                )
            }
    now = services.clock.now()
    statuses = await team_status(services.engine, config=config, now=now, only=only)
    down = await services.source_health.down_sources() if services.source_health else {}
    late = behind(await channel_backlog(services.engine), now=now)
    async with services.engine.connect() as conn:
        dead = await conn.run_sync(outbox_report.dead_count)
    blocks = status_blocks(
        statuses,
        now=now,
        team_url=_team_url(services, command),
        lang=lang,
        sources_down=down,
        behind=late,
        dead_jobs=dead,
    )
    return {"text": t("status.title", lang), "blocks": as_dicts(blocks)}


async def _report(
    ack: AsyncAck,
    respond: AsyncRespond,
    services: Services,
    command: dict[str, Any],
    args: list[str],
    client: AsyncWebClient,
    lang: Lang,
) -> None:
    """`/webcare report [today|week|month] [department]`: figures now, the chart in a DM."""
    config = services.config
    if args and args[0].lower() not in PERIODS:
        args = ["week", *args]  # `/webcare report billing`: the week, as without a period
    period = args[0].lower() if args else "week"
    department = find_department(config, " ".join(args[1:])) if args[1:] else None
    if period not in PERIODS or (args[1:] and department is None):
        await ack(text=t("report.bad_period", lang), response_type="ephemeral")
        return
    # A month of a busy team's cases takes longer than Slack waits for an answer: answer now,
    # send the figures when they are ready.
    await ack(text=t("report.building", lang), response_type="ephemeral")
    timezone = config.business_hours.timezone
    since, until = period_bounds(period, now=services.clock.now(), timezone=timezone)
    try:
        report = await build_report(
            services.engine,
            config=config,
            since=since,
            until=until,
            department=department.key if department else None,
        )
        blocks = report_blocks(report, period=period, timezone=timezone, lang=lang)
    except Exception:  # the "building" line must not stay up as if the figures were coming
        log.exception("building the %s report failed", period)
        await respond(text=t("error.failed", lang), replace_original=True)
        return
    await respond(
        text=t(f"report.title.{period}", lang),
        blocks=as_dicts(blocks),
        response_type="ephemeral",
        replace_original=True,
    )
    if report.mentions:
        dm = await client.conversations_open(users=command["user_id"])
        await client.files_upload_v2(
            channel=dm["channel"]["id"],
            # Rendering takes a tenth of a second or more: not on the event loop.
            content=await asyncio.to_thread(busiest_hours_png, report, lang=lang),
            filename="busiest-hours.png",
            title=t("report.chart.title", lang),
        )
