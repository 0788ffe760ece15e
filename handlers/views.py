"""Modal submissions."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import cases
from bot.cases import Actor, InvalidTransition
from bot.follow_up import MODAL_ID, BadFollowUp, due_from_modal
from bot.i18n import t
from bot.services import Services
from storage.cases import get_case


def register(app: AsyncApp) -> None:
    app.view(MODAL_ID)(schedule_follow_up)


async def schedule_follow_up(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: dict[str, Any],
) -> None:
    services: Services = context["services"]
    lang, now = services.lang, services.clock.now()
    case_id = int(view["private_metadata"])
    async with services.engine.connect() as conn:
        case = await get_case(conn, case_id=case_id)
    if case is None:
        await ack(response_action="errors", errors={"when": t("error.not_found", lang)})
        return
    try:
        due = due_from_modal(
            view["state"]["values"],
            calendar=services.calendar_for(case.department),
            now=now,
            lang=lang,
        )
    except BadFollowUp as bad:
        await ack(response_action="errors", errors={bad.block: bad.message})
        return
    user = body["user"]
    actor = Actor(id=user["id"], name=user.get("name") or user.get("username") or user["id"])
    try:
        await cases.schedule_follow_up(
            services.engine, case_id=case_id, actor=actor, due_at=due, now=now
        )
    except InvalidTransition as refused:
        owner = f"<@{refused.owner}>" if refused.owner else t("error.nobody", lang)
        message = t(f"error.{refused.reason}", lang, owner=owner, status=refused.status or "?")
        await ack(response_action="errors", errors={"when": message})
        return
    await ack()
    services.wake_outbox()
    services.wake_scheduler()
