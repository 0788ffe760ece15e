"""Block Kit for what goes in a case card's thread (built with slack_sdk.models, which
validates): who did what, the customer's later messages, and the card a moved case leaves."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    MarkdownTextObject,
    RichTextBlock,
    RichTextElementParts,
    RichTextQuoteElement,
    SectionBlock,
)

from bot.core.i18n import Lang, format_when, t
from bot.render.cards import FALLBACK_LIMIT, customer_quote
from bot.render.mrkdwn import NOTE_LIMIT, cut, escape, escape_within, safe_url, shorten, slack_date

LATER_SHOWN = 5  # later mentions a card shows when it is posted after they came
LATER_LIMIT = 500


def later_mentions(mentions: list[Any], *, lang: Lang) -> list[Block]:
    """The customer's messages that came while the card waited to be posted (newest last)."""
    if not mentions:
        return []
    parts: list[RichTextElementParts.Text | RichTextElementParts.Link] = []
    for mention in mentions[-LATER_SHOWN:]:
        if parts:
            parts.append(RichTextElementParts.Text(text="\n"))
        parts.append(RichTextElementParts.Text(text=shorten(mention.text, LATER_LIMIT) + " "))
        if mention.url:
            parts.append(RichTextElementParts.Link(url=mention.url, text="↗"))
    head = t("card.later", lang, count=len(mentions))
    return [
        ContextBlock(elements=[MarkdownTextObject(text=head)]),
        RichTextBlock(elements=[RichTextQuoteElement(elements=parts)]),
    ]


def case_note(note: Mapping[str, Any], *, timezone: str, lang: Lang) -> tuple[str, list[Block]]:
    """A line in the card's thread saying who did what: "Anna claimed this · 10:32"."""
    due = ""
    if note.get("due_at"):
        due_at = datetime.fromisoformat(note["due_at"])
        due = slack_date(due_at, format_when(due_at, lang=lang, timezone=timezone))
    key = f"note.{note['action']}"
    if note.get("closing_note"):
        key = "note.resolve_with_note"
    elif note.get("escalated_to"):
        key = "note.sla_breach_escalated"
    forward_note = note.get("forward_note")
    values: dict[str, Any] = dict(
        to=f"<@{note['to']}>" if note.get("to") else "",
        forward_note=": " + escape_within(forward_note) if forward_note else "",
        closing_note=escape_within(note.get("closing_note") or ""),
        url=f": <{safe_url(note['url'])}|{t('draft.view', lang)}>" if note.get("url") else "",
        actor=escape(note["actor"]),
        previous=escape(note.get("previous_owner") or "?"),
        contacts=" ".join(f"<@{c}>" for c in note.get("contacts") or []),
        escalated=f"<@{target}>"
        if (target := note.get("escalated_to") or "").startswith("U")
        else (f"<#{target}>" if target else "—"),
        due=due,
    )
    line = t(key, lang, **values)
    at = datetime.fromisoformat(note["at"])
    when = format_when(at, lang=lang, timezone=timezone)
    said = note.get("closing_note") or forward_note
    if not said:
        return line, [
            ContextBlock(elements=[MarkdownTextObject(text=f"{line} · {slack_date(at, when)}")])
        ]
    # What the colleague wrote is shown as written, in a quote below the line (rich text:
    # "*done*" stays as typed); the notification text keeps the escaped one-line form.
    header = t(key, lang, **{**values, "closing_note": "", "forward_note": ""}).rstrip(" :")
    quote = RichTextElementParts.Text(text=cut(said, NOTE_LIMIT))
    return line, [
        ContextBlock(elements=[MarkdownTextObject(text=f"{header} · {slack_date(at, when)}")]),
        RichTextBlock(elements=[RichTextQuoteElement(elements=[quote])]),
    ]


def moved_card(*, actor: str, to_channel: str, lang: Lang) -> tuple[str, list[Block]]:
    """What the old card of a moved case turns into: a pointer to its new channel."""
    text = t("card.moved", lang, channel=f"<#{to_channel}>", actor=escape(actor))
    return text, [SectionBlock(text=MarkdownTextObject(text=text))]


def thread_mention(
    *,
    ping: str | None = None,
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
    line = [t("thread.again", lang, author=author), slack_date(created_at, when)]
    if ping:  # the owner must not miss it: a mention in the thread notifies them
        line.insert(0, f"<@{ping}>")
    if url:
        line.append(f"<{safe_url(url)}|{t('card.open_original', lang)}>")
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=" · ".join(line))]),
        customer_quote(text, url, source_label, lang),
    ]
    fallback = t("thread.fallback", lang, author=author, text=escape(shorten(text, FALLBACK_LIMIT)))
    return fallback, blocks
