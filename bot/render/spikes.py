"""The spike alert as it shows in the alert channel."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.core.config import WebcareConfig
from bot.core.i18n import Lang, t
from bot.insight.spikes import BRAND
from bot.render.action_ids import ActionId
from bot.render.mrkdwn import escape


def spike_alert(
    alert: Any, *, config: WebcareConfig, lang: Lang, crisis: Any | None = None
) -> tuple[str, list[Block]]:
    scope = (
        t("spike.brand", lang)
        if alert.scope == BRAND
        else escape(config.department(alert.scope).name)
    )
    text = t("spike.title", lang, scope=scope, count=alert.mentions, usual=round(alert.baseline, 1))
    details = alert.details or {}
    sources = ", ".join(f"{t('source.' + s, lang)} {n}" for s, n in details.get("sources", []))
    words = ", ".join(f"{escape(w)} ({n})" for w, n in details.get("words", []))
    lines = [
        f"*{text}*",
        t("spike.sources", lang, sources=sources or "—"),
        t("spike.words", lang, words=words or "—"),
    ]
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text="\n".join(lines)[:3000])),
        ContextBlock(elements=[MarkdownTextObject(text=t("spike.hint", lang))]),
    ]
    if alert.scope != BRAND:
        if crisis is None:
            button = ButtonElement(
                text=PlainTextObject(text=t("crisis.start", lang)),
                action_id=ActionId.CRISIS_START,
                value=str(alert.id),
                style="danger",
            )
        else:
            blocks.append(
                ContextBlock(
                    elements=[
                        MarkdownTextObject(
                            text=t("crisis.on", lang, actor=f"<@{crisis.started_by}>")
                        )
                    ]
                )
            )
            button = ButtonElement(
                text=PlainTextObject(text=t("crisis.end", lang)),
                action_id=ActionId.CRISIS_END,
                value=alert.scope,
            )
        blocks.append(ActionsBlock(block_id=f"alert:{alert.id}", elements=[button]))
    return text, blocks


def crisis_thread_head(
    crisis: Any, *, config: WebcareConfig, lang: Lang
) -> tuple[str, list[Block]]:
    """The first message of a department's crisis thread."""
    name = escape(config.department(crisis.department).name)
    topic = ", ".join(escape(word) for word in crisis.topic) or "—"
    text = t("crisis.head", lang, department=name, topic=topic)
    return text, [SectionBlock(text=MarkdownTextObject(text=text))]
