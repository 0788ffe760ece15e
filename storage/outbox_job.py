"""An outbox job as the worker holds it while it is sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.statuses import JobKind, JobStatus


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: JobKind
    case_id: int | None
    mention_id: int | None
    channel: str
    status: JobStatus
    attempts: int
    not_before: datetime
    last_error: str | None
    payload: dict[str, Any] | None = None
    created_at: datetime | None = None
    sending_since: datetime | None = None


def job_of(row: object) -> Job:
    """A Job from an outbox row (SQLAlchemy's or a RETURNING's)."""
    return Job(
        id=row.id,  # type: ignore[attr-defined]
        kind=JobKind(row.kind),  # type: ignore[attr-defined]
        case_id=row.case_id,  # type: ignore[attr-defined]
        mention_id=row.mention_id,  # type: ignore[attr-defined]
        channel=row.channel,  # type: ignore[attr-defined]
        status=JobStatus(row.status),  # type: ignore[attr-defined]
        attempts=row.attempts,  # type: ignore[attr-defined]
        not_before=row.not_before,  # type: ignore[attr-defined]
        last_error=row.last_error,  # type: ignore[attr-defined]
        payload=row.payload,  # type: ignore[attr-defined]
        created_at=row.created_at,  # type: ignore[attr-defined]
        sending_since=row.sending_since,  # type: ignore[attr-defined]
    )
