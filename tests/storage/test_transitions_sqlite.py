"""Changing cases through the raw sqlite3 path (every click on SQLite) writes exactly what the
SQLAlchemy Core path writes: the same cases, audit events and outbox jobs."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.cases import state_machine as cases
from bot.cases.forwarding import answer_forward, forward_to_person
from bot.cases.state_machine import Action, Actor, InvalidTransition
from bot.core.business_time import BusinessCalendar
from bot.core.clock import Clock
from bot.core.config import WebcareConfig
from bot.intake.ingest import Ingestor
from bot.intake.mentions import parse_mentions
from storage.db import close_unit_of_work, create_engine
from storage.migrate import upgrade
from storage.transitions import sqlite as transitions_sqlite
from tests.conftest import mention

NOW = datetime(2026, 11, 27, 9, 30, 0, 123456, tzinfo=UTC)
ANNA = Actor("U0ANNA", "Anna")
BRAM = Actor("U0BRAM", "Bram")
TABLES = ("cases", "case_events", "outbox")


class _Fixed(Clock):
    def now(self) -> datetime:
        return NOW


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
    later = [NOW + timedelta(minutes=m) for m in range(20)]
    await cases.claim(engine, case_id=1, actor=ANNA, now=later[0])
    with pytest.raises(InvalidTransition):
        await cases.claim(engine, case_id=1, actor=BRAM, now=later[1])
    await cases.take_over(engine, case_id=1, actor=BRAM, expected_owner=ANNA.id, now=later[2])
    await cases.unclaim(engine, case_id=1, actor=BRAM, now=later[3])
    await cases.claim(engine, case_id=3, actor=ANNA, now=later[4])
    calendar = BusinessCalendar(config.hours_for(config.department("webcare")))
    await forward_to_person(
        engine,
        case_id=2,
        actor=ANNA,
        person=BRAM.id,
        note="Kun jij dit doen? Ü",
        config=config,
        calendar=calendar,
        now=later[5],
    )
    await answer_forward(engine, case_id=2, actor=BRAM, take=True, now=later[6])
    await cases.schedule_follow_up(
        engine, case_id=2, actor=BRAM, due_at=later[7] + timedelta(days=1), now=later[7]
    )
    await cases.record_follow_up(
        engine,
        case_id=2,
        actor=BRAM,
        outcome=Action.FOLLOW_UP_SOLVED,
        now=later[8],
    )
    await cases.resolve(
        engine, case_id=1, actor=ANNA, now=later[9], closing_note="opgelost", public_close=True
    )
    await cases.reopen(engine, case_id=1, actor=ANNA, now=later[10])
    close_unit_of_work(engine)
    await engine.dispose()
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return {
            t: [dict(row) for row in db.execute(f"SELECT * FROM {t} ORDER BY id")] for t in TABLES
        }


async def test_the_raw_path_writes_what_core_writes(
    tmp_path: Path, config: WebcareConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = await _story(tmp_path / "fast.db", config)
    monkeypatch.setattr(transitions_sqlite, "cursor", lambda _conn: None)
    core = await _story(tmp_path / "core.db", config)
    for table in TABLES:
        assert fast[table] == core[table], table
    owners = {row["id"]: row["owner_id"] for row in fast["cases"]}
    assert owners == {1: None, 2: BRAM.id, 3: ANNA.id}
    kinds = [row["kind"] for row in fast["case_events"]]
    assert {"claim", "take_over", "unclaim", "forward", "resolve", "reopen"} <= set(kinds)
    notes = [row for row in fast["outbox"] if row["kind"] == "post_note"]
    assert len(notes) == 9 and all(row["case_id"] in (1, 2) for row in notes)
