"""Slack messages about the polled sources themselves: connected, down, quiet, recovered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.core.config import WebcareConfig
from bot.core.i18n import Lang, format_when, t
from bot.render.mrkdwn import escape, slack_date

MAX_ERROR = 300


def source_alert(
    payload: dict[str, Any], *, config: WebcareConfig, lang: Lang
) -> tuple[str, list[Block]]:
    """The alert (or all-clear) for one source, from the outbox job's payload."""
    since = datetime.fromisoformat(payload["since"])
    fallback = format_when(since, lang=lang, timezone=config.business_hours.timezone)
    state = payload["state"]
    values: dict[str, str] = {"source": escape(payload["source"])}
    if state == "failing":
        values["error"] = escape((payload.get("error") or "?")[:MAX_ERROR])
    if state == "connected":
        values["items"] = str(int(payload.get("items") or 0))
    plain = t(f"sources.{state}", lang, since=fallback, **values)
    text = t(f"sources.{state}", lang, since=slack_date(since, fallback), **values)
    return plain, [SectionBlock(text=MarkdownTextObject(text=text))]
