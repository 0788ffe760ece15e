"""Block Kit for /webcare status and mine, and the App Home dashboard."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.core.i18n import Lang, t, tn
from bot.insight.backlog import age_seconds
from bot.insight.team_status import DepartmentStatus
from bot.intake.sources.health import Down
from bot.render.mrkdwn import escape, escape_within, slack_date
from storage.outbox_report import Backlog

SHOWN = 5  # cases listed per kind before "and N more"
SECTION_TEXT_MAX = 3000  # Block Kit: a section's text
STATUS_ORDER = ("new", "reopened", "claimed", "forwarded", "replied", "follow_up")


# A handle may be 200 characters, four times that once escaped: a link's label keeps its start.
HANDLE_SHOWN = 60


def card_link(case: Any, team_url: str | None) -> str:
    """`#12 @anna`, linked to the card when we know the workspace's address."""
    label = f"#{case.id} {escape_within('@' + case.author_handle, HANDLE_SHOWN)}"
    channel, ts = case.slack_channel, case.slack_ts
    if not ts:  # in a storm, a row of a digest until its card is posted
        channel, ts = getattr(case, "digest_channel", None), getattr(case, "digest_ts", None)
    if team_url and channel and ts:
        return f"<{team_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}|{label}>"
    return label


def _cases(cases: list[Any], total: int, team_url: str | None, lang: Lang) -> str:
    """The first few cases' links, and how many more of `total` there are."""
    shown = cases[:SHOWN]
    text = ", ".join(card_link(c, team_url) for c in shown)
    if total > len(shown):
        text += " " + t("status.more", lang, count=total - len(shown))
    return text


def minutes_text(minutes: float, lang: Lang) -> str:
    if minutes < 90:
        return tn("status.minutes", round(minutes), lang)
    return tn("status.hours", round(minutes / 60), lang)


def department_block(
    status: DepartmentStatus, *, now: datetime, team_url: str | None, lang: Lang
) -> SectionBlock:
    counts = " · ".join(
        f"{t('status.' + s, lang)} {status.counts.get(s, 0)}"
        for s in STATUS_ORDER
        if status.counts.get(s) or s in ("new", "claimed")
    )
    lines = [f"*{escape(status.department.name)}* — {counts}"]
    if status.oldest_unclaimed:
        age = (now - status.oldest_unclaimed).total_seconds() / 60
        lines.append(t("status.oldest", lang, age=minutes_text(age, lang)))
    total = max(status.overdue_count, len(status.overdue))
    near = max(status.near_count, len(status.near))
    if status.overdue:
        lines.append(
            ":red_circle: "
            + t("status.overdue", lang, cases=_cases(status.overdue, total, team_url, lang))
        )
    if status.near:
        lines.append(
            ":large_orange_circle: "
            + t("status.near", lang, cases=_cases(status.near, near, team_url, lang))
        )
    if status.follow_ups_today:
        lines.append(":alarm_clock: " + tn("status.follow_ups", status.follow_ups_today, lang))
    if status.expected_reply_minutes is not None:
        lines.append(
            t("status.expected", lang, time=minutes_text(status.expected_reply_minutes, lang))
        )
    return SectionBlock(text=MarkdownTextObject(text="\n".join(lines)[:3000]))


def status_blocks(
    statuses: list[DepartmentStatus],
    *,
    now: datetime,
    team_url: str | None,
    lang: Lang,
    sources_down: Mapping[str, Down] | None = None,
    behind: Sequence[Backlog] = (),
    dead_jobs: int = 0,
) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=t("status.title", lang)))]
    if behind:
        blocks.append(behind_block(behind, now=now, lang=lang))
    if dead_jobs:  # lost messages nobody would see otherwise
        text = t("status.dead_jobs", lang, count=dead_jobs)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
    if sources_down:  # first: a quiet day may just be a broken feed
        blocks.append(sources_down_block(sources_down, lang=lang))
    for status in statuses:
        blocks.append(department_block(status, now=now, team_url=team_url, lang=lang))
    return blocks[:50]


def behind_block(behind: Sequence[Backlog], *, now: datetime, lang: Lang) -> SectionBlock:
    """ "42 mentions waiting to be posted in #billing, oldest 35 s", one line per channel."""
    lines = [
        tn(
            "status.behind",
            b.cards or b.jobs,
            lang,
            channel=escape(b.channel),
            age=age_seconds(b, now=now),
        )
        for b in behind
    ]
    return SectionBlock(text=MarkdownTextObject(text="\n".join(lines)[:3000]))


def sources_down_block(down: Mapping[str, Down], *, lang: Lang) -> SectionBlock:
    """ "Sources down: alerts (failing: HTTP 500), reviews (quiet)"."""
    parts = []
    for name, state in sorted(down.items()):
        why = (
            escape((state.error or "?")[:120])
            if state.reason == "failing"
            else t("status.source_quiet", lang)
        )
        since = slack_date(state.since, state.since.strftime("%Y-%m-%d %H:%M UTC"))
        parts.append(f"*{escape(name)}* ({why}, {t('status.since', lang, since=since)})")
    text = t("status.sources_down", lang, sources="; ".join(parts))
    return SectionBlock(text=MarkdownTextObject(text=text[:3000]))


def mine_blocks(
    cases: list[Any], *, total: int | None = None, team_url: str | None, lang: Lang
) -> list[Block]:
    """A person's open cases (`total`: how many they have, when `cases` is the first part)."""
    if not cases:
        return [SectionBlock(text=MarkdownTextObject(text=t("mine.none", lang)))]
    total = len(cases) if total is None else total
    lines = [f"• {card_link(c, team_url)} · {t('status.' + c.status, lang)}" for c in cases]
    # Whole lines only (a line cut short is a broken link), and the rest counted.
    text, shown = t("mine.title", lang, count=total), 0
    room = SECTION_TEXT_MAX - len(t("status.more", lang, count=total)) - 1
    for line in lines:
        if len(text) + 1 + len(line) > room:
            break
        text, shown = f"{text}\n{line}", shown + 1
    if total > shown:
        text += "\n" + t("status.more", lang, count=total - shown)
    return [SectionBlock(text=MarkdownTextObject(text=text))]


def home_view_blocks(
    *,
    mine: list[Any],
    owned: int | None = None,
    statuses: list[DepartmentStatus],
    expected: float | None,
    now: datetime,
    team_url: str | None,
    lang: Lang,
    sources_down: Mapping[str, Down] | None = None,
    behind: Sequence[Backlog] = (),
) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=t("home.title", lang)))]
    if behind:
        blocks.append(behind_block(behind, now=now, lang=lang))
    if sources_down:
        blocks.append(sources_down_block(sources_down, lang=lang))
    if expected is not None:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=t("status.expected", lang, time=minutes_text(expected, lang))
                    )
                ]
            )
        )
    blocks += [*mine_blocks(mine, total=owned, team_url=team_url, lang=lang), DividerBlock()]
    blocks += [department_block(s, now=now, team_url=team_url, lang=lang) for s in statuses]
    return blocks[:100]
