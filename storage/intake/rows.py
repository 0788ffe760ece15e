"""What one ingest batch is made of (incoming mentions, stored rows, case changes, audit events,
outbox jobs) and the Writer protocol each database's writer implements."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol


class AuthorLike(Protocol):
    handle: str
    name: str | None
    followers: int | None
    url: Any


class MentionLike(Protocol):
    """What storage needs of a mention (bot.intake.mentions.MentionIn has it)."""

    source: str
    external_id: str
    url: Any
    text: str
    created_at: datetime
    author: AuthorLike
    addressed: bool
    private: bool
    language: str | None
    in_reply_to: str | None


@dataclass(slots=True)  # not frozen: one is built for every mention, and frozen costs
class Incoming:
    """A validated mention with the routing decision made for it."""

    mention: MentionLike
    department: str
    channel: str
    priority: str
    tags: tuple[str, ...]
    rule: str | None
    # None: a proactive mention (about us, not addressed to us) no rule gives a deadline.
    sla_due_at: datetime | None
    sla_warn_at: datetime | None  # when an unclaimed case gets a warning (business time)
    start: datetime  # when its response clock starts (bot.intake.deadlines.clock_start)
    # (due, warning) for a clock started at a moment: the deadline it would give its case
    # once the case is addressed to us (a later sighting, a reopened reactive case).
    deadlines: Callable[[datetime], tuple[datetime, datetime]]

    @property
    def deadline(self) -> Deadline | None:
        if self.sla_due_at is None or self.sla_warn_at is None:
            return None
        return Deadline(self.sla_due_at, self.sla_warn_at)


class Deadline(NamedTuple):
    due: datetime
    warn: datetime


class Stored(NamedTuple):
    case_id: int
    duplicate: bool
    new_case: bool


class Known(NamedTuple):
    """A mention stored before: its case, and what it was taken for."""

    case_id: int
    mention_id: int
    addressed: bool
    private: bool


class Upgrade(NamedTuple):
    """A stored mention seen again as addressed (or private): its flags become these."""

    mention_id: int
    case_id: int
    addressed: bool
    private: bool
    # Newly addressed: the deadline, from now, its case gets if it has none and is unanswered.
    deadline: Deadline | None = None


class Existing(NamedTuple):
    """A case a new mention by its customer joins."""

    id: int
    channel: str
    owner_id: str | None
    status: str  # open, or recently resolved: then the mention reopens it
    reactive: bool  # addressed to us: reopened, it gets a deadline again

    @property
    def resolved(self) -> bool:
        return self.status == "resolved"


class Event(NamedTuple):
    """An audit event to insert (actor "system", at the batch's `now`)."""

    case_id: int
    kind: str
    from_status: str | None
    to_status: str | None
    detail: dict[str, Any]


class Job(NamedTuple):
    """An outbox job to insert (pending, not before the batch's `now`)."""

    kind: str
    case_id: int
    mention_id: int | None
    channel: str
    payload: dict[str, Any] | None
    dedupe_key: str | None
    rank: int | None = None  # a new card of an urgent or high case (storage.statuses.CARD_RANKS)


class Reopening(NamedTuple):
    """What the state machine decided for a resolved case its customer came back to."""

    values: dict[str, Any]  # the case's new columns (status, owner, dates, deadline)
    event: Event


# The decision for a resolved case, a fresh deadline for it (None: none), the batch's time:
# bot.cases.state_machine.customer_return, passed in by the ingest (storage decides nothing).
DecideReturn = Callable[[Existing, "Deadline | None", datetime], Reopening]


class CaseChange(NamedTuple):
    """Mentions added to a case that existed before the batch."""

    case_id: int
    added: int
    latest: datetime  # the newest added mention's time (never in the future)
    reopen: dict[str, Any] | None  # the case was resolved: the values it reopens with
    # Not reopened: given to the case if it has none and awaits its first answer (an
    # addressed mention joined a proactive case).
    deadline: Deadline | None
    addressed: bool  # an added mention is addressed to us: the case becomes reactive
    card_channel: str | None  # refresh the card in this channel


class Writer(Protocol):
    """The statements of one ingest batch, in the caller's transaction."""

    def known_mentions(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Known]:
        """Each (source, external_id) already stored."""
        ...

    def upgrade(self, upgrades: list[Upgrade], now: datetime) -> None:
        """Set the mentions' flags, make their cases reactive (or private) too, and queue
        those cases' card refreshes."""
        ...

    def cases_to_join(
        self, authors: Iterable[tuple[str, str]], reopen_after: datetime
    ) -> dict[tuple[str, str], Existing]:
        """Each (source, handle)'s open case, else the one resolved after `reopen_after`."""
        ...

    def insert_cases(self, items: list[Incoming], now: datetime) -> list[int]: ...

    def insert_mentions(
        self, items: list[Incoming], case_ids: list[int], now: datetime
    ) -> list[int]: ...

    def record(
        self, changes: list[CaseChange], events: list[Event], jobs: list[Job], now: datetime
    ) -> None:
        """Apply the case changes (and card refreshes), then insert events, then jobs."""
        ...


def by_source(keys: Iterable[tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """(source, [ids]) in chunks: `source = ? AND id IN (...)` uses the index on both columns,
    where SQLite does not use it for a two-column tuple IN."""
    grouped: dict[str, list[str]] = {}
    for source, value in dict.fromkeys(keys):
        grouped.setdefault(source, []).append(value)
    for source, values in grouped.items():
        for start in range(0, len(values), 500):
            yield source, values[start : start + 500]


def join_rows(rows: Iterable[Sequence[Any]]) -> dict[tuple[str, str], Existing]:
    """Rows (id, source, handle, channel, owner, status, reactive), by id: an open case wins."""
    found: dict[tuple[str, str], Existing] = {}
    for case_id, source, handle, channel, owner, status, reactive in rows:
        author, resolved = (source, handle), status == "resolved"
        if resolved and author in found:
            continue  # an open case wins over a resolved one
        found[author] = Existing(case_id, channel, owner, status, bool(reactive))
    return found
