"""Sending an approved reply to a source that takes replies (an outbound webhook per source),
signed like the ingest webhook so the receiver can check it came from us."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp

from bot.core.config.sources import ReplyWebhook
from bot.intake.webhook import sign

TIMEOUT = 10.0  # seconds; the agent waits for the answer


class ReplyFailed(Exception):
    """The receiver did not take the reply; nothing may be marked as sent."""


async def send_reply(hook: ReplyWebhook, reply: dict[str, Any]) -> str:
    """POST the reply; returns the published reply's URL from the receiver's answer."""
    body = json.dumps(reply).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Webcare-Timestamp": timestamp,
        "X-Webcare-Signature": sign(hook.secret, timestamp, body),
    }
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session,
            session.post(str(hook.url), data=body, headers=headers) as response,
        ):
            if response.status >= 300:
                raise ReplyFailed(f"HTTP {response.status}")
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
        raise ReplyFailed(type(exc).__name__) from None
    url = answer.get("url") if isinstance(answer, dict) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ReplyFailed("the answer has no url of the published reply")
    return url
