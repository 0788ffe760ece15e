"""Card buttons: parse the click, call the case state machine, tell the clicker if it failed.

The card itself is refreshed through the outbox, like every other message the bot posts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.cases import card_actions, crisis, follow_up
from bot.cases import state_machine as cases
from bot.cases.forwarding import answer_forward as answer_forward_request
from bot.cases.state_machine import Actor, InvalidTransition
from bot.core.i18n import Lang
from bot.render.action_ids import FOLLOW_UP_ANSWERS, ActionId
from bot.render.digests import DIGEST_CLAIM
from bot.render.follow_up import follow_up_answered, follow_up_modal
from bot.render.forwarding import forward_modal, simple_dm
from bot.render.resolve import resolve_modal
from handlers.payloads import (
    Clicker,
    actor_of,
    after_ack,
    attempt,
    clicked_message,
    on_its_card,
    payload_id,
    refusal_text,
    replace_clicked_message,
    sealed_case_modal,
    tell,
)
from handlers.services import Services
from storage.cases import get_case as read_case
from storage.cases import went_private


def register(app: AsyncApp) -> None:
    app.action(ActionId.CLAIM)(_case_action(card_actions.claim))
    app.action(DIGEST_CLAIM)(_case_action(card_actions.claim))  # a row of a storm digest
    app.action(ActionId.UNCLAIM)(_case_action(card_actions.unclaim))
    app.action(ActionId.TAKE_OVER)(take_over)
    app.action(ActionId.RESOLVE)(open_resolve_modal)
    app.action(ActionId.REOPEN)(_case_action(card_actions.reopen))
    app.action(ActionId.FOLLOW_UP)(open_follow_up_modal)
    app.action(ActionId.CRISIS_START)(start_crisis)
    app.action(ActionId.CRISIS_END)(end_crisis)
    app.action(ActionId.FORWARD)(open_forward_modal)
    app.action(ActionId.FORWARD_TAKE)(answer_forward)
    app.action(ActionId.FORWARD_SEND_BACK)(answer_forward)
    for answer in FOLLOW_UP_ANSWERS:
        app.action(answer)(answer_follow_up)


def _click(body: dict[str, Any]) -> tuple[int, Actor, str | None]:
    """Case id, who clicked, and the owner the card showed when it was clicked."""
    action = body["actions"][0]
    # A card's block_id is "case:{id}:{owner or -}" (see bot.render.cards._card_actions).
    shown_owner = action.get("block_id", "").split(":")[2:3]
    owner = shown_owner[0] if shown_owner and shown_owner[0] != "-" else None
    return payload_id(action["value"]), actor_of(body), owner


async def _on_its_card(
    client: AsyncWebClient, body: dict[str, Any], services: Services, case_id: int, lang: Lang
) -> bool:
    return await on_its_card(
        client, Clicker.of(body), clicked_message(body), services, case_id, lang
    )


def _case_action(
    act: Callable[..., Awaitable[object]],
) -> Callable[..., Awaitable[None]]:
    async def listener(
        ack: AsyncAck,
        body: dict[str, Any],
        client: AsyncWebClient,
        context: dict[str, Any],
        services: Services,
        lang: Lang,
    ) -> None:
        await ack()
        case_id, actor, _owner = _click(body)
        clicker, clicked = Clicker.of(body), clicked_message(body)

        async def work() -> None:
            if await on_its_card(client, clicker, clicked, services, case_id, lang):
                now = services.clock.now()
                change = act(services.engine, case_id=case_id, actor=actor, now=now)
                await attempt(client, clicker, services, change, lang)

        await after_ack(context, work())

    return listener


async def take_over(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    context: dict[str, Any],
    services: Services,
    lang: Lang,
) -> None:
    # Slack already asked "Take over from Anna?" (the button's confirm dialog).
    await ack()
    case_id, actor, shown_owner = _click(body)
    clicker, clicked = Clicker.of(body), clicked_message(body)

    async def work() -> None:
        if await on_its_card(client, clicker, clicked, services, case_id, lang):
            change = card_actions.take_over(
                services.engine,
                case_id=case_id,
                actor=actor,
                expected_owner=shown_owner or "",
                now=services.clock.now(),
            )
            await attempt(client, clicker, services, change, lang)

    await after_ack(context, work())


async def open_follow_up_modal(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, services: Services, lang: Lang
) -> None:
    await ack()
    # trigger_id expires 3 s after the click: open the modal before anything slow.
    case_id, _actor, _owner = _click(body)
    if not await _on_its_card(client, body, services, case_id, lang):
        return
    view = follow_up_modal(case_id=case_id, lang=lang)
    view = sealed_case_modal(view, case_id=case_id, user=body["user"]["id"], services=services)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def open_forward_modal(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, services: Services, lang: Lang
) -> None:
    await ack()
    case_id, _actor, _owner = _click(body)
    if not await _on_its_card(client, body, services, case_id, lang):
        return
    async with services.engine.connect() as conn:
        case = await read_case(conn, case_id=case_id)
    if case is None:
        await tell(client, body, refusal_text(InvalidTransition("not_found"), lang))
        return
    view = forward_modal(
        case_id=case_id,
        current=services.config.department(case.department),
        config=services.config,
        lang=lang,
    )
    view = sealed_case_modal(view, case_id=case_id, user=body["user"]["id"], services=services)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def answer_forward(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, services: Services, lang: Lang
) -> None:
    """The person a case was forwarded to takes it or sends it back, from their DM."""
    await ack()
    action = body["actions"][0]
    take = action["action_id"] == ActionId.FORWARD_TAKE
    case_id, actor, _owner = _click(body)
    await answer_forward_request(
        services.engine, case_id=case_id, actor=actor, take=take, now=services.clock.now()
    )
    services.wake_outbox()
    text, blocks = simple_dm("forward.taken" if take else "forward.sent_back", lang, id=case_id)
    await replace_clicked_message(client, body, text, blocks)


async def start_crisis(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, services: Services, lang: Lang
) -> None:
    """From a spike alert: gather the department's mentions about the topic in one thread."""
    await ack()
    change = crisis.start_from_alert(
        services.engine,
        alert_id=payload_id(body["actions"][0]["value"]),
        actor=actor_of(body),
        config=services.config,
        now=services.clock.now(),
    )
    await attempt(client, body, services, change, lang)


async def end_crisis(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, services: Services, lang: Lang
) -> None:
    await ack()
    change = crisis.end(
        services.engine,
        department=body["actions"][0]["value"],
        actor=actor_of(body),
        now=services.clock.now(),
    )
    await attempt(client, body, services, change, lang)


async def open_resolve_modal(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, services: Services, lang: Lang
) -> None:
    await ack()
    case_id, _actor, _owner = _click(body)
    if not await _on_its_card(client, body, services, case_id, lang):
        return
    async with services.engine.connect() as conn:
        ask = await went_private(conn, case_id=case_id)  # one indexed query: well within 3 s
    view = resolve_modal(case_id=case_id, ask_public_close=ask, lang=lang)
    view = sealed_case_modal(view, case_id=case_id, user=body["user"]["id"], services=services)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def answer_follow_up(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, services: Services, lang: Lang
) -> None:
    """The owner answers "is the customer's problem solved?" in their DM."""
    await ack()
    action = body["actions"][0]
    answer = ActionId(action["action_id"])
    actor = actor_of(body)
    case_id, now = payload_id(action["value"]), services.clock.now()
    await follow_up.record_follow_up(
        services.engine,
        case_id=case_id,
        actor=actor,
        outcome=cases.Action(answer.value),
        now=now,
        calendar_for=services.calendar_for,
    )
    services.wake_outbox()
    services.wake_scheduler()
    text, blocks = follow_up_answered(answer=answer, actor=actor.name, lang=lang)
    await replace_clicked_message(client, body, text, blocks)
