"""One place where listener failures end up: logged with the payload type, never swallowed."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from handlers.payloads import BadPayload

log = logging.getLogger(__name__)


def register(app: AsyncApp) -> None:
    app.error(on_error)


async def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
    kind = body.get("type") or body.get("command") or "?"
    if isinstance(error, BadPayload):
        # Not from a card or modal of ours: nothing was changed; one line, no traceback, and
        # no 500 (Slack would show the clicker an error and retry).
        log.warning("ignored a %s payload: %s", kind, error)
        return BoltResponse(status=200, body="")
    log.error("listener failed on a %s payload", kind, exc_info=error)
    return None
