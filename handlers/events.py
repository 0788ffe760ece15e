"""Events: the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.i18n import t
from bot.render import help_blocks


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(publish_home)


async def publish_home(
    event: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    if event.get("tab") != "home":
        return
    lang = context["lang"]
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=t("home.intro", lang))),
        *help_blocks(lang=lang),
    ]
    await client.views_publish(user_id=event["user"], view=View(type="home", blocks=blocks))
