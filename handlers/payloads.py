"""Reading Slack payloads and answering the person who clicked: shared by every listener."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot import background
from bot.cases import Actor, InvalidTransition
from bot.i18n import Lang, t
from bot.services import Services


class BadPayload(ValueError):
    """A payload value we never sent (forged or garbled): answered 200, nothing changed."""


def number(value: Any) -> int:
    """An id we put in a button value or a modal's private_metadata."""
    if not isinstance(value, str) or not value.isdigit() or len(value) > 18:
        raise BadPayload(f"not an id: {str(value)[:40]!r}")
    return int(value)


def draft_metadata(view: dict[str, Any]) -> tuple[int, int | None]:
    """The case and draft (None for a new one) a draft modal was opened for."""
    try:
        meta = json.loads(view.get("private_metadata") or "")
        draft_id = meta.get("draft_id")
        return number(str(meta["case_id"])), None if draft_id is None else number(str(draft_id))
    except (ValueError, KeyError, TypeError, AttributeError) as bad:
        raise BadPayload(f"not a draft modal's metadata: {bad}") from None


def actor_of(body: dict[str, Any]) -> Actor:
    """The Slack user who clicked or submitted."""
    user = body["user"]
    return Actor(id=user["id"], name=user.get("name") or user.get("username") or user["id"])


log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Clicker:
    """Where to answer the person who clicked: all a click's work keeps of its payload."""

    channel: str
    user: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> Clicker:
        return cls(channel=body["channel"]["id"], user=body["user"]["id"])


async def after_ack(context: dict[str, Any], work: Coroutine[Any, Any, object]) -> None:
    """Do a click's work once it is acked.

    Awaited when Slack waits for the work (WEBCARE_ACK_AFTER_WORK). Otherwise in a task of its
    own that starts once the answer is on its way to Slack (`context["answered"]`, see
    bot.slack_app): the listener returns at once, so Bolt lets go of the request (the whole
    payload, with the card's blocks) instead of holding it until the database and Slack have
    answered, and the work never holds up the acks of the clicks that came with it.
    """
    if context.get("ack_after_work"):
        await work
        return
    answered: asyncio.Future[None] | None = context.get("answered")
    if answered is None or answered.done():
        background.start(work)
    else:
        answered.add_done_callback(lambda _answered: background.start(work))


def refusal_text(refused: InvalidTransition, lang: Lang) -> str:
    """Why the action was refused, in the catalogue's words."""
    owner = f"<@{refused.owner}>" if refused.owner else t("error.nobody", lang)
    return t(f"error.{refused.reason}", lang, owner=owner, status=refused.status or "?")


async def tell(client: AsyncWebClient, body: dict[str, Any] | Clicker, text: str) -> None:
    """An ephemeral answer to the clicker, where they clicked."""
    clicker = body if isinstance(body, Clicker) else Clicker.of(body)
    await client.chat_postEphemeral(channel=clicker.channel, user=clicker.user, text=text)


async def attempt(
    client: AsyncWebClient,
    body: dict[str, Any] | Clicker,
    services: Services,
    change: Awaitable[object],
    lang: Lang,
) -> bool:
    """Make a change; tell the clicker why when it is refused, or that it failed (the database
    was unavailable, a bug): never silence after a click. True when it was made."""
    try:
        await change
    except InvalidTransition as refused:
        await tell(client, body, refusal_text(refused, lang))
        return False
    except Exception:
        log.exception("a click's change failed")
        with contextlib.suppress(Exception):  # Slack may be what is failing
            await tell(client, body, t("error.failed", lang))
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
