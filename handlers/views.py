"""Modal submissions."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.cases import card_actions, follow_up, forwarding
from bot.cases.follow_up import due_at
from bot.core.i18n import Lang, t
from bot.render.follow_up import MODAL_ID as FOLLOW_UP_MODAL
from bot.render.follow_up import BadFollowUp, read_follow_up_modal
from bot.render.forwarding import MODAL_ID as FORWARD_MODAL
from bot.render.forwarding import BadForward, read_forward_modal
from bot.render.resolve import MAX_NOTE as MAX_CLOSING_NOTE
from bot.render.resolve import MODAL_ID as RESOLVE_MODAL
from bot.render.resolve import NOTE, read_resolve_modal
from handlers.errors import refusal_shown_at
from handlers.payloads import actor_of, case_of_modal
from handlers.services import Services
from storage.cases import get_case


def register(app: AsyncApp) -> None:
    app.view(FOLLOW_UP_MODAL)(schedule_follow_up)
    app.view(RESOLVE_MODAL)(resolve_case)
    app.view(FORWARD_MODAL)(forward_case)


async def forward_case(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], services: Services, lang: Lang
) -> None:
    now, actor = services.clock.now(), actor_of(body)
    case_id = case_of_modal(view, body, services)
    try:
        request = read_forward_modal(
            view["state"]["values"],
            actor=actor.id,
            departments={d.key for d in services.config.departments},
            lang=lang,
        )
    except BadForward as bad:
        await ack(response_action="errors", errors={bad.block: bad.message})
        return
    with refusal_shown_at("person" if request.person else "department"):
        if request.person:
            await forwarding.forward_to_person(
                services.engine,
                case_id=case_id,
                actor=actor,
                person=request.person,
                note=request.note,
                config=services.config,
                calendar_for=services.calendar_for,
                now=now,
            )
        else:
            assert request.department is not None
            await forwarding.move_to_department(
                services.engine,
                case_id=case_id,
                actor=actor,
                department=request.department,
                note=request.note,
                config=services.config,
                now=now,
            )
    await ack()
    services.wake_outbox()
    services.wake_scheduler()


async def resolve_case(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], services: Services, lang: Lang
) -> None:
    closing_note, public_close = read_resolve_modal(view["state"]["values"])
    if closing_note is not None and len(closing_note) > MAX_CLOSING_NOTE:
        too_long = t("error.too_long", lang, limit=MAX_CLOSING_NOTE, length=len(closing_note))
        await ack(response_action="errors", errors={NOTE: too_long})
        return
    with refusal_shown_at(NOTE):
        await card_actions.resolve(
            services.engine,
            case_id=case_of_modal(view, body, services),
            actor=actor_of(body),
            now=services.clock.now(),
            closing_note=closing_note,
            public_close=public_close,
        )
    await ack()
    services.wake_outbox()


async def schedule_follow_up(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
    lang: Lang,
) -> None:
    now = services.clock.now()
    case_id = case_of_modal(view, body, services)
    async with services.engine.connect() as conn:
        case = await get_case(conn, case_id=case_id)
    if case is None:
        await ack(response_action="errors", errors={"when": t("error.not_found", lang)})
        return
    try:
        choice = read_follow_up_modal(view["state"]["values"], now=now, lang=lang)
    except BadFollowUp as bad:
        await ack(response_action="errors", errors={bad.block: bad.message})
        return
    due = due_at(choice, calendar=services.calendar_for(case.department), now=now)
    with refusal_shown_at("when"):
        await follow_up.schedule_follow_up(
            services.engine, case_id=case_id, actor=actor_of(body), due_at=due, now=now
        )
    await ack()
    services.wake_outbox()
    services.wake_scheduler()
