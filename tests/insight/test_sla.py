"""The SLA clock: deadlines in business time, a warning before an unclaimed case breaches, and
an escalation when it does; each once, also across restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from storage.enqueue import escalation_key
from storage.models import Case
from storage.tables import OUTBOX
from tests.conftest import BotUnderTest, cases_breached, mention
from tests.fake_slack import FakeSlack
from tests.shown import shown

AMS = ZoneInfo("Europe/Amsterdam")


def _card(slack: FakeSlack) -> dict[str, Any]:
    card = slack.last_post("CBILLING1")
    assert card is not None
    return card


def _notes(slack: FakeSlack) -> list[str]:
    return [m["text"] for m in slack.thread("CBILLING1", _card(slack)["ts"])]


async def test_a_friday_afternoon_mention_breaches_on_monday_morning(bot: BotUnderTest) -> None:
    friday = datetime(2026, 11, 20, 16, 45, tzinfo=AMS)
    bot.clock.set(datetime(2026, 11, 20, 16, 46, tzinfo=AMS))  # it reaches us at once
    await bot.post_webhook(mention("1", text="factuur?", created_at=friday.isoformat()))
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    # Billing answers within 30 business minutes, 09:00-17:00 on weekdays.
    assert case.sla_due_at == datetime(2026, 11, 23, 9, 15, tzinfo=AMS)
    assert case.sla_warn_at == datetime(2026, 11, 23, 9, 9, tzinfo=AMS)  # at 80%


async def test_an_unclaimed_case_is_warned_once_then_escalated_once(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
    bot.clock.set(wednesday)
    await bot.post_webhook(mention("1", text="factuur?", created_at=wednesday.isoformat()))
    await bot.deliver()
    assert ":large_green_circle: Answer by" in shown(_card(slack))

    bot.clock.set(datetime(2026, 11, 25, 10, 20, tzinfo=AMS))
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    assert _notes(slack) == []

    bot.clock.set(datetime(2026, 11, 25, 10, 25, tzinfo=AMS))  # past 80% of 30 minutes
    await bot.runtime.scheduler.fire_due()
    await bot.runtime.scheduler.fire_due()  # a second sweep warns nobody again
    await bot.deliver()
    (warning,) = _notes(slack)
    assert warning.startswith(":large_orange_circle: <@UBILLING1> Nobody has this case yet")
    assert ":large_orange_circle: Answer by" in shown(_card(slack))

    bot.clock.set(datetime(2026, 11, 25, 10, 31, tzinfo=AMS))
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    assert _notes(slack)[-1].startswith(":red_circle: The response deadline (")
    assert _notes(slack)[-1].endswith("escalated to <#C0LEADS01>")
    assert ":red_circle: Answer by" in shown(_card(slack))
    escalation = slack.last_post("C0LEADS01")
    assert escalation is not None
    card = _card(slack)["ts"].replace(".", "")
    assert escalation["text"] == (  # the case number links to its card
        f":red_circle: Case <https://slack.com/archives/CBILLING1/p{card}|#1> in <#CBILLING1>"
        " passed its response deadline unanswered."
    )

    bot.clock.set(datetime(2026, 11, 25, 12, 0, tzinfo=AMS))
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    assert len(_notes(slack)) == 2 and len(slack.posts("C0LEADS01")) == 1


async def test_a_claimed_case_gets_no_warning_but_still_escalates(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    from tests.cases.test_claim import ANNA, _click

    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
    bot.clock.set(wednesday)
    await bot.post_webhook(mention("1", text="factuur?", created_at=wednesday.isoformat()))
    await bot.deliver()
    await _click(bot, slack, "case_claim", ANNA, card=_card(slack))
    bot.clock.set(datetime(2026, 11, 25, 10, 26, tzinfo=AMS))
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    assert _notes(slack) == ["Anna claimed this"]  # no warning line: someone has it
    assert ":large_orange_circle: Answer by" in shown(_card(slack))  # but the clock is orange
    bot.clock.set(datetime(2026, 11, 25, 10, 45, tzinfo=AMS))
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    assert _notes(slack)[-1].startswith(":red_circle:")


async def test_a_case_answered_in_time_is_never_warned(bot: BotUnderTest, slack: FakeSlack) -> None:
    from sqlalchemy import update

    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
    bot.clock.set(wednesday)
    await bot.post_webhook(mention("1", text="factuur?", created_at=wednesday.isoformat()))
    await bot.deliver()
    async with bot.runtime.engine.begin() as conn:
        await conn.execute(
            update(Case).values(
                status="replied",
                first_response_at=datetime(2026, 11, 25, 9, 10, tzinfo=UTC),
                answered_at=datetime(2026, 11, 25, 9, 10, tzinfo=UTC),
            )
        )
    bot.clock.set(datetime(2026, 11, 26, 10, 0, tzinfo=AMS))
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    assert _notes(slack) == []


async def test_a_case_the_customer_reopens_after_an_answer_is_watched_again(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """Anna answers and resolves; the next day the customer writes again. The reopened case's
    new deadline turns the card's clock back on, and passes to the leads when nobody answers
    (the card kept saying 'answered', and the sweep skipped the case for good)."""
    from tests.cases.test_claim import ANNA, _click

    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
    bot.clock.set(wednesday)
    await bot.post_webhook(mention("1", text="factuur?", created_at=wednesday.isoformat()))
    await bot.deliver()
    await _answer(bot, slack)
    await _click(bot, slack, "case_resolve", ANNA, card=_card(slack))
    note = {"closing_note": {"closing_note": {"type": "plain_text_input", "value": None}}}
    resolve = {**slack.views[-1], "state": {"values": note}}
    assert await bot.submit_view(resolve, user=ANNA[0], name=ANNA[1]) == {}
    await bot.deliver()
    assert ":white_check_mark: First answer after" in shown(_card(slack))

    thursday = datetime(2026, 11, 26, 10, 0, tzinfo=AMS)
    bot.clock.set(thursday)
    await bot.post_webhook(
        mention("2", text="De factuur klopt nog steeds niet", created_at=thursday.isoformat())
    )
    await bot.deliver()
    assert ":large_green_circle: Answer by" in shown(_card(slack))
    bot.clock.set(thursday + timedelta(hours=2))
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    assert ":red_circle: Answer by" in shown(_card(slack))
    assert await cases_breached(bot.runtime.engine) == 1
    assert slack.last_post("C0LEADS01") is not None
    async with bot.runtime.engine.connect() as conn:  # the report keeps the first answer
        case = (await conn.execute(select(Case))).one()
    assert case.first_response_at is not None and case.answered_at is None


async def test_a_customer_writing_again_after_our_answer_waits_again(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """Anna answered; an hour later the customer writes "klopt nog steeds niet". The case gets
    a new deadline from that message, turns red when nobody answers, and reaches the leads
    (no clock ran: nobody would have been warned if Anna was away)."""

    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
    bot.clock.set(wednesday)
    await bot.post_webhook(mention("1", text="factuur?", created_at=wednesday.isoformat()))
    await bot.deliver()
    await _answer(bot, slack)

    later = wednesday + timedelta(hours=1)
    bot.clock.set(later)
    again = mention("2", text="Mijn factuur klopt nog steeds niet", created_at=later.isoformat())
    await bot.post_webhook(again)
    await bot.deliver()
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    assert (case.status, case.sla_due_at) == ("replied", later + timedelta(minutes=30))
    assert ":large_green_circle: Answer by" in shown(_card(slack))
    bot.clock.set(later + timedelta(hours=1))
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    assert ":red_circle: Answer by" in shown(_card(slack))
    assert slack.last_post("C0LEADS01") is not None


async def test_a_late_first_answer_stays_late_when_the_customer_writes_again(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """Answered an hour late, then "Bedankt!": the report keeps the first answer late (the
    thanks gave the case a new deadline, and the report judged the first answer by it)."""
    from bot.insight.reports import build_report

    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
    bot.clock.set(wednesday)
    await bot.post_webhook(mention("1", text="factuur?", created_at=wednesday.isoformat()))
    await bot.deliver()
    bot.clock.set(wednesday + timedelta(hours=1))  # the deadline was 10:30
    await _answer(bot, slack)
    since, until = wednesday - timedelta(hours=1), wednesday + timedelta(hours=8)
    engine, config = bot.runtime.engine, bot.runtime.config
    before = await build_report(engine, config=config, since=since, until=until)
    later = wednesday + timedelta(hours=2)
    bot.clock.set(later)
    await bot.post_webhook(
        mention("2", text="Bedankt voor de factuur!", created_at=later.isoformat())
    )
    after = await build_report(engine, config=config, since=since, until=until)
    assert before.answered_within_sla == after.answered_within_sla == 0.0


async def test_a_case_on_follow_up_without_a_public_answer_is_not_breached(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """Put on follow-up before any public answer (sorted out by phone): no red clock and no
    escalation, as before answered_at (only a case written to after an answer waits again)."""
    from bot.cases.follow_up import schedule_follow_up
    from bot.cases.state_machine import Actor
    from tests.cases.test_claim import ANNA

    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
    bot.clock.set(wednesday)
    await bot.post_webhook(mention("1", text="factuur?", created_at=wednesday.isoformat()))
    await bot.deliver()
    await schedule_follow_up(
        bot.runtime.engine,
        case_id=1,
        actor=Actor(*ANNA),
        due_at=wednesday + timedelta(days=2),
        now=wednesday + timedelta(minutes=5),
    )
    bot.clock.set(wednesday + timedelta(hours=1))
    await bot.runtime.scheduler.fire_due()
    assert await cases_breached(bot.runtime.engine) == 0


async def _answer(bot: BotUnderTest, slack: FakeSlack) -> None:
    """Anna drafts a reply on the billing card and marks it as sent."""
    from tests.cases.test_claim import ANNA, _click
    from tests.cases.test_drafts import _submit

    await _click(bot, slack, "case_draft_reply", ANNA, card=_card(slack))
    await _submit(bot, slack, "We passen de factuur aan.")
    draft = [m for m in _notes_messages(slack) if m["text"].startswith("Draft reply by")][-1]
    await _click(bot, slack, "draft_mark_sent", ANNA, card=draft)
    link = {"url": {"url": {"type": "url_text_input", "value": "https://x.com/acme/status/9"}}}
    view = {**slack.views[-1], "state": {"values": link}}
    assert await bot.submit_view(view, user=ANNA[0], name=ANNA[1]) == {}


def _notes_messages(slack: FakeSlack) -> list[dict[str, Any]]:
    return slack.thread("CBILLING1", _card(slack)["ts"])


async def test_a_mention_that_reaches_us_late_counts_from_its_arrival_and_says_how_old(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
    bot.clock.set(wednesday)
    # A listening tool (or a first poll's backfill) brings a post from three hours ago.
    old = (wednesday - timedelta(hours=3)).isoformat()
    await bot.post_webhook(mention("1", text="factuur?", created_at=old))
    async with bot.runtime.engine.connect() as conn:
        case = (await conn.execute(select(Case))).one()
    due = wednesday + timedelta(minutes=30)  # from its arrival: not breached on arrival
    assert due <= case.sla_due_at < due + timedelta(seconds=5)
    assert case.opened_at == wednesday - timedelta(hours=3)  # the card still shows the post time
    await bot.deliver()
    seen = shown(_card(slack))
    assert "Posted 3 h before it reached us" in seen
    assert ":large_green_circle: Answer by" in seen
    bot.clock.set(wednesday + timedelta(minutes=29))
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    assert not any("deadline" in note for note in _notes(slack))


async def test_cases_breaching_together_reach_the_leads_in_one_message(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    await _three_billing_cases_at_ten(bot)

    bot.clock.set(datetime(2026, 11, 25, 10, 31, tzinfo=AMS))
    await bot.runtime.scheduler.fire_due()
    await bot.runtime.scheduler.fire_due()  # nothing more: each escalated once
    await bot.deliver()

    cards = [m for m in slack.posts("CBILLING1") if m["thread_ts"] in (None, m["ts"])]
    assert len(cards) == 3
    ts = {_case_of(card): card["ts"].replace(".", "") for card in cards}
    [escalation] = slack.posts("C0LEADS01")
    links = [f"<https://slack.com/archives/CBILLING1/p{ts[n]}|#{n}>" for n in (1, 2, 3)]
    assert escalation["text"] == (
        ":red_circle: 3 cases in <#CBILLING1> passed their response deadline unanswered: "
        + ", ".join(links)
        + "."
    )
    # Each card still says in its thread that the deadline passed, and where it went.
    for card in cards:
        notes = [m["text"] for m in slack.thread("CBILLING1", card["ts"])]
        assert notes[-1].endswith("escalated to <#C0LEADS01>")


async def test_cases_breaching_while_the_leads_message_waits_join_it(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """Slack is slow or down, or the sweeps come a minute apart: cases that pass their
    deadline before the leads' message went out are added to it, not sent one message more."""
    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
    for n, (handle, minute) in enumerate((("anna", 0), ("bram", 0), ("carla", 2)), start=1):
        bot.clock.set(wednesday + timedelta(minutes=minute))
        body = mention(str(n), text="factuur?", author={"handle": handle})
        await bot.post_webhook(body | {"created_at": bot.clock.now().isoformat()})
    await bot.deliver()

    bot.clock.set(datetime(2026, 11, 25, 10, 31, tzinfo=AMS))
    await bot.runtime.scheduler.fire_due()  # anna's and bram's: the message waits to be sent
    bot.clock.set(datetime(2026, 11, 25, 10, 33, tzinfo=AMS))
    await bot.runtime.scheduler.fire_due()  # carla's joins it
    await bot.deliver()

    [escalation] = slack.posts("C0LEADS01")
    assert escalation["text"].startswith(":red_circle: 3 cases in <#CBILLING1> passed")
    assert [f"|#{n}>" in escalation["text"] for n in (1, 2, 3)] == [True] * 3

    # Once it is sent, the next case to breach gets a message of its own.
    bot.clock.set(datetime(2026, 11, 25, 10, 40, tzinfo=AMS))
    await bot.post_webhook(
        mention("4", text="factuur?", author={"handle": "daan"})
        | {"created_at": bot.clock.now().isoformat()}
    )
    await bot.deliver()
    bot.clock.set(datetime(2026, 11, 25, 11, 11, tzinfo=AMS))
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    assert len(slack.posts("C0LEADS01")) == 2
    assert "|#4>" in slack.posts("C0LEADS01")[1]["text"]


async def test_replicas_sweeping_at_once_still_send_the_leads_one_message(
    bot: BotUnderTest, slack: FakeSlack, engine: AsyncEngine
) -> None:
    """Another replica queues the leads' message between this sweep's look for a waiting one
    and its own insert: the sweep is undone and done again, its cases joining that message."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: two sweeps cannot interleave")
    await _three_billing_cases_at_ten(bot)
    bot.clock.set(datetime(2026, 11, 25, 10, 31, tzinfo=AMS))
    key = escalation_key("C0LEADS01", "CBILLING1")

    async def other_replica_queues(now: datetime) -> None:
        async with engine.begin() as conn:
            await conn.execute(
                insert(OUTBOX).values(
                    kind="post_dm",
                    case_id=1,
                    channel="C0LEADS01",
                    status="pending",
                    attempts=0,
                    not_before=now,
                    created_at=now,
                    dedupe_key=key,
                    payload={"kind": "sla_breach", "cases": [[1, None, None]]},
                )
            )

    raced: list[bool] = []

    def race(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not raced and statement.startswith("INSERT INTO outbox") and key in str(parameters):
            raced.append(True)
            await_only(other_replica_queues(bot.clock.now()))

    event.listen(engine.sync_engine, "before_cursor_execute", race)
    try:
        await bot.runtime.scheduler.fire_due()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", race)
    await bot.deliver()

    assert raced == [True]
    [escalation] = slack.posts("C0LEADS01")
    assert escalation["text"].startswith(":red_circle: 3 cases in <#CBILLING1> passed")
    breached = await cases_breached(engine)
    assert breached == 3


async def test_cases_added_while_the_worker_takes_the_message_are_sent_in_it(
    bot: BotUnderTest, slack: FakeSlack, engine: AsyncEngine
) -> None:
    """The outbox reads the leads' waiting message, a sweep adds a case to it and commits, then
    the outbox marks it in flight: what goes to Slack is the message as marked, with the case
    the sweep added (the case is marked escalated, so the leads must hear of it)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writer reads and marks a job in one locked transaction")
    await _three_billing_cases_at_ten(bot)
    bot.clock.set(datetime(2026, 11, 25, 10, 2, tzinfo=AMS))
    later = mention("4", text="factuur?", author={"handle": "daan"})
    await bot.post_webhook(later | {"created_at": bot.clock.now().isoformat()})
    await bot.deliver()
    bot.clock.set(datetime(2026, 11, 25, 10, 31, tzinfo=AMS))
    await bot.runtime.scheduler.fire_due()  # #1-#3: their message waits
    async with engine.connect() as conn:
        message = await conn.scalar(
            select(OUTBOX.c.id).where(OUTBOX.c.kind == "post_dm", OUTBOX.c.status == "pending")
        )
    bot.clock.set(datetime(2026, 11, 25, 10, 33, tzinfo=AMS))  # #4 is past its deadline too

    swept: list[bool] = []

    def sweep_meanwhile(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        values = parameters.values() if isinstance(parameters, dict) else parameters
        marking = statement.startswith("UPDATE outbox SET status") and message in values
        if marking and not swept:
            swept.append(True)
            await_only(bot.runtime.scheduler.fire_due())

    event.listen(engine.sync_engine, "before_cursor_execute", sweep_meanwhile)
    try:
        await bot.deliver()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", sweep_meanwhile)

    assert swept == [True]
    [escalation] = slack.posts("C0LEADS01")
    assert escalation["text"].startswith(":red_circle: 4 cases in <#CBILLING1> passed")
    assert "|#4>" in escalation["text"]


async def _three_billing_cases_at_ten(bot: BotUnderTest) -> None:
    """Cases #1-#3, three customers asking Billing (30 minutes) at 10:00 on a Wednesday."""
    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=AMS)
    bot.clock.set(wednesday)
    for n, handle in enumerate(("anna", "bram", "carla"), start=1):
        body = mention(str(n), text="factuur?", author={"handle": handle})
        await bot.post_webhook(body | {"created_at": wednesday.isoformat()})
    await bot.deliver()


def _case_of(card: dict[str, Any]) -> int:
    """The case a card is about (its buttons' block id is "case:{id}:{owner}")."""
    actions = next(b for b in card["blocks"] if b["type"] == "actions")
    return int(actions["block_id"].split(":")[1])


def test_a_storms_escalation_lists_thirty_cases_and_counts_the_rest() -> None:
    from bot.render.escalations import escalation_dm

    cases = [[n, None, None] for n in range(1, 101)]  # shown nowhere: plain numbers
    cases[0] = [1, "CBILLING1", "1764950400.000100"]
    text, _ = escalation_dm(cases, channel="CBILLING1", lang="nl")
    assert text.startswith(":red_circle: 100 cases in <#CBILLING1> zijn over de reactietermijn")
    assert "<https://slack.com/archives/CBILLING1/p1764950400000100|#1>, #2, #3" in text
    assert text.endswith("#29, #30 en nog 70.")
    assert "#31" not in text
