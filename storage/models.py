"""The tables: cases, their mentions, the audit trail and the delivery outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, SmallInteger, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.statuses import (
    OPEN_SQL,
    RESOLVED_SQL,
    WAITING_JUMPER_SQL,
    WAITING_THREAD_LINE_SQL,
    CaseStatus,
    DraftStatus,
    JobStatus,
    TaskStatus,
)
from storage.types import UTCDateTime


def _utc(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


class Case(SQLModel, table=True):
    """One customer's conversation on one platform: the unit of work, one Slack card."""

    __tablename__ = "cases"
    __table_args__ = (
        # At most one open case per customer and platform: threading relies on it.
        Index(
            "uq_cases_open_author",
            "source",
            "author_handle",
            unique=True,
            sqlite_where=text(OPEN_SQL),
            postgresql_where=text(OPEN_SQL),
        ),
        # Threading looks up a customer's open case (above) or recently resolved one (here):
        # partial, so a new case costs ingest no entry in it.
        Index(
            "ix_cases_resolved_author",
            "source",
            "author_handle",
            sqlite_where=text(RESOLVED_SQL),
            postgresql_where=text(RESOLVED_SQL),
        ),
        Index("ix_cases_department_status", "department", "status"),
        # A storm digest's rows are read back to refresh it; most cases are never in one.
        Index(
            "ix_cases_digest",
            "digest_channel",
            "digest_ts",
            sqlite_where=text("digest_ts IS NOT NULL"),
            postgresql_where=text("digest_ts IS NOT NULL"),
        ),
        # Partial where most new cases have NULL: ingest does not pay to index them.
        Index(
            "ix_cases_owner_status",
            "owner_id",
            "status",
            sqlite_where=text("owner_id IS NOT NULL"),
            postgresql_where=text("owner_id IS NOT NULL"),
        ),
        Index(
            "ix_cases_first_response_at",
            "first_response_at",
            sqlite_where=text("first_response_at IS NOT NULL"),
            postgresql_where=text("first_response_at IS NOT NULL"),
        ),
        Index("ix_cases_status_sla_warn_at", "status", "sla_warn_at"),
        Index("ix_cases_opened_at", "opened_at"),
        Index(
            "ix_cases_resolved_at",
            "resolved_at",
            sqlite_where=text("resolved_at IS NOT NULL"),
            postgresql_where=text("resolved_at IS NOT NULL"),
        ),
        Index("ix_cases_status_sla_due_at", "status", "sla_due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    department: str = Field(max_length=40)
    status: str = Field(default=CaseStatus.NEW, max_length=20)
    priority: str = Field(default="normal", max_length=10)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    rule: str | None = Field(default=None, max_length=80)
    source: str = Field(max_length=20)
    author_handle: str = Field(max_length=200)
    author_name: str | None = Field(default=None, max_length=200)
    author_followers: int | None = None
    author_url: str | None = Field(default=None, max_length=2048)
    reactive: bool = False
    private: bool = False
    opened_at: datetime = _utc(nullable=False)
    last_mention_at: datetime = _utc(nullable=False)  # when the customer last wrote (their date)
    # When the customer's latest message reached us: what "the customer replied" is judged by.
    last_received_at: datetime | None = _utc(nullable=True)
    # Empty for a proactive case (about us, not addressed to us) unless a rule gives one.
    sla_due_at: datetime | None = _utc(nullable=True)
    mention_count: int = 1
    slack_channel: str | None = Field(default=None, max_length=40)
    slack_ts: str | None = Field(default=None, max_length=40)
    # In a storm a new case is first shown as a row of a digest message (bot.digests); its own
    # card (slack_ts) is posted when work on it starts.
    digest_channel: str | None = Field(default=None, max_length=40)
    digest_ts: str | None = Field(default=None, max_length=40)
    # The newest mention the card shows: later ones that came while it waited to be posted
    # are on the card instead of in as many thread lines.
    card_through: int | None = None
    owner_id: str | None = Field(default=None, max_length=32)
    owner_name: str | None = Field(default=None, max_length=120)
    claimed_at: datetime | None = _utc(nullable=True)
    resolved_at: datetime | None = _utc(nullable=True)
    forwarded_to: str | None = Field(default=None, max_length=32)
    forward_due_at: datetime | None = _utc(nullable=True)
    first_response_at: datetime | None = _utc(nullable=True)
    # The latest answer to the customer's wait; empty while they wait (again: a case the
    # customer reopened after an answer). The SLA sweep watches the cases without one.
    answered_at: datetime | None = _utc(nullable=True)
    # The deadline the first answer was judged against (a later wait gets one of its own).
    first_response_due_at: datetime | None = _utc(nullable=True)
    sla_warn_at: datetime | None = _utc(nullable=True)
    sla_warned_at: datetime | None = _utc(nullable=True)
    sla_breached_at: datetime | None = _utc(nullable=True)


class Mention(SQLModel, table=True):
    """One message by the customer; belongs to exactly one case."""

    __tablename__ = "mentions"
    __table_args__ = (
        Index("ix_mentions_created_at", "created_at"),
        UniqueConstraint("source", "external_id", name="uq_mentions_source_external_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    source: str = Field(max_length=20)
    external_id: str = Field(max_length=255)
    url: str | None = Field(default=None, max_length=2048)
    text: str  # as shown and routed: markup taken out, entities decoded
    raw_text: str | None = None  # as sent, when that differs from `text`
    author_handle: str = Field(max_length=200)
    language: str | None = Field(default=None, max_length=20)
    language_detected: bool = False  # the bot detected it; the source did not say
    addressed: bool = False
    private: bool = False
    in_reply_to: str | None = Field(default=None, max_length=255)
    created_at: datetime = _utc(nullable=False)
    received_at: datetime = _utc(nullable=False)
    slack_ts: str | None = Field(default=None, max_length=40)


class CaseEvent(SQLModel, table=True):
    """The audit trail: every change to a case, by whom and when."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_kind_at", "kind", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str = Field(max_length=40)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str | None = Field(default=None, max_length=20)
    actor: str = Field(max_length=64)
    at: datetime = _utc(nullable=False)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class OutboxJob(SQLModel, table=True):
    """Something to say in Slack; retried until Slack accepted it, posted in order per channel."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_channel_queue", "status", "channel", "id"),
        Index(
            "ix_outbox_jumpers",
            "channel",
            "rank",
            "id",
            sqlite_where=text(WAITING_JUMPER_SQL),
            postgresql_where=text(WAITING_JUMPER_SQL),
        ),
        Index(
            "ix_outbox_thread_lines",
            "channel",
            "id",
            sqlite_where=text(WAITING_THREAD_LINE_SQL),
            postgresql_where=text(WAITING_THREAD_LINE_SQL),
        ),
        Index(
            "uq_outbox_pending_dedupe",
            "dedupe_key",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    mention_id: int | None = Field(default=None, foreign_key="mentions.id")
    channel: str = Field(max_length=40)
    status: str = Field(default=JobStatus.PENDING, max_length=10)
    attempts: int = 0
    not_before: datetime = _utc(nullable=False)
    dedupe_key: str | None = Field(default=None, max_length=80)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _utc(nullable=False)
    sending_since: datetime | None = _utc(nullable=True)
    sent_at: datetime | None = _utc(nullable=True)
    slack_ts: str | None = Field(default=None, max_length=40)
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    rank: int | None = Field(default=None, sa_column=Column(SmallInteger, nullable=True))


class ChannelLease(SQLModel, table=True):
    """Which worker posts to a channel right now, so replicas keep Slack's per-channel pace."""

    __tablename__ = "channel_leases"

    channel: str = Field(primary_key=True, max_length=40)
    holder: str = Field(max_length=80)
    lease_until: datetime = _utc(nullable=False)


class SlackBudget(SQLModel, table=True):
    """A token bucket per Slack method tier, shared by every replica (bot.delivery.slack_budget)."""

    __tablename__ = "slack_budgets"

    tier: str = Field(primary_key=True, max_length=20)
    tokens: float
    updated_at: datetime = _utc(nullable=False)


class ScheduledTask(SQLModel, table=True):
    """Something to do at a moment in time; fired once, even across restarts and replicas."""

    __tablename__ = "scheduled_tasks"
    __table_args__ = (Index("ix_scheduled_tasks_status_due_at", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=30)
    case_id: int = Field(foreign_key="cases.id", index=True)
    status: str = Field(default=TaskStatus.PENDING, max_length=10)
    due_at: datetime = _utc(nullable=False)
    notify: str = Field(max_length=32)  # the Slack user who is asked when it is due
    created_by: str = Field(max_length=32)
    created_at: datetime = _utc(nullable=False)
    fired_at: datetime | None = _utc(nullable=True)


class Draft(SQLModel, table=True):
    """A reply to the customer, written in Slack, checked, maybe approved, then sent."""

    __tablename__ = "drafts"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    text: str
    public: bool = True
    status: str = Field(default=DraftStatus.DRAFT, max_length=10)
    author_id: str = Field(max_length=32)
    author_name: str = Field(max_length=120)
    approved_by: str | None = Field(default=None, max_length=32)
    # Everyone who edited the text after its author: they wrote it too, so none may approve it.
    editor_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Personal data the author chose to post in public anyway (kinds only, for the audit).
    overridden_findings: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = _utc(nullable=False)
    updated_at: datetime = _utc(nullable=False)
    sent_at: datetime | None = _utc(nullable=True)
    sent_url: str | None = Field(default=None, max_length=2048)
    slack_ts: str | None = Field(default=None, max_length=40)


class SpikeAlert(SQLModel, table=True):
    """A detected surge of mentions, alerted once per scope until the cool-down has passed."""

    __tablename__ = "spike_alerts"
    __table_args__ = (Index("ix_spike_alerts_scope_detected_at", "scope", "detected_at"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=40)  # a department key, or "*" for the whole brand
    detected_at: datetime = _utc(nullable=False)
    mentions: int
    baseline: float
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    slack_channel: str | None = Field(default=None, max_length=40)
    slack_ts: str | None = Field(default=None, max_length=40)


class CrisisMode(SQLModel, table=True):
    """A department in crisis mode: mentions about the topic gather in one thread."""

    __tablename__ = "crisis_modes"

    department: str = Field(primary_key=True, max_length=40)
    topic: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    alert_id: int | None = Field(default=None, foreign_key="spike_alerts.id")
    started_by: str = Field(max_length=32)
    started_at: datetime = _utc(nullable=False)
    slack_channel: str = Field(max_length=40)
    slack_ts: str | None = Field(default=None, max_length=40)  # the crisis thread's first message
    # The digest in the thread that new topic cases join (updated in place) until it is full.
    digest_ts: str | None = Field(default=None, max_length=40)


class SourceCursor(SQLModel, table=True):
    """Where a polled source stands: what was seen, how the last polls went."""

    __tablename__ = "source_cursors"

    name: str = Field(primary_key=True, max_length=40)
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    newest_seen_at: datetime | None = _utc(nullable=True)
    last_success_at: datetime | None = _utc(nullable=True)
    last_error_at: datetime | None = _utc(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
    failures: int = 0  # in a row
    items_seen: int = 0
    # Platform cursors beyond ETag/Last-Modified: Mastodon min_ids, Bluesky's newest indexedAt.
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    failing_since: datetime | None = _utc(nullable=True)  # first failure of the current run
    # A source's usual pace, learnt from what came in after its first successful poll (the
    # backfill and items from before an upgrade would make it look busier than it is).
    first_success_at: datetime | None = _utc(nullable=True)
    last_item_at: datetime | None = _utc(nullable=True)  # when a poll last stored something
    items_learned: int = 0  # items stored by polls after the first successful one
    down_alert_at: datetime | None = _utc(nullable=True)  # "source down" posted, not recovered


class ReplyTarget(SQLModel, table=True):
    """How to answer one polled post on its platform (Mastodon status id and visibility,
    Bluesky uri/cid of the post and its thread root), keyed like the mention it came with."""

    __tablename__ = "reply_targets"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_reply_targets_source_external_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=20)
    external_id: str = Field(max_length=255)
    source_name: str = Field(max_length=40)  # the configured source that can answer it
    ref: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
