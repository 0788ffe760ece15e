"""Core table handles for the hot paths that skip the ORM (ingest, outbox)."""

from __future__ import annotations

from sqlalchemy import Table

from storage.models import (
    Case,
    CaseEvent,
    ChannelLease,
    CrisisMode,
    Draft,
    Mention,
    OutboxJob,
    ReplyTarget,
    ScheduledTask,
    SlackBudget,
    SourceCursor,
    SpikeAlert,
)


def _table(model: type) -> Table:
    return model.__table__  # type: ignore[attr-defined, no-any-return]


CASES = _table(Case)
MENTIONS = _table(Mention)
EVENTS = _table(CaseEvent)
OUTBOX = _table(OutboxJob)
LEASES = _table(ChannelLease)
TASKS = _table(ScheduledTask)
DRAFTS = _table(Draft)
ALERTS = _table(SpikeAlert)
CRISES = _table(CrisisMode)
CURSORS = _table(SourceCursor)
REPLY_TARGETS = _table(ReplyTarget)
BUDGETS = _table(SlackBudget)
