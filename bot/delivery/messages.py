"""What an outbox job says in Slack, rendered from the case as it stands when it is sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.crisis import about_topic
from bot.cases.drafts import PLATFORM_LIMITS
from bot.core.config import WebcareConfig
from bot.core.config.departments import Department
from bot.core.i18n import Lang, format_when
from bot.core.language_detection import language_of
from bot.insight.spikes import BRAND
from bot.render.cards import CardView, as_dicts, case_card
from bot.render.digests import LATER_IN_ROW, DigestRow, digest_message
from bot.render.drafts import draft_message
from bot.render.escalations import escalation_dm
from bot.render.follow_up import follow_up_question
from bot.render.forwarding import forwarded_dm, simple_dm
from bot.render.mrkdwn import slack_date
from bot.render.sources import source_alert
from bot.render.spikes import crisis_thread_head, spike_alert
from bot.render.thread import case_note, later_mentions, moved_card, thread_mention
from storage import digests
from storage.case_row import CaseRow
from storage.cases import job_context
from storage.crisis import active
from storage.db import unit_of_work
from storage.outbox_job import Job
from storage.spikes import read_alert
from storage.statuses import JobKind


class Undeliverable(Exception):
    """The job refers to something that is gone or was never posted."""


class Obsolete(Exception):
    """Nothing to send any more (a card refresh for a card that is being reposted)."""


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    ts: str | None = None  # the message to update (chat.update)
    thread_ts: str | None = None  # the thread to reply in


async def compose(
    engine: AsyncEngine, job: Job, *, config: WebcareConfig, lang: Lang
) -> OutgoingMessage:
    """Render the message for `job` from the current state of its case."""
    payload = job.payload or {}
    if job.kind in (JobKind.POST_ALERT, JobKind.UPDATE_ALERT):
        alert = await unit_of_work(engine).run(partial(read_alert, alert_id=payload["alert_id"]))
        crisis = None
        if alert.scope != BRAND:
            crisis = await unit_of_work(engine).run(partial(active, department=alert.scope))
        text, blocks = spike_alert(alert, config=config, lang=lang, crisis=crisis)
        ts = alert.slack_ts if job.kind is JobKind.UPDATE_ALERT else None
        if job.kind is JobKind.UPDATE_ALERT and not ts:
            raise Obsolete("the alert was never posted")
        return OutgoingMessage(alert.slack_channel or job.channel, text, as_dicts(blocks), ts=ts)
    if job.kind is JobKind.SOURCE_ALERT:
        text, blocks = source_alert(payload, config=config, lang=lang)
        return OutgoingMessage(job.channel, text, as_dicts(blocks))
    if job.kind in (JobKind.POST_DIGEST, JobKind.UPDATE_DIGEST):
        return await _digest(engine, job, config=config, lang=lang)
    if job.kind is JobKind.POST_CRISIS:
        crisis = await unit_of_work(engine).run(partial(active, department=payload["department"]))
        if crisis is None:
            raise Obsolete("crisis mode ended before its thread started")
        text, blocks = crisis_thread_head(crisis, config=config, lang=lang)
        return OutgoingMessage(job.channel, text, as_dicts(blocks))
    assert job.case_id is not None
    context = await unit_of_work(engine).run(
        partial(
            job_context,
            case_id=job.case_id,
            mention_id=job.mention_id,
            draft_id=payload.get("draft_id"),
        )
    )
    if context is None:
        raise Undeliverable(f"case {job.case_id} no longer exists")
    case, first, mention = context.case, context.first, context.mention
    follow_up_at = context.follow_up_at
    department = config.department(case.department)
    timezone = config.hours_for(department).timezone
    if job.kind is JobKind.POST_DM:
        return _direct_message(job, case, first, timezone, lang)
    if job.kind is JobKind.MARK_MOVED:
        note = job.payload or {}
        text, blocks = moved_card(actor=note["actor"], to_channel=note["to_channel"], lang=lang)
        return OutgoingMessage(note["old_channel"], text, as_dicts(blocks), ts=note["old_ts"])
    if job.kind is JobKind.POST_DRAFT:
        return _draft_message(context.draft, case, department, config, lang)
    if job.kind is JobKind.UPDATE_CARD and not case.slack_ts:
        raise Obsolete("the case's card is being posted anew")
    if job.kind is not JobKind.POST_CARD and not case.slack_ts and case.digest_channel:
        # Shown as a digest row until work starts; its card then shows the later mentions.
        raise Obsolete("the case is in a storm digest: its card will show this")
    if job.kind is not JobKind.POST_CARD and not case.slack_ts:
        raise Undeliverable("the case's card was never posted")
    channel = case.slack_channel or job.channel

    if job.kind in (JobKind.POST_CARD, JobKind.UPDATE_CARD):
        view = _card_view(
            case, first, department.name, timezone, follow_up_at, config.team_languages()
        )
        text, blocks = case_card(view, lang=lang)
        if case.card_through and first is not None and case.card_through > first.id:
            later = await unit_of_work(engine).run(
                partial(digests.later_mentions, case_id=case.id, through=case.card_through)
            )
            blocks += later_mentions(later, lang=lang)
        crisis = context.crisis
        if (
            job.kind is JobKind.POST_CARD
            and crisis is not None
            and crisis.slack_ts
            and about_topic(first.text if first else "", crisis.topic)
        ):  # crisis mode: the card goes in the crisis thread, not in the channel
            return OutgoingMessage(channel, text, as_dicts(blocks), thread_ts=crisis.slack_ts)
        ts = case.slack_ts if job.kind is JobKind.UPDATE_CARD else None
        return OutgoingMessage(channel, text, as_dicts(blocks), ts=ts)
    if job.kind is JobKind.POST_NOTE:
        text, blocks = case_note(job.payload or {}, timezone=timezone, lang=lang)
        return OutgoingMessage(channel, text, as_dicts(blocks), thread_ts=case.slack_ts)
    if mention is None:
        raise Undeliverable(f"mention {job.mention_id} no longer exists")
    text, blocks = thread_mention(
        ping=(job.payload or {}).get("ping"),
        text=mention.text,
        url=mention.url,
        author_handle=mention.author_handle,
        source=mention.source,
        created_at=mention.created_at,
        timezone=timezone,
        lang=lang,
    )
    return OutgoingMessage(channel, text, as_dicts(blocks), thread_ts=case.slack_ts)


async def _digest(
    engine: AsyncEngine, job: Job, *, config: WebcareConfig, lang: Lang
) -> OutgoingMessage:
    payload = job.payload or {}
    if job.kind is JobKind.POST_DIGEST:
        read = partial(digests.case_rows, case_ids=payload["cases"])
    else:
        read = partial(digests.rows_of, channel=job.channel, ts=payload["ts"])
    rows = await unit_of_work(engine).run(read)
    if not rows:
        raise Obsolete("every case of the digest moved elsewhere")
    views = []
    for row in rows:
        case = row.case
        department = config.department(case.department)
        views.append(
            DigestRow(
                case_id=case.id,
                priority=case.priority,
                source=case.source,
                author_handle=case.author_handle,
                text=row.first.text,
                url=row.first.url,
                sla_due_at=case.sla_due_at,
                mention_count=case.mention_count,
                status=case.status,
                owner_id=case.owner_id,
                card=(case.slack_channel, case.slack_ts) if case.slack_ts else None,
                timezone=config.hours_for(department).timezone,
                sla_warned=case.sla_warned_at is not None,
                sla_breached=case.sla_breached_at is not None,
                later=tuple((m.text, m.url) for m in row.later[-LATER_IN_ROW:]),
            )
        )
    text, blocks = digest_message(views, lang=lang)
    if job.kind is JobKind.UPDATE_DIGEST:
        return OutgoingMessage(job.channel, text, as_dicts(blocks), ts=payload["ts"])
    return OutgoingMessage(job.channel, text, as_dicts(blocks), thread_ts=payload.get("thread_ts"))


def _draft_message(
    draft: Row[Any] | None,
    case: CaseRow,
    department: Department,
    config: WebcareConfig,
    lang: Lang,
) -> OutgoingMessage:
    if not case.slack_ts:
        raise Undeliverable("the case's card was never posted")
    if draft is None:
        raise Undeliverable("the draft no longer exists")
    text, blocks = draft_message(
        draft,
        department=department,
        limit=PLATFORM_LIMITS.get(case.source),
        can_send=config.replies_through(case.source),
        lang=lang,
    )
    if draft.slack_ts:
        return OutgoingMessage(case.slack_channel, text, as_dicts(blocks), ts=draft.slack_ts)
    return OutgoingMessage(case.slack_channel, text, as_dicts(blocks), thread_ts=case.slack_ts)


def _direct_message(
    job: Job, case: CaseRow, first: Row[Any] | None, timezone: str, lang: Lang
) -> OutgoingMessage:
    payload = job.payload or {}
    kind, channel = payload.get("kind"), case.slack_channel
    if kind == "follow_up_due":
        text, blocks = follow_up_question(
            case_id=case.id, author_handle=case.author_handle, channel=channel, lang=lang
        )
    elif kind == "forwarded":
        text, blocks = forwarded_dm(
            case_id=case.id,
            author_handle=case.author_handle,
            text=first.text if first else "",
            channel=channel,
            by=payload["by"],
            note=payload.get("note"),
            due_at=datetime.fromisoformat(payload["due_at"]),
            timezone=timezone,
            lang=lang,
        )
    elif kind == "forward_reminder":
        due = case.forward_due_at
        when = slack_date(due, format_when(due, lang=lang, timezone=timezone)) if due else "?"
        text, blocks = simple_dm(
            "forward.reminder", lang, id=case.id, channel=f"<#{channel}>", due=when
        )
    elif kind == "forward_deadline":
        text, blocks = simple_dm(
            "forward.deadline",
            lang,
            id=case.id,
            channel=f"<#{channel}>",
            person=f"<@{payload['person']}>",
        )
    elif kind == "sla_breach":
        # A job queued before escalations listed their cases is about its own case only.
        cases = payload.get("cases") or [[case.id, None, None]]
        # The department channel they breached in (older jobs: the first case's, as it is now).
        where = payload.get("channel") or channel
        text, blocks = escalation_dm(cases, channel=where, lang=lang)
    else:
        raise Undeliverable(f"unknown direct message {kind!r}")
    return OutgoingMessage(job.channel, text, as_dicts(blocks))


def _card_view(
    case: CaseRow,
    first: Row[Any] | None,
    department_name: str,
    timezone: str,
    follow_up_at: datetime | None,
    team_languages: set[str],
) -> CardView:
    language = (
        language_of(first.text, first.language, among=team_languages) if first is not None else None
    )
    if language and first is not None and first.language_detected:
        language = (language[0], True)  # detected at intake, to route it
    return CardView(
        case_id=case.id,
        department_name=department_name,
        source=case.source,
        author_handle=case.author_handle,
        author_name=case.author_name,
        author_followers=case.author_followers,
        author_url=case.author_url,
        reactive=case.reactive,
        private=case.private,
        priority=case.priority,
        tags=tuple(case.tags or ()),
        rule=case.rule,
        opened_at=case.opened_at,
        sla_due_at=case.sla_due_at,
        mention_count=case.mention_count,
        text=first.text if first else "",
        url=first.url if first else None,
        language=language[0] if language else None,
        language_detected=language[1] if language else False,
        timezone=timezone,
        status=case.status,
        owner_id=case.owner_id,
        claimed_at=case.claimed_at,
        resolved_at=case.resolved_at,
        last_received_at=case.last_received_at,
        follow_up_at=follow_up_at,
        forwarded_to=case.forwarded_to,
        forward_due_at=case.forward_due_at,
        first_response_at=case.first_response_at,
        answered_at=case.answered_at,
        sla_warned=case.sla_warned_at is not None,
        sla_breached=case.sla_breached_at is not None,
    )
