"""The spike alert as it shows in the alert channel."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.config import WebcareConfig
from bot.i18n import Lang, t
from bot.render import escape
from bot.spikes import BRAND


def spike_alert(alert: Any, *, config: WebcareConfig, lang: Lang) -> tuple[str, list[Block]]:
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
    return text, [
        SectionBlock(text=MarkdownTextObject(text="\n".join(lines)[:3000])),
        ContextBlock(elements=[MarkdownTextObject(text=t("spike.hint", lang))]),
    ]
