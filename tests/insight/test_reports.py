"""Reports checked against figures worked out by hand on a fixed week of cases, including a
Friday 16:45 mention answered on Monday 09:15 (30 business minutes: on time)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select, update

from bot.insight.reports import Spread, build_report
from storage.models import Case, CaseEvent
from tests.conftest import BotUnderTest, mention
from tests.fake_slack import FakeSlack
from tests.insight.test_status import _command

AMS = ZoneInfo("Europe/Amsterdam")


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=AMS)


async def _as_they_came(bot: BotUnderTest, mentions: list[dict[str, Any]]) -> None:
    """Post each mention a minute after it was written, as a live webhook would (a late one
    would count its deadline from its arrival), then go back to the test's own time."""
    back_to = bot.clock.now()
    for body in mentions:
        bot.clock.set(datetime.fromisoformat(body["created_at"]) + timedelta(minutes=1))
        await bot.post_webhook(body)
    bot.clock.set(back_to)


async def _fixed_week(bot: BotUnderTest) -> None:
    await _as_they_came(
        bot,
        [
            mention(
                "a1", text="factuur", created_at=_at(16, 10).isoformat(), author={"handle": "a"}
            ),
            mention(
                "b1",
                text="factuur",
                created_at=_at(17, 14).isoformat(),
                author={"handle": "b"},
                source="facebook",
            ),
            mention(
                "b2",
                text="nog iets",
                created_at=_at(17, 14, 30).isoformat(),
                author={"handle": "b"},
                source="facebook",
            ),
            mention(
                "c1", text="factuur", created_at=_at(20, 16, 45).isoformat(), author={"handle": "c"}
            ),
            mention(
                "d1",
                text="hallo",
                created_at=_at(19, 9).isoformat(),
                author={"handle": "=d"},
                source="mastodon",
            ),
        ],
    )
    answers = {
        "a": (_at(16, 10, 10), _at(16, 11)),
        "b": (_at(17, 15), _at(18, 9, 30)),
        "c": (_at(23, 9, 15), None),
    }
    async with bot.runtime.engine.begin() as conn:
        for handle, (first, resolved) in answers.items():
            await conn.execute(
                update(Case)
                .where(Case.author_handle == handle)
                .values(
                    first_response_at=first,
                    resolved_at=resolved,
                    status="resolved" if resolved else "replied",
                )
            )
        case_a = (await conn.execute(select(Case.id).where(Case.author_handle == "a"))).scalar()
        events: list[dict[str, Any]] = [
            {"kind": "reopened", "at": _at(18, 12), "detail": {}},
            {
                "kind": "follow_up_outcome",
                "at": _at(19, 10),
                "detail": {"action": "follow_up_solved"},
            },
            {
                "kind": "follow_up_outcome",
                "at": _at(19, 11),
                "detail": {"action": "follow_up_solved"},
            },
            {
                "kind": "follow_up_outcome",
                "at": _at(19, 12),
                "detail": {"action": "follow_up_reopen"},
            },
            {"kind": "resolve", "at": _at(16, 11), "detail": {"public_close": False}},
            {"kind": "resolve", "at": _at(18, 9, 30), "detail": {"public_close": True}},
            {"kind": "reopened", "at": _at(9, 12), "detail": {}},  # the week before: not counted
        ]
        await conn.execute(
            insert(CaseEvent),
            [
                {"case_id": case_a, "actor": "system", "from_status": None, "to_status": None, **e}
                for e in events
            ],
        )


async def test_a_week_of_figures_matches_the_hand_count(bot: BotUnderTest) -> None:
    await _fixed_week(bot)
    async with bot.runtime.engine.connect() as conn:
        due_c = (
            await conn.execute(select(Case.sla_due_at).where(Case.author_handle == "c"))
        ).scalar()
    assert due_c == _at(23, 9, 15)  # Friday 16:45 + 30 business minutes

    report = await build_report(
        bot.runtime.engine, config=bot.runtime.config, since=_at(16, 0), until=_at(23, 12)
    )
    assert report.mentions == 5 and report.cases_opened == 4
    assert report.mentions_by_source == {"x": 2, "facebook": 2, "mastodon": 1}
    assert report.mentions_by_department == {"billing": 4, "webcare": 1}
    # First answers: A 10, B 60, C 30 business minutes (C's 64.5 clock hours are a weekend).
    assert report.first_response_business == Spread(median=30, p90=54)
    assert report.first_response_wall == Spread(median=60, p90=pytest.approx(3108))
    # On time: A and C (exactly at its deadline); late: B, and D never answered.
    assert report.answered_within_sla == 0.5
    # Resolved: A after 60 and B after 210 business minutes.
    assert (report.resolved, report.resolution_business_median) == (2, 135)
    assert report.reopened == 1
    assert report.follow_up_outcomes == {"solved": 2, "reopen": 1}
    assert report.resolved_without_public_close == 1
    assert report.busiest_hours() == [14, 9, 10]

    billing = await build_report(
        bot.runtime.engine,
        config=bot.runtime.config,
        since=_at(16, 0),
        until=_at(23, 12),
        department="billing",
    )
    assert billing.cases_opened == 3 and billing.answered_within_sla == pytest.approx(2 / 3)


async def _cli(tmp_path: Path, database_url: str, *args: str) -> tuple[int, str, str]:
    """Run `webcare` in a process of its own, as an operator would."""
    env = {**os.environ, "DATABASE_URL": database_url}
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        env.pop(name, None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from bot.app.cli import main; sys.exit(main(sys.argv[1:]))",
        *args,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def test_the_cli_exports_the_same_figures_and_a_row_per_case(
    bot: BotUnderTest, tmp_path: Path
) -> None:
    import yaml

    from tests.conftest import CONFIG

    if bot.runtime.engine.dialect.name != "sqlite":
        pytest.skip("the CLI reads DATABASE_URL; this test points it at the SQLite file")
    await _fixed_week(bot)
    (tmp_path / "webcare.yml").write_text(yaml.safe_dump(CONFIG))
    url = bot.runtime.engine.url.render_as_string(hide_password=False)
    period = ("--since", "2026-11-16", "--until", "2026-11-23T12:00")
    code, out, err = await _cli(tmp_path, url, "report", *period, "--format", "json")
    assert code == 0, err
    figures = json.loads(out)
    assert figures["answered_within_sla"] == 0.5 and figures["busiest_hours"] == [14, 9, 10]
    assert figures["first_response_business"] == {"median": 30, "p90": 54}

    code, out, err = await _cli(tmp_path, url, "report", *period, "--cases")
    rows = out.strip().splitlines()
    assert code == 0 and rows[0].startswith("case_id,department,source,customer,status")
    assert len(rows) == 5
    assert ",30.0,True," in next(r for r in rows if ",c," in r)
    assert ",'=d," in next(r for r in rows if "=d" in r)  # no formula for spreadsheets

    code, _out, err = await _cli(tmp_path, url, "report", "--since", "yesterday")
    assert code == 2 and "not a date" in err


async def test_webhooks_are_answered_while_a_report_is_summed_up(
    bot: BotUnderTest, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy month's report is seconds of Python: mentions keep coming in meanwhile. The
    summing up is held here until a webhook has been answered; were it on the event loop,
    the webhook could not be read until it ended."""
    from bot.insight import reports

    entered, release = threading.Event(), threading.Event()
    summarise, waited_out = reports._summarise, []

    def held(*args: Any) -> Any:
        entered.set()
        if not release.wait(10):  # on the event loop the webhook could never release it
            waited_out.append(True)
        return summarise(*args)

    monkeypatch.setattr(reports, "_summarise", held)
    now = bot.clock.now().astimezone(AMS)
    await bot.post_webhook(mention("1", created_at=(now - timedelta(minutes=5)).isoformat()))
    command = asyncio.create_task(_command(bot, "report today", response_url=slack.response_url()))
    assert await asyncio.to_thread(entered.wait, 10)
    try:
        later = mention("2", created_at=now.isoformat(), author={"handle": "bram"})
        status, answer = await bot.post_webhook(later)
        assert (status, answer["accepted"]) == (202, 1) and not release.is_set()
    finally:
        release.set()
    await command
    assert waited_out == []
    (figures,) = slack.responses
    assert figures["blocks"][2]["text"]["text"].startswith("*1* mentions in *1* new cases")


async def test_the_slash_command_answers_with_figures_and_sends_a_chart(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    now = bot.clock.now().astimezone(AMS)
    await bot.post_webhook(mention("1", created_at=(now - timedelta(minutes=5)).isoformat()))
    answer = await _command(bot, "report today", response_url=slack.response_url())
    assert answer["text"] == ":hourglass_flowing_sand: Building the report…"  # Slack is answered
    (figures,) = slack.responses  # then the figures follow through the response_url
    assert figures["response_type"] == "ephemeral" and figures["replace_original"] is True
    assert figures["blocks"][0]["text"]["text"] == "Report: today"
    assert figures["blocks"][2]["text"]["text"].startswith("*1* mentions in *1* new cases")
    await slack.wait_for(lambda: bool(slack.files))
    chart = slack.files[0]
    assert chart["data"].startswith(b"\x89PNG") and chart["title"] == "Mentions per hour"
    assert chart["channel"].startswith("D")  # in the asker's DM

    bad = await _command(bot, "report yesterday")
    assert bad["text"] == "Use `/webcare report [today|week|month] [department]`."
    # A department without a period: its week (it was refused as a wrong period).
    await _command(bot, "report Webcare", response_url=slack.response_url())
    await slack.wait_for(lambda: len(slack.responses) == 2)
    assert slack.responses[-1]["blocks"][0]["text"]["text"] == "Report: this week"
    assert slack.responses[-1]["blocks"][2]["text"]["text"].startswith("*1* mentions")


async def test_a_department_removed_from_the_config_still_has_its_cases_reported(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """Billing is taken out of the config while it has an answered case: the report still
    comes, counting it on the calendar its cases now fall to (the report never came: the
    'Building the report…' line stayed up)."""
    from bot.core.config import parse_config
    from tests.conftest import CONFIG, make_settings, running_bot

    now = bot.clock.now().astimezone(AMS)
    written = (now - timedelta(minutes=5)).isoformat()
    await bot.post_webhook(mention("1", text="Mijn factuur klopt niet", created_at=written))
    async with bot.runtime.engine.begin() as conn:
        await conn.execute(update(Case).values(first_response_at=bot.clock.now()))
    without_billing = parse_config(
        {
            **CONFIG,
            "departments": [d for d in CONFIG["departments"] if d["key"] != "billing"],
            "rules": [r for r in CONFIG["rules"] if r["department"] != "billing"],
        },
        source="test.yml",
    )
    await bot.runtime.stop()
    async with running_bot(
        make_settings(slack), without_billing, bot.runtime.engine, bot.clock
    ) as again:
        await _command(again, "report today", response_url=slack.response_url())
        await slack.wait_for(lambda: bool(slack.responses))
    (figures,) = slack.responses
    assert figures["blocks"][2]["text"]["text"].startswith("*1* mentions in *1* new cases")


async def test_a_case_closed_before_its_deadline_without_a_public_answer_was_not_late(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """Sorted out by phone: claimed and resolved a minute after it came, no reply posted. The
    SLA sweep never called it breached, and the report does not count it late (it said 0%
    answered within the SLA)."""
    from tests.cases.test_claim import ANNA, _click, _resolve
    from tests.conftest import cases_breached

    await bot.post_webhook(mention("1"))
    await bot.deliver()
    await _click(bot, slack, "case_claim", ANNA)
    await _resolve(bot, slack, ANNA, note="Telefonisch opgelost")
    bot.clock.advance(hours=3)  # well past the deadline
    await bot.runtime.scheduler.fire_due()
    assert await cases_breached(bot.runtime.engine) == 0
    await _command(bot, "report today", response_url=slack.response_url())
    await slack.wait_for(lambda: bool(slack.responses))
    figures = slack.responses[-1]["blocks"][2]["text"]["text"]
    assert "Answered within the SLA: —" in figures, figures  # none answered late
