"""Reading Slack payloads and answering the person who clicked: shared by every listener."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.cases.state_machine import Actor, InvalidTransition
from bot.core import background
from bot.core.i18n import Lang, t
from handlers.sealed import seal, unseal
from handlers.services import Services
from storage.cases import places_of


class BadPayload(ValueError):
    """A value in a Slack payload that no card or modal of ours sends (forged, or garbled)."""


MAX_ID = 2**31 - 1  # the database's ids are INTEGER


def payload_id(value: Any) -> int:
    """The id a button's `value` or a modal's `private_metadata` carries; BadPayload if none."""
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise BadPayload(f"not an id: {str(value)[:40]!r}")
    return int(text)


def clicked_message(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The message Slack says was clicked: (channel, ts)."""
    container = body.get("container") or {}
    return container.get("channel_id"), container.get("message_ts")


async def on_its_card(
    client: AsyncWebClient,
    clicker: Clicker,
    clicked: tuple[str | None, str | None],
    services: Services,
    case_id: int,
    lang: Lang,
) -> bool:
    """Whether a case button was clicked on that case's own card; tells the clicker when not.

    A button's `value` names its case, but only the message Slack says was clicked is the
    card the person saw (or the storm digest the case is a row of): a value naming another
    case (a forged or garbled payload) must not act on that other case.
    """
    if services.cards.matches(case_id, clicked):  # the card as this process posted it
        return True
    async with services.engine.connect() as conn:
        places = await conn.run_sync(partial(places_of, case_id=case_id))
    if places is None:
        await tell(client, clicker, t("error.not_found", lang))
        return False
    card, digest_row = places
    services.cards.remember(case_id, card)
    # In a storm the case may be a row of a digest message until its card is posted.
    if card != clicked and (digest_row != clicked or digest_row[1] is None):
        log.warning("case %s's button clicked on another message: refused", case_id)
        await tell(client, clicker, t("error.wrong_card", lang))
        return False
    return True


def sealed_case_modal(view: Any, *, case_id: int, user: str, services: Services) -> Any:
    """The modal with its case id sealed for `user` (see handlers.sealed)."""
    view.private_metadata = str(case_id)
    return sealed_modal(view, user=user, services=services)


def sealed_modal(view: Any, *, user: str, services: Services) -> Any:
    """The modal with its private_metadata sealed for `user` (see handlers.sealed)."""
    purpose = view.callback_id or ""
    view.private_metadata = seal(
        view.private_metadata, user=user, purpose=purpose, key=services.modal_key
    )
    return view


def modal_metadata(view: dict[str, Any], body: dict[str, Any], services: Services) -> str:
    """A submitted modal's private_metadata as we sealed it for the person submitting;
    BadPayload otherwise."""
    user = (body.get("user") or {}).get("id", "")
    purpose = str(view.get("callback_id") or "")
    value = unseal(view.get("private_metadata"), user=user, purpose=purpose, key=services.modal_key)
    if value is None:
        raise BadPayload("a modal's metadata that we did not seal for this person")
    return value


def case_of_modal(view: dict[str, Any], body: dict[str, Any], services: Services) -> int:
    """The case a submitted modal was opened for, by this person; BadPayload otherwise."""
    return payload_id(modal_metadata(view, body, services))


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
    bot.app.slack_app): the listener returns at once, so Bolt lets go of the request (the whole
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
