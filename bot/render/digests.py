"""A storm digest: several new cases in one Slack message, a row each (bot.digests says when).

Each row shows what a card's first glance shows (priority, who, where, the SLA clock, the text
and the link to the original) and a Claim button; claiming gives the case its own card, and the
row then points there. Two blocks a row, so a digest of DIGEST_ROWS stays within 50 blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    MarkdownTextObject,
    PlainTextObject,
    RichTextBlock,
    RichTextElementParts,
    RichTextQuoteElement,
    SectionBlock,
)

from bot.core.i18n import Lang, format_when, t, tn
from bot.render.cards import CLAIMABLE, PRIORITY_EMOJI, SOURCE_EMOJI, ActionId
from bot.render.mrkdwn import escape, safe_url, shorten, slack_date

DIGEST_ROWS = 20  # 1 head + 2 blocks a row: 41 of Slack's 50 blocks
SNIPPET = 280  # characters of the customer's first message shown in a row
LATER_IN_ROW, LATER_SNIPPET = 3, 200  # and of their latest messages after it
FALLBACK_AUTHORS = 10
# Slack wants each button of a message to have its own action id: a row's Claim carries its
# case's id in it too (the handler still reads the case from the button's value).
DIGEST_CLAIM = re.compile(rf"^{ActionId.CLAIM}:\d+$")


def digest_claim(case_id: int) -> str:
    return f"{ActionId.CLAIM}:{case_id}"


@dataclass(frozen=True, slots=True)
class DigestRow:
    case_id: int
    priority: str
    source: str
    author_handle: str
    text: str
    url: str | None
    sla_due_at: datetime | None  # None: a proactive hit nobody waits for an answer on
    mention_count: int
    status: str
    owner_id: str | None
    card: tuple[str, str] | None  # (channel, ts) of the case's own card, once posted
    timezone: str
    sla_warned: bool = False
    sla_breached: bool = False
    later: tuple[tuple[str, str | None], ...] = ()  # (text, url) of their latest messages


def card_link(channel: str, ts: str) -> str:
    """A link to a message that works in any workspace (Slack redirects it)."""
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def digest_message(rows: list[DigestRow], *, lang: Lang) -> tuple[str, list[Block]]:
    """The digest as it stands: a head line, then a row per case."""
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=tn("digest.head", len(rows), lang)))
    ]
    for row in rows:
        blocks += _row(row, lang)
    shown = rows[:FALLBACK_AUTHORS]
    authors = ", ".join(escape("@" + shorten(r.author_handle, 40)) for r in shown)
    if len(rows) > FALLBACK_AUTHORS:
        authors += ", …"
    return tn("digest.fallback", len(rows), lang, authors=authors), blocks


def _light(row: DigestRow) -> str:
    """The SLA clock's colour, as on a card."""
    if row.sla_breached:
        return ":red_circle:"
    return ":large_orange_circle:" if row.sla_warned else ":large_green_circle:"


def _deadline(row: DigestRow, lang: Lang) -> str:
    """The row's SLA clock, as on a card; none for a proactive hit without a deadline."""
    if row.sla_due_at is None:
        return ":white_circle: " + t("card.no_deadline", lang)
    shown = format_when(row.sla_due_at, lang=lang, timezone=row.timezone)
    return _light(row) + " " + t("card.sla_due", lang, when=slack_date(row.sla_due_at, shown))


def _row(row: DigestRow, lang: Lang) -> list[Block]:
    facts = [
        f"{PRIORITY_EMOJI.get(row.priority, '')} {SOURCE_EMOJI.get(row.source, '')} "
        f"*{escape('@' + shorten(row.author_handle, 80))}*",
        t("digest.case", lang, id=row.case_id),
        tn("card.mentions", row.mention_count, lang),
        _deadline(row, lang),
    ]
    if row.url:
        facts.append(f"<{safe_url(row.url)}|{t('card.open_original', lang)}>")
    lines = [" · ".join(facts)]
    claim = None
    if row.card is not None:
        link = card_link(*row.card)
        if row.owner_id:
            lines.append(t("digest.claimed", lang, owner=f"<@{row.owner_id}>", card=link))
        else:
            lines.append(t("digest.carded", lang, card=link, status=row.status))
    elif row.owner_id:
        lines.append(t("digest.card_coming", lang, owner=f"<@{row.owner_id}>"))
    elif row.status in CLAIMABLE:
        claim = ButtonElement(
            text=PlainTextObject(text=t("button.claim", lang)),
            action_id=digest_claim(row.case_id),
            value=str(row.case_id),
            style="primary",
        )
    # The block id is a card's ("case:{id}:{owner}"): the claim handler reads it the same way.
    section = SectionBlock(
        block_id=f"case:{row.case_id}:-",
        text=MarkdownTextObject(text="\n".join(lines)),
        accessory=claim,
    )
    # Customer text as rich text: Slack shows it literally (no mrkdwn, no pings).
    said: list[RichTextElementParts.Text | RichTextElementParts.Link] = [
        RichTextElementParts.Text(text=shorten(row.text, SNIPPET) or "…")
    ]
    for text, url in row.later:  # they wrote again: their latest words, and where
        said.append(RichTextElementParts.Text(text="\n… " + shorten(text, LATER_SNIPPET)))
        if url:
            said.append(RichTextElementParts.Text(text=" "))
            said.append(RichTextElementParts.Link(url=url, text="↗"))
    quote = RichTextBlock(elements=[RichTextQuoteElement(elements=said)])
    return [section, quote]
