"""Card buttons: parse the click, call the case state machine, tell the clicker if it failed.

The card itself is refreshed through the outbox, like every other message the bot posts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import cases
from bot.cases import Actor, InvalidTransition
from bot.i18n import Lang, t
from bot.render import ActionId
from bot.services import Services

NOT_YET = {
    ActionId.FORWARD: "button.forward",
    ActionId.DRAFT: "button.draft",
    ActionId.FOLLOW_UP: "button.follow_up",
}


def register(app: AsyncApp) -> None:
    app.action(ActionId.CLAIM)(_case_action(cases.claim))
    app.action(ActionId.UNCLAIM)(_case_action(cases.unclaim))
    app.action(ActionId.TAKE_OVER)(take_over)
    app.action(ActionId.RESOLVE)(_case_action(cases.resolve))
    app.action(ActionId.REOPEN)(_case_action(cases.reopen))
    for action_id, label in NOT_YET.items():
        app.action(action_id)(_not_yet(label))


def _click(body: dict[str, Any]) -> tuple[int, Actor, str | None]:
    """Case id, who clicked, and the owner the card showed when it was clicked."""
    action = body["actions"][0]
    user = body["user"]
    name = user.get("name") or user.get("username") or user["id"]
    # block_id is "case:{id}:{owner or -}" (see bot.render._card_actions)
    shown_owner = action.get("block_id", "").split(":")[2:3]
    owner = shown_owner[0] if shown_owner and shown_owner[0] != "-" else None
    return int(action["value"]), Actor(id=user["id"], name=name), owner


def _case_action(
    act: Callable[..., Awaitable[object]],
) -> Callable[..., Awaitable[None]]:
    async def listener(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
    ) -> None:
        await ack()
        services: Services = context["services"]
        case_id, actor, _owner = _click(body)
        try:
            await act(services.engine, case_id=case_id, actor=actor, now=services.clock.now())
        except InvalidTransition as refused:
            await _explain(client, body, refused, services.lang)
            return
        services.wake_outbox()

    return listener


async def take_over(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    # Slack already asked "Take over from Anna?" (the button's confirm dialog).
    await ack()
    services: Services = context["services"]
    case_id, actor, shown_owner = _click(body)
    try:
        await cases.take_over(
            services.engine,
            case_id=case_id,
            actor=actor,
            expected_owner=shown_owner or "",
            now=services.clock.now(),
        )
    except InvalidTransition as refused:
        await _explain(client, body, refused, services.lang)
        return
    services.wake_outbox()


async def _explain(
    client: AsyncWebClient, body: dict[str, Any], refused: InvalidTransition, lang: Lang
) -> None:
    owner = f"<@{refused.owner}>" if refused.owner else t("error.nobody", lang)
    await client.chat_postEphemeral(
        channel=body["channel"]["id"],
        user=body["user"]["id"],
        text=t(f"error.{refused.reason}", lang, owner=owner, status=refused.status or "?"),
    )


def _not_yet(label: str) -> Callable[..., Awaitable[None]]:
    async def answer(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
    ) -> None:
        await ack()
        lang = context["lang"]
        await client.chat_postEphemeral(
            channel=body["channel"]["id"],
            user=body["user"]["id"],
            text=t("action.coming_soon", lang, action=t(label, lang)),
        )

    return answer
