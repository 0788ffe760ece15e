"""One place where listener failures end up: logged with the payload type, never swallowed."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)


def register(app: AsyncApp) -> None:
    app.error(on_error)


async def on_error(error: Exception, body: dict[str, Any]) -> None:
    kind = body.get("type") or body.get("command") or "?"
    log.error("listener failed on a %s payload", kind, exc_info=error)
