"""Where we stand: /webcare status and mine, the App Home, and the published reply time."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import Case
from tests.cases.test_claim import ANNA, _click
from tests.conftest import BotUnderTest, mention, slack_signed
from tests.fake_slack import FakeSlack


async def _command(
    bot: BotUnderTest, text: str, user: str = "U0ANNA", *, response_url: str | None = None
) -> dict[str, Any]:
    body = urlencode(
        {
            "token": "legacy",
            "team_id": "T_FAKE",
            "team_domain": "acme",
            "channel_id": "CWEBCARE1",
            "user_id": user,
            "user_name": "anna",
            "command": "/webcare",
            "text": text,
            "api_app_id": "A_FAKE",
            "response_url": response_url or "https://hooks.slack.com/commands/1/2/3",
            "trigger_id": "1.2.3",
        }
    )
    async with bot.session.post(
        f"{bot.url}/slack/events", data=body, headers=slack_signed(body)
    ) as response:
        assert response.status == 200
        return await response.json()


def _text(answer: dict[str, Any]) -> str:
    return "\n".join(b["text"]["text"] for b in answer["blocks"] if b["type"] == "section")


async def _board(bot: BotUnderTest, slack: FakeSlack) -> None:
    """Three billing cases (one overdue, one nearly due, one claimed by Anna), one outage."""
    await bot.post_webhook(
        [
            mention("1", text="factuur 1", author={"handle": "a"}),
            mention("2", text="factuur 2", author={"handle": "b"}),
            mention("3", text="factuur 3", author={"handle": "c"}),
            mention("4", text="storing!", author={"handle": "d"}),
        ]
    )
    await bot.deliver()
    now = bot.clock.now()
    async with bot.runtime.engine.begin() as conn:
        await conn.execute(
            update(Case)
            .where(Case.id == 1)
            .values(sla_due_at=now - timedelta(minutes=5), opened_at=now - timedelta(minutes=95))
        )
        await conn.execute(
            update(Case).where(Case.id == 2).values(sla_due_at=now + timedelta(minutes=10))
        )
        await conn.execute(
            update(Case).where(Case.id.in_([3, 4])).values(sla_due_at=now + timedelta(hours=3))
        )
    await _click(bot, slack, "case_claim", ANNA, card=slack.posts("CBILLING1")[2])


async def test_status_shows_each_department_and_what_is_overdue(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _board(bot, slack)
    answer = await _command(bot, "status")
    text = _text(answer)
    assert answer["response_type"] == "ephemeral"
    assert "*Billing* — new 2 · claimed 1" in text
    assert "Oldest unclaimed: waiting 2 hours" in text  # 95 minutes
    card = slack.posts("CBILLING1")[0]
    link = f"https://fake.slack.com/archives/CBILLING1/p{card['ts'].replace('.', '')}"
    assert f":red_circle: Past the deadline: <{link}|#1 @a>" in text
    assert ":large_orange_circle: Deadline within 30 min: <" in text and "|#2 @b>" in text
    assert "*Outages* — new 1 · claimed 0" in text

    only = _text(await _command(bot, "status Billing"))
    assert "*Billing*" in only and "*Outages*" not in only
    unknown = await _command(bot, "status sales")
    assert unknown["text"].startswith("I don't know the department “sales”. Departments: webcare")


async def test_mine_lists_my_cases_and_nobody_elses(bot: BotUnderTest, slack: FakeSlack) -> None:
    await _board(bot, slack)
    mine = _text(await _command(bot, "mine"))
    assert mine.startswith("Your open cases (1):") and "#3 @c>" in mine
    assert _text(await _command(bot, "mine", user="U0BRAM")) == "You have no open cases. :tada:"


async def test_mine_counts_every_case_and_shows_whole_lines_only(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """45 open cases of customers with long handles: the title counts all 45, the list stops
    at a whole line (no link cut in half) within Slack's 3,000 characters, and says how many
    more there are."""
    handles = [f"klantenservice_klacht_nummer_{n:02}" for n in range(45)]
    await bot.post_webhook(
        [mention(str(n), author={"handle": handle}) for n, handle in enumerate(handles)]
    )
    await bot.deliver()
    async with bot.runtime.engine.begin() as conn:
        await conn.execute(update(Case).values(status="claimed", owner_id=ANNA[0]))
    answer = await _command(bot, "mine")
    text = _text(answer)
    lines = text.split("\n")
    assert answer["text"] == "Your open cases (45):" and lines[0] == answer["text"]
    listed = lines[1:-1]
    assert len(text) <= 3000 and all(line.endswith("> · claimed") for line in listed)
    # Fewer than the 30 read: the list ends where Slack's limit does, at a whole line.
    assert 20 < len(listed) < 30 and lines[-1] == f"and {45 - len(listed)} more"


async def test_the_app_home_shows_my_cases_the_queue_and_the_reply_time(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _board(bot, slack)
    home = await open_home(bot, slack, "U0ANNA")
    texts = [b["text"]["text"] for b in home["blocks"] if b["type"] == "section"]
    assert texts[0].startswith("Your open cases (1):")
    assert any(t.startswith("*Billing* — new 2 · claimed 1") for t in texts)


async def open_home(bot: BotUnderTest, slack: FakeSlack, user: str) -> dict[str, Any]:
    """Open the App Home as Slack reports it (app_home_opened); returns the published view."""
    slack.home_views.pop(user, None)
    event = {
        "token": "legacy",
        "team_id": "T_FAKE",
        "api_app_id": "A_FAKE",
        "type": "event_callback",
        "event_id": "Ev1",
        "event_time": int(time.time()),
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": "D" + user[1:],
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        },
    }
    body = json.dumps(event)
    headers = {**slack_signed(body), "Content-Type": "application/json"}
    async with bot.session.post(f"{bot.url}/slack/events", data=body, headers=headers) as resp:
        assert resp.status == 200
    await slack.wait_for(lambda: user in slack.home_views)
    return slack.home_views[user]


async def test_the_expected_reply_time_is_published(bot: BotUnderTest) -> None:
    await bot.post_webhook(mention("1"))
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 11:00 in Amsterdam
    async with bot.runtime.engine.begin() as conn:
        await conn.execute(
            update(Case).values(opened_at=monday, first_response_at=monday + timedelta(minutes=25))
        )
    async with bot.session.get(f"{bot.url}/public/expected-reply-time") as response:
        body = await response.json()
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert body["expected_reply_minutes"] == 25
    assert body["departments"] == {"webcare": 25, "billing": None, "outages": None}

    # Public and unauthenticated: answered from a one-minute cache, not recomputed.
    async with bot.runtime.engine.begin() as conn:
        await conn.execute(update(Case).values(first_response_at=monday + timedelta(minutes=50)))
    async with bot.session.get(f"{bot.url}/public/expected-reply-time") as response:
        assert (await response.json())["expected_reply_minutes"] == 25


async def test_an_answered_case_opened_years_ago_leaves_status_home_and_reports_working(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """An old thread taken in (written in 2019), answered and closed today: status, the App
    Home, the report and the public reply time still answer (the business calendar refused
    days before 2020, and each of them failed until 20 or 200 newer answers came)."""
    status, _ = await bot.post_webhook(mention("old", created_at="2019-06-03T10:00:00+00:00"))
    assert status == 202
    now = bot.clock.now()
    async with bot.runtime.engine.begin() as conn:
        answered = {"first_response_at": now, "resolved_at": now, "status": "resolved"}
        await conn.execute(update(Case).values(**answered))
    assert "Webcare" in _text(await _command(bot, "status"))
    assert (await open_home(bot, slack, "U0ANNA"))["type"] == "home"
    await _command(bot, "report today", response_url=slack.response_url())
    await slack.wait_for(lambda: bool(slack.responses))
    assert "mentions" in json.dumps(slack.responses[-1]["blocks"])
    async with bot.session.get(f"{bot.url}/public/expected-reply-time") as response:
        assert response.status == 200


def _section(text: str, name: str) -> str:
    """The part of the status text about department `name`."""
    return next(part for part in text.split("\n*") if part.lstrip("*").startswith(name))


async def test_in_a_storm_every_departments_overdue_cases_are_listed_and_all_counted(
    bot: BotUnderTest,
) -> None:
    """60 webcare cases and one billing case past their deadline: billing's still shows (it
    vanished behind webcare's first 50), and webcare counts all 60 (it said 5 and 45 more)."""
    await bot.post_webhook(
        [mention(str(n), author={"handle": f"w{n}"}) for n in range(60)]
        + [mention("b", text="Mijn factuur klopt niet", author={"handle": "bill"})]
    )
    now = bot.clock.now()
    async with bot.runtime.engine.begin() as conn:
        await conn.execute(update(Case).values(sla_due_at=now - timedelta(hours=2)))
        await conn.execute(
            update(Case)
            .where(Case.department == "billing")
            .values(sla_due_at=now - timedelta(minutes=5))
        )
    text = _text(await _command(bot, "status"))
    assert "Past the deadline" in _section(text, "Billing")
    assert "and 55 more" in _section(text, "Webcare")


async def test_a_quiet_departments_reply_time_is_its_own_among_a_busy_ones_answers(
    bot: BotUnderTest,
) -> None:
    """Billing answered in 20 minutes, while webcare gave 210 later answers: billing's
    expected reply time still shows (it was read from the latest 200 answers of all)."""
    await bot.post_webhook(
        [mention(str(n), author={"handle": f"w{n}"}) for n in range(210)]
        + [mention("b", text="Mijn factuur klopt niet", author={"handle": "bill"})]
    )
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    async with bot.runtime.engine.begin() as conn:
        for department, minutes in (("billing", 20), ("webcare", 40)):
            answered = monday + timedelta(minutes=minutes, seconds=minutes)
            await conn.execute(
                update(Case)
                .where(Case.department == department)
                .values(opened_at=monday, first_response_at=answered)
            )
    assert "Expected reply time: ~20 minutes" in _text(await _command(bot, "status billing"))


async def test_a_department_with_an_ampersand_in_its_name_can_be_asked_for(
    engine: AsyncEngine, slack: FakeSlack
) -> None:
    """Slack sends "&" as "&amp;" in a command's text: "Outages & incidents" is found, and a
    name it does not know is echoed as typed (it showed "&amp;amp;")."""
    from bot.core.config import parse_config
    from tests.conftest import CONFIG, make_settings, running_bot

    renamed = [
        {**d, "name": "Outages & incidents"} if d["key"] == "outages" else d
        for d in CONFIG["departments"]
    ]
    config = parse_config({**CONFIG, "departments": renamed}, source="test.yml")
    async with running_bot(make_settings(slack), config, engine) as bot:
        answer = await _command(bot, "status Outages &amp; incidents")
        assert _text(answer).startswith("*Outages &amp; incidents*")
        unknown = await _command(bot, "status Sales &amp; &lt;marketing&gt;")
        assert "“Sales &amp; &lt;marketing&gt;”" in unknown["text"]


async def test_long_handles_leave_the_status_section_whole(bot: BotUnderTest) -> None:
    """Five overdue cases of forum handles of 200 characters, escaped to four times that:
    every link is whole and the lines after them are shown (the section was cut at 3,000
    characters inside a link)."""
    await bot.post_webhook(
        [mention(str(n), source="forum", author={"handle": f"{n}" + "<>" * 99}) for n in range(5)]
    )
    await bot.deliver()
    now = bot.clock.now()
    async with bot.runtime.engine.begin() as conn:
        await conn.execute(update(Case).values(sla_due_at=now - timedelta(minutes=5)))
        await conn.execute(
            update(Case).where(Case.id == 1).values(sla_due_at=now + timedelta(minutes=10))
        )
    section = _section(_text(await _command(bot, "status webcare")), "Webcare")
    assert section.count("<https://") == section.count("|#") == 5
    assert "Deadline within 30 min: " in section  # the line after the overdue ones
