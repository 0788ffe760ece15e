"""The message the leads get when several cases of a channel passed their deadline at once."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.core.i18n import Lang, t, tn

# Case numbers listed by name at most; a storm's hundred are counted, not listed.
LISTED = 30


def breaches_dm(case_ids: list[int], *, channel: str, lang: Lang) -> tuple[str, list[Block]]:
    """One escalation for `case_ids` (two or more) of `channel`, lowest numbers first."""
    listed = ", ".join(f"#{case_id}" for case_id in case_ids[:LISTED])
    if len(case_ids) > LISTED:
        listed += " " + t("sla.breaches_more", lang, more=len(case_ids) - LISTED)
    text = tn("sla.breaches_dm", len(case_ids), lang, channel=f"<#{channel}>", cases=listed)
    return text, [SectionBlock(text=MarkdownTextObject(text=text))]
