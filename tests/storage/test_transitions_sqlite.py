"""Changing cases through the raw sqlite3 path (every click on SQLite) writes exactly what the
SQLAlchemy Core path writes: the same cases, audit events and outbox jobs."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases import card_actions, crisis, drafts, follow_up
from bot.cases.forwarding import answer_forward, forward_to_person, move_to_department
from bot.cases.state_machine import Action, Actor, InvalidTransition
from bot.core.business_time import BusinessCalendar
from bot.core.clock import Clock
from bot.core.config import WebcareConfig
from bot.delivery.scheduler import Scheduler
from bot.intake.ingest import Ingestor
from bot.intake.mentions import parse_mentions
from storage.db import close_unit_of_work, create_engine
from storage.intake import sqlite as intake_sqlite
from storage.intake.core import CoreWriter
from storage.migrate import upgrade
from storage.transitions import sqlite as transitions_sqlite
from tests.conftest import mention

NOW = datetime(2026, 11, 27, 9, 30, 0, 123456, tzinfo=UTC)
ANNA = Actor("U0ANNA", "Anna")
BRAM = Actor("U0BRAM", "Bram")
TABLES = ("cases", "case_events", "outbox", "drafts", "scheduled_tasks", "crisis_modes")


class _Fixed(Clock):
    def now(self) -> datetime:
        return NOW


class _At(Clock):
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


async def _story(path: Path, config: WebcareConfig) -> dict[str, list[dict[str, Any]]]:
    """Claims, take-overs, refusals, a forward, a follow-up, resolve and reopen; then the rows."""
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    ingestor = Ingestor(engine=engine, config=config, clock=_Fixed())
    await ingestor.ingest(
        parse_mentions([mention(str(n), author={"handle": f"c{n}"}) for n in (1, 2, 3)])
    )
    async with engine.begin() as conn:  # cards 1 and 2 are in Slack; 3 is not posted yet
        await conn.execute(text("UPDATE cases SET slack_ts = '1700.' || id WHERE id < 3"))
        await conn.execute(text("DELETE FROM outbox"))
    later = [NOW + timedelta(minutes=m) for m in range(30)]
    await card_actions.claim(engine, case_id=1, actor=ANNA, now=later[0])
    with pytest.raises(InvalidTransition):
        await card_actions.claim(engine, case_id=1, actor=BRAM, now=later[1])
    await card_actions.take_over(
        engine, case_id=1, actor=BRAM, expected_owner=ANNA.id, now=later[2]
    )
    await card_actions.unclaim(engine, case_id=1, actor=BRAM, now=later[3])
    await card_actions.claim(engine, case_id=3, actor=ANNA, now=later[4])
    calendar = BusinessCalendar(config.hours_for(config.department("webcare")))
    await forward_to_person(
        engine,
        case_id=2,
        actor=ANNA,
        person=BRAM.id,
        note="Kun jij dit doen? Ü",
        config=config,
        calendar_for=lambda _key: calendar,
        now=later[5],
    )
    await answer_forward(engine, case_id=2, actor=BRAM, take=True, now=later[6])
    await follow_up.schedule_follow_up(
        engine, case_id=2, actor=BRAM, due_at=later[7] + timedelta(days=1), now=later[7]
    )
    await follow_up.record_follow_up(
        engine,
        case_id=2,
        actor=BRAM,
        outcome=Action.FOLLOW_UP_SOLVED,
        now=later[8],
        calendar_for=lambda _key: calendar,
    )
    await card_actions.resolve(
        engine, case_id=1, actor=ANNA, now=later[9], closing_note="opgelost", public_close=True
    )
    await card_actions.reopen(engine, case_id=1, actor=ANNA, now=later[10])
    await _more_of_the_story(engine, config, calendar, later[11:])
    close_unit_of_work(engine)
    await engine.dispose()
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        read = {t: db.execute(f"SELECT * FROM {t} ORDER BY rowid") for t in TABLES}
        return {t: [dict(row) for row in rows] for t, rows in read.items()}


async def _more_of_the_story(
    engine: AsyncEngine, config: WebcareConfig, calendar: BusinessCalendar, at: list[datetime]
) -> None:
    """Forward and send back, a forward's deadline passing, a draft written, approved and
    sent, a move to another department, crisis mode, and a customer coming back."""
    await forward_to_person(
        engine,
        case_id=3,
        actor=ANNA,
        person=BRAM.id,
        note=None,
        config=config,
        calendar_for=lambda _key: calendar,
        now=at[0],
    )
    await answer_forward(engine, case_id=3, actor=BRAM, take=False, now=at[1])
    await forward_to_person(
        engine,
        case_id=3,
        actor=ANNA,
        person=BRAM.id,
        note="",
        config=config,
        calendar_for=lambda _key: calendar,
        now=at[1],
    )
    scheduler = Scheduler(engine=engine, clock=_At(at[1] + timedelta(days=3)), config=config)
    assert await scheduler.fire_due() >= 2  # the reminder and the deadline
    outages = config.department("outages")
    draft_id = await drafts.save_draft(
        engine,
        case_id=3,
        actor=ANNA,
        text="Hoi! We kijken ernaar.",
        public=True,
        overridden=[],
        now=at[2],
    )
    draft = await drafts.get_draft(engine, draft_id=draft_id)
    await drafts.approve_draft(
        engine,
        draft_id=draft_id,
        actor=BRAM,
        department=outages,
        now=at[3],
        seen_version=drafts.draft_version(draft),
    )
    await drafts.mark_sent(
        engine,
        draft_id=draft_id,
        actor=ANNA,
        url="https://x.example/1",
        department=outages,
        now=at[4],
    )
    await move_to_department(
        engine,
        case_id=3,
        actor=ANNA,
        department="billing",
        note="Factuur",
        config=config,
        now=at[5],
    )
    async with engine.begin() as conn:
        alert = await conn.execute(
            text(
                "INSERT INTO spike_alerts (scope, detected_at, mentions, baseline, details)"
                " VALUES ('webcare', '2026-11-27 09:00:00.000000', 40, 2.0,"
                ' \'{"words": [["storing", 30]]}\') RETURNING id'
            )
        )
        alert_id = alert.scalar_one()
    await crisis.start_from_alert(engine, alert_id=alert_id, actor=ANNA, config=config, now=at[6])
    await card_actions.resolve(engine, case_id=1, actor=ANNA, now=at[7])
    ingestor = Ingestor(engine=engine, config=config, clock=_At(at[8]))
    await ingestor.ingest(parse_mentions([mention("back", author={"handle": "c1"})]))
    await crisis.end(engine, department="webcare", actor=ANNA, now=at[9])


async def test_the_raw_path_writes_what_core_writes(
    tmp_path: Path, config: WebcareConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = await _story(tmp_path / "fast.db", config)
    monkeypatch.setattr(transitions_sqlite, "cursor", lambda _conn: None)
    monkeypatch.setattr(intake_sqlite, "SqliteWriter", CoreWriter)
    core = await _story(tmp_path / "core.db", config)
    for table in TABLES:
        assert fast[table] == core[table], table
    statuses = {row["id"]: (row["status"], row["owner_id"]) for row in fast["cases"]}
    # 1: resolved, then its customer wrote again; 3: sent back, answered, moved to billing
    assert statuses == {1: ("reopened", None), 2: ("resolved", BRAM.id), 3: ("new", None)}
    kinds = [row["kind"] for row in fast["case_events"]]
    assert {"claim", "take_over", "unclaim", "forward", "resolve", "reopen"} <= set(kinds)
    assert {"send_back", "draft_saved", "draft_approved", "reply_sent", "move"} <= set(kinds)
    assert kinds[-2:] == ["mention_added", "reopen"]  # the customer's return, as the button's
    assert [row["status"] for row in fast["drafts"]] == ["sent"]
    assert fast["crisis_modes"] == []  # started and ended again
    notes = [row for row in fast["outbox"] if row["kind"] == "post_note"]
    assert len(notes) > 9 and all(row["case_id"] in (1, 2, 3) for row in notes)
