"""What the leads get when cases passed their response deadline unanswered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.core.i18n import Lang, t, tn
from bot.render.digests import card_link

# Case numbers listed by name at most; a storm's hundred are counted, not listed.
LISTED = 30


def case_reference(case: Sequence[Any]) -> str:
    """ "#12", linked to where the case is shown in Slack: `case` is (id, channel, ts), the
    message being its card or its digest (channel and ts None when it was in neither)."""
    case_id, channel, ts = case
    if channel and ts:
        return f"<{card_link(channel, ts)}|#{int(case_id)}>"
    return f"#{int(case_id)}"


def escalation_dm(cases: list[Any], *, channel: str, lang: Lang) -> tuple[str, list[Block]]:
    """The escalation for `cases` of `channel` that passed their deadline in one sweep, each
    (id, channel, ts), lowest numbers first: one case by itself, more listed in one message."""
    if len(cases) == 1:
        text = t("sla.breach_dm", lang, case=case_reference(cases[0]), channel=f"<#{channel}>")
    else:
        listed = ", ".join(case_reference(case) for case in cases[:LISTED])
        if len(cases) > LISTED:
            listed += " " + t("sla.breaches_more", lang, more=len(cases) - LISTED)
        text = tn("sla.breaches_dm", len(cases), lang, channel=f"<#{channel}>", cases=listed)
    return text, [SectionBlock(text=MarkdownTextObject(text=text))]
