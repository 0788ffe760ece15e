"""HTTP details shared by the platform APIs (Mastodon REST, Bluesky XRPC): rate-limit headers
and turning transport failures into PollFailed."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from bot.intake.sources.base import PollFailed

# Stop paging when this few requests are left in the window, so the next poll still has some.
RESERVE = 2


def seconds_until_reset(headers: Mapping[str, str], *, names: tuple[str, str]) -> float | None:
    """When the rate-limit window resets, in seconds from now (None when not said).

    Mastodon sends `X-RateLimit-Reset` as an ISO 8601 time, Bluesky `RateLimit-Reset` as unix
    seconds; `Retry-After` may be seconds or an HTTP date."""
    reset = headers.get(names[1])
    if reset:
        try:
            if reset.isdigit():
                return max(0.0, float(reset) - time.time())
            moment = datetime.fromisoformat(reset.replace("Z", "+00:00"))
            return max(0.0, moment.timestamp() - time.time())
        except ValueError:
            pass
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - time.time())
            except (TypeError, ValueError):
                return None
    return None


def nearly_exhausted(headers: Mapping[str, str], *, remaining: str) -> bool:
    value = headers.get(remaining)
    return value is not None and value.isdigit() and int(value) <= RESERVE


def failure(
    status: int, body: object, headers: Mapping[str, str], names: tuple[str, str]
) -> PollFailed:
    """A PollFailed for an error answer, with the platform's own message when it gave one."""
    detail = ""
    if isinstance(body, dict):
        error, message = body.get("error"), body.get("message")  # Bluesky sends both
        detail = f"{error} ({message})" if error and message else str(error or message or "")
        detail = detail[:200]
    reason = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status == 401:
        reason += " (check the access token / app password in the config)"
    retry = seconds_until_reset(headers, names=names) if status == 429 else None
    return PollFailed(reason, retry_after=60.0 if status == 429 and retry is None else retry)


async def read_json(resp: aiohttp.ClientResponse) -> Any:
    """The answer's JSON, or None when it is not JSON (an error page, a proxy's HTML)."""
    try:
        return await resp.json(content_type=None)
    except (json.JSONDecodeError, aiohttp.ContentTypeError, UnicodeDecodeError):
        return None
