"""Crisis mode: during a surge, a department's mentions about the topic gather in one thread
instead of one card each in the channel, and drafts start from the holding template."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Row
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.drafts import fill_template
from bot.cases.state_machine import Actor, InvalidTransition
from bot.core.config import WebcareConfig
from bot.core.folding import fold
from bot.insight.spikes import BRAND
from storage import crisis as store
from storage.cases import get_case
from storage.db import unit_of_work


def about_topic(text: str, topic: list[str]) -> bool:
    """Whether a mention is about the crisis topic (any of its words, ignoring case/accents)."""
    folded = fold(text)
    return any(fold(word) in folded for word in topic)


async def start_from_alert(
    engine: AsyncEngine, *, alert_id: int, actor: Actor, config: WebcareConfig, now: datetime
) -> str:
    """Start crisis mode for the alert's department; returns the department key."""

    def work(conn: Connection) -> str:
        alert = store.alert(conn, alert_id=alert_id)
        if alert is None or alert.scope == BRAND:
            raise InvalidTransition("not_found")
        department = config.department(alert.scope)
        topic = [word for word, _count in (alert.details or {}).get("words", [])[:3]]
        if not store.start(
            conn,
            department=department.key,
            channel=department.channel,
            topic=topic,
            alert_id=alert_id,
            actor=actor.id,
            now=now,
        ):
            raise InvalidTransition("crisis_already_on")
        if alert.slack_channel:
            store.queue_alert_refresh(conn, alert_id=alert_id, channel=alert.slack_channel, now=now)
        return department.key

    return await unit_of_work(engine).run(work)


async def end(engine: AsyncEngine, *, department: str, actor: Actor, now: datetime) -> None:
    def work(conn: Connection) -> None:
        crisis = store.end(conn, department=department, actor=actor.id, now=now)
        if crisis is None:
            raise InvalidTransition("crisis_not_on")
        if crisis.alert_id is not None:
            alert = store.alert(conn, alert_id=crisis.alert_id)
            if alert is not None and alert.slack_channel:
                store.queue_alert_refresh(
                    conn, alert_id=alert.id, channel=alert.slack_channel, now=now
                )

    await unit_of_work(engine).run(work)


async def active_crisis(engine: AsyncEngine, *, department: str) -> Row[Any] | None:
    return await unit_of_work(engine).run(partial(store.active, department=department))


async def new_draft_text(
    engine: AsyncEngine, *, config: WebcareConfig, case_id: int, agent: str
) -> str:
    """What a new draft starts with: in crisis mode, the department's holding template filled in
    for this case and agent; otherwise nothing."""
    async with engine.connect() as conn:
        case = await get_case(conn, case_id=case_id)
    if case is None:
        raise InvalidTransition("not_found")
    department = config.department(case.department)
    if department.holding_template is None:
        return ""
    if await active_crisis(engine, department=department.key) is None:
        return ""
    template = next(t for t in department.templates if t.key == department.holding_template)
    return fill_template(template.text, case=case, agent_name=agent)
