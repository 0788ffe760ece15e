"""Rows for a million cases, made fast: 90 days of a bank's webcare (3 departments, ~97 %
resolved, one or two mentions each, case events, follow-up tasks), as plain tuples for bulk
loading (bench.summary, bench.memory)."""

from __future__ import annotations

import json
import logging
import math
import queue
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench._common import CHANNEL_TEXTS, CONFIG

log = logging.getLogger("bench.summary")

NOW = datetime(2026, 3, 15, 19, 0, tzinfo=UTC)
SPAN_DAYS = 90
DAY = 86_400.0
BATCH = 20_000  # cases per insert batch
AGENTS = 40
EPOCH = datetime(1970, 1, 1)
EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)

COLUMNS: dict[str, tuple[str, ...]] = {
    "cases": (
        "id", "department", "status", "priority", "tags", "rule", "source", "author_handle",
        "author_name", "author_followers", "author_url", "reactive", "private", "opened_at",
        "last_mention_at", "sla_due_at", "mention_count", "slack_channel", "slack_ts",
        "owner_id", "owner_name", "claimed_at", "resolved_at", "forwarded_to", "forward_due_at",
        "first_response_at", "sla_warn_at", "sla_warned_at", "sla_breached_at",
    ),
    "mentions": (
        "id", "case_id", "source", "external_id", "url", "text", "author_handle", "language",
        "addressed", "private", "in_reply_to", "created_at", "received_at", "slack_ts",
    ),
    "case_events": ("id", "case_id", "kind", "from_status", "to_status", "actor", "at", "detail"),
    "scheduled_tasks": (
        "id", "kind", "case_id", "status", "due_at", "notify", "created_by", "created_at",
        "fired_at",
    ),
}  # fmt: skip
TABLES = tuple(COLUMNS)

# Per department of the test config: key, SLA seconds, channel, rule, priority, tags, text.
_RULES = {"billing": ("Billing", "normal", []), "outages": ("Outage", "urgent", ["outage"])}
DEPARTMENTS = [
    (
        d["key"],
        d["sla_minutes"] * 60.0,
        d["channel"],
        *_RULES.get(d["key"], (None, "normal", []))[:2],
        json.dumps(_RULES.get(d["key"], (None, "normal", []))[2]),
        CHANNEL_TEXTS[d["channel"]],
    )
    for d in CONFIG["departments"]
]
SOURCES = (
    ("x", "https://x.com/"),
    ("facebook", "https://facebook.com/"),
    ("instagram", "https://instagram.com/"),
)
# Mentions per hour of the local day (Amsterdam, UTC+1 in winter): quiet nights, busy days.
LOCAL_HOUR_WEIGHTS = (
    1, .5, .3, .3, .3, .5, 1, 2, 4, 6, 7, 7, 6, 6, 6, 6, 6, 6, 5, 5, 5, 4, 3, 2,
)  # fmt: skip
# Open cases by age: (status, cumulative share). Young ones wait for an answer, old ones mostly
# wait for the customer (replied) or for a follow-up.
YOUNG_OPEN = (
    ("new", 0.25), ("claimed", 0.5), ("forwarded", 0.6), ("replied", 0.92), ("follow_up", 1.0),
)  # fmt: skip
OLD_OPEN = (
    ("new", 0.02), ("claimed", 0.07), ("forwarded", 0.1), ("replied", 0.55), ("follow_up", 1.0),
)  # fmt: skip
AWAITING = ("new", "claimed", "forwarded")
OUTCOME = "follow_up_outcome"
# Bulk loading only: no rollback journal on disk, no fsync, a big page cache for the indexes.
SEED_PRAGMAS = ("journal_mode=MEMORY", "synchronous=OFF", "cache_size=-524288", "temp_store=MEMORY")


# -- seeding -------------------------------------------------------------------------------------


def sqlite_moment(seconds: float) -> str:
    """A moment as storage.types.UTCDateTime stores it on SQLite: naive UTC text."""
    return (EPOCH + timedelta(seconds=seconds)).isoformat(" ", "microseconds")


def pg_moment(seconds: float) -> datetime:
    """A moment as asyncpg takes it for timestamptz: an aware UTC datetime."""
    return EPOCH_UTC + timedelta(seconds=seconds)


def _pick(table: tuple[tuple[str, float], ...], r: float) -> str:
    return next((status for status, upto in table if r < upto), table[-1][0])


@dataclass
class Batch:
    """Rows for each table, in COLUMNS order, ready for the DBAPI."""

    rows: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {table: [] for table in TABLES}
    )


class Seeder:
    """Builds realistic rows for `n` cases opened over SPAN_DAYS up to NOW, oldest first."""

    def __init__(self, n: int, *, moment: Callable[[float], Any], seed: int) -> None:
        self.n, self.moment = n, moment
        rng = random.Random(seed)
        self.rand, self.randrange, self.lognorm = rng.random, rng.randrange, rng.lognormvariate
        self.now = NOW.timestamp()
        base = self.now - SPAN_DAYS * DAY
        base_hour = int(base % DAY // 3600)
        weights = [LOCAL_HOUR_WEIGHTS[(base_hour + h + 1) % 24] for h in range(24)]
        days = rng.choices(range(SPAN_DAYS), k=n)
        hours = rng.choices(range(24), weights=weights, k=n)
        self.opened = sorted(
            base + d * DAY + h * 3600 + self.rand() * 3600 for d, h in zip(days, hours, strict=True)
        )
        self.mention_id = self.event_id = self.task_id = 0

    def batches(self, size: int = BATCH) -> Iterator[Batch]:
        for first in range(0, self.n, size):
            batch = Batch()
            for i in range(first, min(first + size, self.n)):
                self._case(i + 1, self.opened[i], batch.rows)
            yield batch

    def _case(self, case_id: int, opened: float, out: dict[str, list[tuple[Any, ...]]]) -> None:
        rand, now, at = self.rand, self.now, self.moment
        r = rand()
        key, sla, channel, rule, priority, tags, text = DEPARTMENTS[
            0 if r < 0.6 else 1 if r < 0.85 else 2
        ]
        r = rand()
        source, site = SOURCES[0 if r < 0.65 else 1 if r < 0.9 else 2]
        age = now - opened
        first: float | None = opened + self.lognorm(math.log(sla * 0.5), 0.9)
        resolved: float | None = None
        assert first is not None
        if rand() < (0.5 if age < DAY else 0.1 if age < 7 * DAY else 0.02):
            status = _pick(YOUNG_OPEN if age < DAY else OLD_OPEN, rand())
        else:
            resolved = first + self.lognorm(math.log(3 * 3600), 1.2)
            status = "resolved"
            if resolved >= now:  # not resolved yet at NOW
                status, resolved = ("replied" if first < now else "claimed"), None
        # Customers come back, but have at most one open case per platform.
        handle = (
            f"user{self.randrange(self.n // 3 + 1)}" if resolved is not None else f"open{case_id}"
        )
        if status in AWAITING:
            first = None
        elif first >= now:
            first = opened + age * rand()

        owner_id = owner_name = claimed = None
        if status != "new":
            agent = self.randrange(AGENTS)
            owner_id, owner_name = f"UAGENT{agent:03d}", f"Agent {agent}"
            wait = (first - opened) * 0.3 if first is not None else min(age, 600.0) * rand()
            claimed = at(opened + wait)
        forwarded_to, forward_due = (
            ("UBILLING1", at(opened + 4 * 3600)) if status == "forwarded" else (None, None)
        )
        due, warn = opened + sla, opened + sla * 0.8
        warned = at(warn) if (first if first is not None else now) >= warn else None
        breached = at(due) if (first if first is not None else now) >= due else None
        end = resolved if resolved is not None else now
        mentions = (opened, opened + (end - opened) * rand() * 0.5) if rand() < 0.1 else (opened,)
        out["cases"].append(
            (
                case_id, key, status, priority, tags, rule, source, handle, f"Customer {handle}",
                case_id % 5000, f"{site}{handle}", False, False, at(opened),
                at(mentions[-1]), at(due), len(mentions), channel, f"{opened + 1.5:.6f}",
                owner_id, owner_name, claimed, at(resolved) if resolved is not None else None,
                forwarded_to, forward_due, at(first) if first is not None else None, at(warn),
                warned, breached,
            )
        )  # fmt: skip
        for k, created in enumerate(mentions):
            self.mention_id += 1
            out["mentions"].append(
                (
                    self.mention_id, case_id, source, f"{case_id}-{k}",
                    f"{site}{handle}/status/{self.mention_id}", text, handle, "nl", True, False,
                    None, at(created), at(created + 1.2), f"{created + 3:.6f}",
                )
            )  # fmt: skip
        if resolved is not None:
            assert first is not None and owner_id is not None
            self._resolution(case_id, first, resolved, owner_id, owner_name or "", out)
        elif status == "follow_up":
            assert first is not None and owner_id is not None
            self._task(case_id, "pending", now + (rand() * 84 - 12) * 3600, first, owner_id, out)

    def _resolution(
        self,
        case_id: int,
        first: float,
        resolved: float,
        owner: str,
        name: str,
        out: dict[str, list[tuple[Any, ...]]],
    ) -> None:
        """The reported events of a resolved case: its resolution, maybe a reopen and a
        follow-up (with the task that asked)."""
        rand = self.rand
        if rand() < 0.03:  # the customer wrote again after an earlier resolution
            detail = json.dumps({"reason": "customer wrote again", "previous_owner": owner})
            back = first + (resolved - first) * 0.5
            self._event(case_id, "reopened", "resolved", "reopened", "system", back, detail, out)
        r = rand()
        iso = (EPOCH_UTC + timedelta(seconds=resolved)).isoformat()
        if r < 0.08:  # resolved through a follow-up question, sometimes asked twice
            if r >= 0.06:
                asked = first + (resolved - first) * 0.3
                detail = json.dumps({"action": "follow_up_still_open", "actor": name})
                self._event(case_id, OUTCOME, "follow_up", "follow_up", owner, asked, detail, out)
            self._task(case_id, "fired", resolved - 60, first, owner, out)
            detail = json.dumps({"action": "follow_up_solved", "actor": name, "at": iso})
            self._event(case_id, OUTCOME, "follow_up", "resolved", owner, resolved, detail, out)
            return
        note: dict[str, Any] = {"action": "resolve", "actor": name, "at": iso}
        if r >= 0.96:  # the conversation went private: was the public thread closed?
            note["public_close"] = r < 0.98
        detail = json.dumps(note)
        self._event(case_id, "resolve", "replied", "resolved", owner, resolved, detail, out)

    def _event(
        self,
        case_id: int,
        kind: str,
        before: str,
        after: str,
        actor: str,
        moment: float,
        detail: str,
        out: dict[str, list[tuple[Any, ...]]],
    ) -> None:
        self.event_id += 1
        row = (self.event_id, case_id, kind, before, after, actor, self.moment(moment), detail)
        out["case_events"].append(row)

    def _task(
        self,
        case_id: int,
        status: str,
        due: float,
        created: float,
        owner: str,
        out: dict[str, list[tuple[Any, ...]]],
    ) -> None:
        self.task_id += 1
        at = self.moment
        fired = at(due) if status == "fired" else None
        row = (
            self.task_id,
            "follow_up",
            case_id,
            status,
            at(due),
            owner,
            owner,
            at(created),
            fired,
        )
        out["scheduled_tasks"].append(row)


class Producer:
    """Builds the batches in a thread while the caller inserts the previous one."""

    def __init__(self, batches: Iterator[Batch]) -> None:
        self._queue: queue.Queue[Batch | BaseException | None] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(batches,), daemon=True)
        self._thread.start()

    def _run(self, batches: Iterator[Batch]) -> None:
        try:
            for batch in batches:
                if not self._put(batch):
                    return
            self._put(None)
        except BaseException as exc:
            self._put(exc)

    def _put(self, item: Batch | BaseException | None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def get(self) -> Batch | None:
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
