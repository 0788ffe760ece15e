"""The /webcare slash command."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.i18n import t
from bot.render import as_dicts, escape, help_blocks

PLANNED = {"status", "mine", "report"}


def register(app: AsyncApp) -> None:
    app.command("/webcare")(webcare_command)


async def webcare_command(ack: AsyncAck, command: dict[str, Any], context: dict[str, Any]) -> None:
    lang = context["lang"]
    words = (command.get("text") or "").split()
    sub = words[0].lower() if words else "help"
    # Answers go only to the person who asked ("ephemeral"), as JSON so they can carry blocks.
    if sub == "help":
        await ack(
            text=t("help.body", lang),
            blocks=as_dicts(help_blocks(lang=lang)),
            response_type="ephemeral",
        )
    elif sub in PLANNED:
        await ack(text=t("command.not_yet", lang, sub=sub), response_type="ephemeral")
    else:
        await ack(text=t("command.unknown", lang, sub=escape(sub[:40])), response_type="ephemeral")
