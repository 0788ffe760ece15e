"""One place where listener failures end up: a refused action is answered, a payload that is
not ours is dropped with one line, anything else is logged with the payload type, never
swallowed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.cases.state_machine import InvalidTransition
from bot.core.i18n import Lang, t
from handlers.payloads import BadPayload, refusal_text, tell

log = logging.getLogger(__name__)


def register(app: AsyncApp) -> None:
    app.error(on_error)


class RefusedInModal(Exception):
    """A modal's submission refused: the reason is shown at `block` of the modal."""

    def __init__(self, refused: InvalidTransition, block: str) -> None:
        super().__init__(refused.reason)
        self.refused, self.block = refused, block


@contextmanager
def refusal_shown_at(block: str) -> Iterator[None]:
    """Show a refusal of what runs inside at `block` of the submitted modal (by default it is
    shown at the modal's first input)."""
    try:
        yield
    except InvalidTransition as refused:
        raise RefusedInModal(refused, block) from None


async def on_error(
    error: Exception,
    body: dict[str, Any],
    client: AsyncWebClient,
    context: dict[str, Any],
    response: BoltResponse | None,
) -> BoltResponse | None:
    """`response` is None once the listener has acked: then nothing more can be answered."""
    kind = kind_of(body)
    if isinstance(error, InvalidTransition | RefusedInModal):
        answer = await answer_refusal(error, body, client, context.get("lang", "en"))
        return answer if response is not None else None
    if isinstance(error, BadPayload):
        # Not from a card or modal of ours: nothing was changed; one line, no traceback, and
        # no 500 (Slack would show the clicker an error and retry).
        log.warning("ignored a %s payload: %s", kind, error)
        if response is None:
            return None
        if kind == "view_submission" and isinstance(body.get("view"), dict):
            # A modal we cannot read (opened before an upgrade, or not ours): it stays open
            # with what was typed in it, and says why, instead of closing and losing the text.
            text = t("error.modal_out_of_date", context.get("lang", "en"))
            errors = {_first_input(body["view"]): text}
            return BoltResponse(status=200, body={"response_action": "errors", "errors": errors})
        return BoltResponse(status=200, body="")
    log.error("listener failed on a %s payload", kind, exc_info=error)
    return None


async def answer_refusal(
    error: InvalidTransition | RefusedInModal,
    body: dict[str, Any],
    client: AsyncWebClient,
    lang: Lang,
) -> BoltResponse:
    """Tell the person why the action does not fit the case as it is now: in the modal they
    submitted, or privately where they clicked."""
    refused = error.refused if isinstance(error, RefusedInModal) else error
    text = refusal_text(refused, lang)
    if body.get("type") == "view_submission":
        block = error.block if isinstance(error, RefusedInModal) else _first_input(body["view"])
        errors = {"response_action": "errors", "errors": {block: text}}
        return BoltResponse(status=200, body=errors)
    try:
        if "channel" in body:
            await tell(client, body, text)
        else:  # a click inside a modal: no channel to answer in, so a direct message
            await client.chat_postMessage(channel=body["user"]["id"], text=text)
    except Exception as exc:  # Slack may be what is failing: the refusal is logged instead
        log.warning("could not tell %s why their action was refused: %r", kind_of(body), exc)
    return BoltResponse(status=200, body="")


def kind_of(body: dict[str, Any]) -> str:
    return str(body.get("type") or body.get("command") or "?")


def _first_input(view: dict[str, Any]) -> str:
    return next(
        (b["block_id"] for b in view.get("blocks", []) if b.get("type") == "input"), "error"
    )
