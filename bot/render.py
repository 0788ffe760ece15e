"""Block Kit for everything the bot shows, built with slack_sdk.models (which validates).

Customer text never reaches Slack as mrkdwn: it goes into rich_text elements, which Slack shows
literally, and everything else customer-made (names, handles) passes through `escape()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import quote

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    RichTextBlock,
    RichTextElementParts,
    RichTextQuoteElement,
    SectionBlock,
)

from bot.i18n import Lang, format_count, format_when, t, tn

# Slack shows at most 3,000 characters of a block's text; leave room for the "…" and the link.
QUOTE_LIMIT = 2_900
FALLBACK_LIMIT = 300

SOURCE_EMOJI = {
    "x": ":bird:",
    "facebook": ":large_blue_square:",
    "instagram": ":camera:",
    "mastodon": ":elephant:",
    "bluesky": ":butterfly:",
    "reddit": ":speech_balloon:",
    "forum": ":busts_in_silhouette:",
    "review": ":star:",
    "rss": ":globe_with_meridians:",
    "email": ":email:",
    "other": ":speech_balloon:",
}
PRIORITY_EMOJI = {
    "low": ":white_circle:",
    "normal": ":large_blue_circle:",
    "high": ":large_orange_circle:",
    "urgent": ":red_circle:",
}


class ActionId(StrEnum):
    """Action ids of the card's buttons; the handlers listen on the same ids."""

    CLAIM = "case_claim"
    FORWARD = "case_forward"
    DRAFT = "case_draft_reply"
    FOLLOW_UP = "case_follow_up"
    RESOLVE = "case_resolve"


CARD_BUTTONS: tuple[tuple[ActionId, str, str | None], ...] = (
    (ActionId.CLAIM, "button.claim", "primary"),
    (ActionId.FORWARD, "button.forward", None),
    (ActionId.DRAFT, "button.draft", None),
    (ActionId.FOLLOW_UP, "button.follow_up", None),
    (ActionId.RESOLVE, "button.resolve", None),
)


def escape(text: str) -> str:
    """Make customer text inert in mrkdwn: no pings, no links, no broken entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_url(url: str) -> str:
    """A URL that cannot end a Slack link early (`|` and `>` would)."""
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")


@dataclass(frozen=True, slots=True)
class CardView:
    """What a card needs to know, read from the database at send time."""

    case_id: int
    department_name: str
    source: str
    author_handle: str
    author_name: str | None
    author_followers: int | None
    author_url: str | None
    reactive: bool
    private: bool
    priority: str
    tags: tuple[str, ...]
    rule: str | None
    opened_at: datetime
    sla_due_at: datetime
    mention_count: int
    text: str  # the first message of the case
    url: str | None
    timezone: str


def _slack_date(moment: datetime, fallback: str) -> str:
    # Slack renders this in each reader's own time zone; the fallback is for notifications.
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{escape(fallback)}>"


def _author_line(card: CardView, lang: Lang) -> str:
    handle = escape(f"@{card.author_handle}")
    name = escape(card.author_name) if card.author_name else handle
    who = f"<{safe_url(card.author_url)}|{name}>" if card.author_url else f"*{name}*"
    parts = [who] + ([handle] if card.author_name else [])
    if card.author_followers is not None:
        count = format_count(card.author_followers, lang=lang)
        parts.append(t("card.followers", lang, count=count))
    return " · ".join(parts)


def _quote(text: str, url: str | None, source_label: str, lang: Lang) -> RichTextBlock:
    parts: list[RichTextElementParts.Text | RichTextElementParts.Link] = []
    if len(text) > QUOTE_LIMIT:
        parts.append(RichTextElementParts.Text(text=text[:QUOTE_LIMIT].rstrip() + "… "))
        if url:
            label = t("card.read_rest", lang, source=source_label)
            parts.append(RichTextElementParts.Link(url=url, text=label))
    else:
        parts.append(RichTextElementParts.Text(text=text or "—"))
    return RichTextBlock(elements=[RichTextQuoteElement(elements=parts)])


def case_card(card: CardView, *, lang: Lang) -> tuple[str, list[Block]]:
    """The card for a case: fallback notification text and blocks."""
    source_label = t(f"source.{card.source}", lang)
    headline = " · ".join(
        [
            f"{SOURCE_EMOJI[card.source]} *{source_label}*",
            t("card.reactive" if card.reactive else "card.proactive", lang),
            t("card.private" if card.private else "card.public", lang),
            PRIORITY_EMOJI.get(card.priority, "")
            + " "
            + t("card.priority", lang, priority=t(f"priority.{card.priority}", lang)),
        ]
    )
    received = format_when(card.opened_at, lang=lang, timezone=card.timezone)
    due = format_when(card.sla_due_at, lang=lang, timezone=card.timezone)
    facts = [
        t("card.received", lang, when=_slack_date(card.opened_at, received)),
        t("card.sla_due", lang, when=_slack_date(card.sla_due_at, due)),
    ]
    if card.url:
        facts.append(f"<{safe_url(card.url)}|{t('card.open_original', lang)}>")
    meta = [
        t("card.case", lang, id=card.case_id, department=escape(card.department_name)),
        t("card.rule", lang, rule=escape(card.rule)) if card.rule else t("card.default_rule", lang),
        tn("card.mentions", card.mention_count, lang),
    ]
    if card.tags:
        meta.append(t("card.tags", lang, tags=escape(", ".join(card.tags))))
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=headline + "\n" + _author_line(card, lang))),
        _quote(card.text, card.url, source_label, lang),
        ContextBlock(elements=[MarkdownTextObject(text=" · ".join(facts))]),
        ActionsBlock(
            block_id=f"case:{card.case_id}",
            elements=[
                ButtonElement(
                    text=PlainTextObject(text=t(label, lang)),
                    action_id=action,
                    value=str(card.case_id),
                    style=style,
                )
                for action, label, style in CARD_BUTTONS
            ],
        ),
        ContextBlock(elements=[MarkdownTextObject(text=" · ".join(meta))]),
    ]
    fallback = t(
        "card.fallback",
        lang,
        source=source_label,
        author=escape("@" + card.author_handle),
        text=escape(_shorten(card.text, FALLBACK_LIMIT)),
    )
    return fallback, blocks


def thread_mention(
    *,
    text: str,
    url: str | None,
    author_handle: str,
    source: str,
    created_at: datetime,
    timezone: str,
    lang: Lang,
) -> tuple[str, list[Block]]:
    """A later message of the same customer, as a reply in the card's thread."""
    source_label = t(f"source.{source}", lang)
    author = escape("@" + author_handle)
    when = format_when(created_at, lang=lang, timezone=timezone)
    line = [t("thread.again", lang, author=author), _slack_date(created_at, when)]
    if url:
        line.append(f"<{safe_url(url)}|{t('card.open_original', lang)}>")
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=" · ".join(line))]),
        _quote(text, url, source_label, lang),
    ]
    fallback = t(
        "thread.fallback", lang, author=author, text=escape(_shorten(text, FALLBACK_LIMIT))
    )
    return fallback, blocks


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def help_blocks(*, lang: Lang) -> list[Block]:
    return [SectionBlock(text=MarkdownTextObject(text=t("help.body", lang)))]


def as_dicts(blocks: list[Block]) -> list[dict]:
    """Validated JSON-ready blocks (slack_sdk checks Block Kit limits in to_dict)."""
    return [block.to_dict() for block in blocks]
