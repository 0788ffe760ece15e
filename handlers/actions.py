"""Card buttons. The case actions arrive with the case-work issue; until then they say so."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.i18n import t
from bot.render import CARD_BUTTONS


def register(app: AsyncApp) -> None:
    for action_id, label, _style in CARD_BUTTONS:
        app.action(action_id)(_not_yet(label))


def _not_yet(label: str):  # type: ignore[no-untyped-def]
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
