"""A job another worker has in flight is not taken over while its Slack call may still be on
its way: the lease (6 s) is shorter than a Slack call may take (10 s)."""

from __future__ import annotations

from datetime import timedelta

from bot.delivery.worker import IN_FLIGHT, LEASE
from storage import outbox, outbox_job
from storage.db import unit_of_work
from storage.statuses import JobStatus
from tests.conftest import BotUnderTest, mention


async def test_a_job_in_flight_waits_for_its_call_to_end_before_another_worker_takes_it(
    bot: BotUnderTest,
) -> None:
    await bot.post_webhook([mention("1"), mention("2", author={"handle": "bob"})])
    unit, now = unit_of_work(bot.runtime.engine), bot.clock.now()

    async def take(holder: str, at: timedelta) -> outbox_job.Job | None:
        return await unit.run(
            lambda conn: outbox.take_next(
                conn,
                channel="CWEBCARE1",
                holder=holder,
                now=now + at,
                until=now + at + LEASE,
                in_flight=IN_FLIGHT,
            )
        )

    first = await take("A", timedelta(0))  # A starts posting the card, then stalls
    assert first is not None and first.status == JobStatus.PENDING
    # B gets the channel once A's lease lapsed, and goes on with Bob's card; not with the card
    # A may still be posting.
    later = await take("B", LEASE + timedelta(seconds=1))
    assert later is not None and later.id != first.id and later.status == JobStatus.PENDING
    await unit.run(lambda conn: outbox.mark_skipped(conn, job_id=later.id, reason="posted"))
    assert await take("B", LEASE + timedelta(seconds=2)) is None
    assert await unit.run(lambda conn: outbox.due_channels(conn, now=now + IN_FLIGHT / 2)) == []
    # Once A's call must have ended, B takes the card over (and looks in Slack first).
    taken = await take("B", IN_FLIGHT + timedelta(seconds=1))
    assert taken is not None and taken.id == first.id and taken.status == JobStatus.SENDING
    job = await unit.run(lambda conn: outbox.head_job(conn, channel="CWEBCARE1"))
    assert job is not None and job.attempts == 2 and job.status == JobStatus.SENDING
