"""Block Kit for the case card, built with slack_sdk.models (which validates).

Customer text never reaches Slack as mrkdwn: the post, the customer's name and handle, and
free-text notes (closing and forward notes) go into rich_text elements, which Slack shows
literally (`*bold*` in a name stays as typed; mrkdwn has no escape for `*`, `_` or `~`);
what else is customer-made in mrkdwn passes through `escape()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    RichTextBlock,
    RichTextElementParts,
    RichTextQuoteElement,
    RichTextSectionElement,
    SectionBlock,
)

from bot.cases.state_machine import TRANSITIONS, Action
from bot.core.i18n import Lang, format_count, format_when, language_name, t, tn
from bot.core.links import is_web_link
from bot.intake.deadlines import arrived_late
from bot.render.action_ids import ActionId
from bot.render.mrkdwn import escape, safe_url, shorten, slack_date
from storage.statuses import CLOSED_STATUSES, UNCLAIMED_STATUSES

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


# Buttons for the work still to come on an open case, after claim/release/take over.
WORK_BUTTONS: tuple[tuple[ActionId, str], ...] = (
    (ActionId.FORWARD, "button.forward"),
    (ActionId.DRAFT, "button.draft"),
    (ActionId.FOLLOW_UP, "button.follow_up"),
    (ActionId.RESOLVE, "button.resolve"),
)
# Which ownership buttons a card shows, by status: what the state machine allows.
CLAIMABLE = UNCLAIMED_STATUSES
TAKEABLE = tuple(status for action, status in TRANSITIONS if action is Action.TAKE_OVER)


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
    sla_due_at: datetime | None  # None: proactive, no rule gave it a deadline
    mention_count: int
    text: str  # the first message of the case
    url: str | None
    timezone: str
    status: str = "new"
    owner_id: str | None = None
    claimed_at: datetime | None = None
    resolved_at: datetime | None = None
    last_received_at: datetime | None = None  # when the latest message reached us
    follow_up_at: datetime | None = None
    first_response_at: datetime | None = None
    answered_at: datetime | None = None  # None while the customer waits (again)
    sla_warned: bool = False
    sla_breached: bool = False
    forwarded_to: str | None = None
    forward_due_at: datetime | None = None
    language: str | None = None  # of the first message
    language_detected: bool = False  # by the bot: the source did not say


def _author_line(card: CardView, lang: Lang) -> RichTextBlock:
    """Who wrote, as rich text: a name with `*` or `_` in it is shown as typed, not formatted."""
    bold = {"bold": True}
    handle = f"@{shorten(card.author_handle, 80)}"
    name = shorten(card.author_name, 80) if card.author_name else handle
    url = card.author_url if card.author_url and len(card.author_url) <= 1000 else None
    link = url if url and is_web_link(url) else None
    parts: list[Any] = [
        RichTextElementParts.Link(url=safe_url(link), text=name, style=bold)
        if link
        else RichTextElementParts.Text(text=name, style=bold)
    ]
    rest = [handle] if card.author_name else []
    if url and not link:  # a contact that is no web link (mailto:, tel:): shown, not linked
        rest.append(shorten(url, 120))
    if card.author_followers is not None:
        count = format_count(card.author_followers, lang=lang)
        rest.append(t("card.followers", lang, count=count))
    if rest:
        parts.append(RichTextElementParts.Text(text=" · " + " · ".join(rest)))
    return RichTextBlock(elements=[RichTextSectionElement(elements=parts)])


def customer_quote(text: str, url: str | None, source_label: str, lang: Lang) -> RichTextBlock:
    parts: list[RichTextElementParts.Text | RichTextElementParts.Link] = []
    if len(text) > QUOTE_LIMIT:
        parts.append(RichTextElementParts.Text(text=text[:QUOTE_LIMIT].rstrip() + "… "))
        if url:
            label = t("card.read_rest", lang, source=source_label)
            parts.append(RichTextElementParts.Link(url=url, text=label))
    else:
        parts.append(RichTextElementParts.Text(text=text or t("card.no_text", lang)))
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
    facts = [
        *_status_facts(card, lang),
        t("card.received", lang, when=_when(card.opened_at, card, lang)),
        *_late_fact(card, lang),
        _sla_fact(card, lang),
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
    if card.language:
        key = "card.language_detected" if card.language_detected else "card.language"
        meta.append(t(key, lang, language=escape(language_name(card.language, lang))))
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=headline)),
        _author_line(card, lang),
        customer_quote(card.text, card.url, source_label, lang),
        ContextBlock(elements=[MarkdownTextObject(text=" · ".join(facts))]),
        _card_actions(card, lang),
        ContextBlock(elements=[MarkdownTextObject(text=" · ".join(meta))]),
    ]
    fallback = t(
        "card.fallback",
        lang,
        source=source_label,
        author=escape("@" + card.author_handle),
        text=escape(shorten(card.text, FALLBACK_LIMIT)),
    )
    return fallback, blocks


def _when(moment: datetime, card: CardView, lang: Lang) -> str:
    return slack_date(moment, format_when(moment, lang=lang, timezone=card.timezone))


def _late_fact(card: CardView, lang: Lang) -> list[str]:
    """How old the post was when it reached the team (a backfill, a late feed): its response
    time counts from then, which the card says so nobody wonders."""
    arrived = card.last_received_at
    if card.mention_count != 1 or arrived is None or not arrived_late(card.opened_at, arrived):
        return []
    minutes = round((arrived - card.opened_at).total_seconds() / 60)
    if minutes < 120:
        age = t("age.minutes", lang, n=minutes)
    elif minutes < 48 * 60:
        age = t("age.hours", lang, n=minutes // 60)
    else:
        age = t("age.days", lang, n=minutes // (24 * 60))
    # Without a deadline there is no response time to count: only the age is news.
    return [t("card.late" if card.sla_due_at else "card.posted_before", lang, age=age)]


def _sla_fact(card: CardView, lang: Lang) -> str:
    """The SLA clock: green, orange once warned, red once breached, or how fast we answered;
    none for a proactive case no rule gave a deadline."""
    if card.first_response_at and card.answered_at:  # not waiting again since
        minutes = (card.first_response_at - card.opened_at).total_seconds() / 60
        return ":white_check_mark: " + t("card.answered", lang, minutes=max(0, round(minutes)))
    if card.sla_due_at is None:  # a news hit, a hashtag hit: nobody is waiting for an answer
        return ":white_circle: " + t("card.no_deadline", lang)
    light = (
        ":red_circle:"
        if card.sla_breached
        else (":large_orange_circle:" if card.sla_warned else ":large_green_circle:")
    )
    return f"{light} " + t("card.sla_due", lang, when=_when(card.sla_due_at, card, lang))


def _status_facts(card: CardView, lang: Lang) -> list[str]:
    """Where the case stands, first on the card: resolved, or owner, reply and follow-up."""
    if card.status in CLOSED_STATUSES:
        if card.resolved_at is None:
            return []
        return [
            ":white_check_mark: "
            + t("card.resolved", lang, when=_when(card.resolved_at, card, lang))
        ]
    facts = []
    if card.owner_id and card.claimed_at:
        when = _when(card.claimed_at, card, lang)
        facts.append(
            ":raising_hand: " + t("card.owner", lang, owner=f"<@{card.owner_id}>", when=when)
        )
        # News to the owner is what *arrived* after the claim, whatever date the platform
        # gives it: a late feed or a delayed webhook can carry a post written before the claim
        # that nobody had seen. So this compares arrival, never the customer's own timestamp.
        if card.last_received_at and card.last_received_at > card.claimed_at:
            when = _when(card.last_received_at, card, lang)
            facts.append(":speech_balloon: " + t("card.customer_replied", lang, when=when))
    if card.forwarded_to and card.forward_due_at:
        when = _when(card.forward_due_at, card, lang)
        person = f"<@{card.forwarded_to}>"
        facts.append(":incoming_envelope: " + t("card.forwarded", lang, person=person, when=when))
    if card.follow_up_at:
        facts.append(
            ":alarm_clock: " + t("card.follow_up", lang, when=_when(card.follow_up_at, card, lang))
        )
    return facts


def _button(
    action: ActionId, label: str, card: CardView, lang: Lang, **extra: object
) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=t(label, lang)),
        action_id=action,
        value=str(card.case_id),
        **extra,  # type: ignore[arg-type]
    )


def _card_actions(card: CardView, lang: Lang) -> ActionsBlock:
    """Buttons by status. The block id records the owner the reader saw, so a click on a stale
    card ("take over from Anna" after Bram took it) is caught."""
    if card.status in CLOSED_STATUSES:
        buttons = [_button(ActionId.REOPEN, "button.reopen", card, lang)]
    else:
        buttons = []
        if card.owner_id is None or card.status in CLAIMABLE:
            buttons = [_button(ActionId.CLAIM, "button.claim", card, lang, style="primary")]
        elif card.status in TAKEABLE:
            confirm = ConfirmObject(
                title=t("confirm.take_over.title", lang),
                text=MarkdownTextObject(
                    text=t("confirm.take_over.text", lang, owner=f"<@{card.owner_id}>")
                ),
                confirm=t("confirm.take_over.confirm", lang),
                deny=t("confirm.cancel", lang),
            )
            if card.status == "claimed":  # only a plain claim can be given back
                buttons.append(_button(ActionId.UNCLAIM, "button.unclaim", card, lang))
            buttons.append(
                _button(ActionId.TAKE_OVER, "button.take_over", card, lang, confirm=confirm)
            )
        buttons += [_button(action, label, card, lang) for action, label in WORK_BUTTONS]
    return ActionsBlock(block_id=f"case:{card.case_id}:{card.owner_id or '-'}", elements=buttons)


def help_blocks(*, lang: Lang) -> list[Block]:
    return [SectionBlock(text=MarkdownTextObject(text=t("help.body", lang)))]


def as_dicts(blocks: list[Block]) -> list[dict]:
    """Validated JSON-ready blocks (slack_sdk checks Block Kit limits in to_dict)."""
    return [block.to_dict() for block in blocks]
