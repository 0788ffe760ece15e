"""Reading Slack payloads and answering the person who clicked: shared by every listener."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.cases import Actor, InvalidTransition
from bot.i18n import Lang, t
from bot.services import Services


def actor_of(body: dict[str, Any]) -> Actor:
    """The Slack user who clicked or submitted."""
    user = body["user"]
    return Actor(id=user["id"], name=user.get("name") or user.get("username") or user["id"])


def refusal_text(refused: InvalidTransition, lang: Lang) -> str:
    """Why the action was refused, in the catalogue's words."""
    owner = f"<@{refused.owner}>" if refused.owner else t("error.nobody", lang)
    return t(f"error.{refused.reason}", lang, owner=owner, status=refused.status or "?")


async def tell(client: AsyncWebClient, body: dict[str, Any], text: str) -> None:
    """An ephemeral answer to the clicker, where they clicked."""
    await client.chat_postEphemeral(
        channel=body["channel"]["id"], user=body["user"]["id"], text=text
    )


async def attempt(
    client: AsyncWebClient, body: dict[str, Any], services: Services, change: Awaitable[object]
) -> bool:
    """Make a change; tell the clicker why when it is refused. True when it was made."""
    try:
        await change
    except InvalidTransition as refused:
        await tell(client, body, refusal_text(refused, services.lang))
        return False
    services.wake_outbox()
    return True


async def replace_clicked_message(
    client: AsyncWebClient, body: dict[str, Any], text: str, blocks: list[Any]
) -> None:
    """Turn the message whose button was clicked (a DM question) into its answer."""
    await client.chat_update(
        channel=body["channel"]["id"],
        ts=body["message"]["ts"],
        text=text,
        blocks=[block.to_dict() for block in blocks],
    )
