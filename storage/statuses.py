"""The states and kinds the tables hold, defined once: a case's status and its groups (open,
closed, unclaimed, awaiting a first answer), outbox job kinds, statuses and queue ranks, task
and draft statuses, and the conditions of the partial indexes built on them."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class CaseStatus(StrEnum):
    """A case's status: bot.cases.state_machine is the one writer of it."""

    NEW = "new"
    CLAIMED = "claimed"
    REPLIED = "replied"
    FOLLOW_UP = "follow_up"
    FORWARDED = "forwarded"
    REOPENED = "reopened"
    RESOLVED = "resolved"
    IGNORED = "ignored"


# Every case starts here; bot.cases.state_machine makes every change from it.
INITIAL_STATUS = CaseStatus.NEW


# The status groups, defined once. Open: the case takes the customer's new mentions into its
# thread (at most one open case per customer and platform).
OPEN_STATUSES: tuple[str, ...] = (
    CaseStatus.NEW,
    CaseStatus.CLAIMED,
    CaseStatus.REPLIED,
    CaseStatus.FOLLOW_UP,
    CaseStatus.FORWARDED,
    CaseStatus.REOPENED,
)


CLOSED_STATUSES: tuple[str, ...] = (CaseStatus.RESOLVED, CaseStatus.IGNORED)


# Nobody works on it: the card offers Claim.
UNCLAIMED_STATUSES: tuple[str, ...] = (CaseStatus.NEW, CaseStatus.REOPENED)


# The customer still waits for a first answer: the SLA clock runs.
AWAITING_FIRST_ANSWER: tuple[str, ...] = (
    *UNCLAIMED_STATUSES,
    CaseStatus.CLAIMED,
    CaseStatus.FORWARDED,
)


def sql_in(column: str, values: Iterable[str]) -> str:
    """`column IN ('a', 'b')` for values of our own enums (never for outside input)."""
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


# The partial indexes' conditions; a query repeats them word for word to use the index.
OPEN_SQL = sql_in("status", OPEN_STATUSES)


RESOLVED_SQL = f"status = '{CaseStatus.RESOLVED}'"


class JobStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"


class JobKind(StrEnum):
    POST_CARD = "post_card"
    POST_MENTION = "post_mention"  # a later mention, as a reply in the card's thread
    UPDATE_CARD = "update_card"
    POST_NOTE = "post_note"  # a line in the card's thread: "Anna claimed this · 10:32"
    POST_DM = "post_dm"  # a direct message to one person (channel = their user id)
    MARK_MOVED = "mark_moved"  # turn the old card of a moved case into a pointer
    POST_DRAFT = "post_draft"  # a draft reply in the card's thread (posted, later updated)
    POST_ALERT = "post_alert"  # a spike alert in the alert channel (no case)
    UPDATE_ALERT = "update_alert"  # the alert's crisis-mode state changed
    POST_CRISIS = "post_crisis"  # the first message of a department's crisis thread
    SOURCE_ALERT = "source_alert"  # a polled source is down, or has recovered (no case)
    POST_DIGEST = "post_digest"  # several new cases in one message, when a channel is behind
    UPDATE_DIGEST = "update_digest"  # a digest's rows as their cases stand now


# Jobs that may go before older ones of their channel (storage.outbox.head_job), by `rank`:
# a crisis thread's first message, then an urgent case's new card, then a high one's. Kept in
# the job (a case's priority never changes) so that the few waiting ones are found through
# ix_outbox_jumpers, however long the channel's backlog; NULL for every other job.
CRISIS_RANK = 0


CARD_RANKS = {"urgent": 1, "high": 2}


WAITING_JUMPER_SQL = "status = 'pending' AND rank IS NOT NULL"


# Messages about cases already in Slack: while a channel is behind they take turns with new
# cards (head_job's "thread" turn looks for the first one waiting).
THREAD_KINDS = (JobKind.POST_MENTION, JobKind.POST_NOTE, JobKind.POST_DRAFT, JobKind.UPDATE_CARD)


THREAD_KINDS_SQL = sql_in("kind", THREAD_KINDS)


WAITING_THREAD_LINE_SQL = f"status = 'pending' AND {THREAD_KINDS_SQL}"


class TaskStatus(StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"
    # A follow-up that came due while its case was forwarded: asked once the forward is
    # answered (storage.schedule.release_held).
    HELD = "held"


class TaskKind(StrEnum):
    FOLLOW_UP = "follow_up"  # ask the owner whether the customer's problem is solved
    FORWARD_REMINDER = "forward_reminder"  # remind the person a case was forwarded to
    FORWARD_DEADLINE = "forward_deadline"  # tell the owner the forward was not answered


class DraftStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SENDING = "sending"  # handed to a reply webhook; nobody else may send it meanwhile
    SENT = "sent"
