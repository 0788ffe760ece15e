"""A storm: mentions arriving faster than Slack lets the bot post to one channel.

The bot runs as deployed (HTTP webhook, its outbox worker and scheduler running) against
tests/fake_slack.py enforcing `--rate` posts/s per channel with a token bucket of `--burst` and
429 + Retry-After beyond it. Mentions, each from its own customer (see --repeat), all to #billing,
are posted to the webhook at `--factor` x the channel limit for `--seconds` s. Visibility lag of a
mention: from its webhook's 202 to the first Slack message (post or update, accepted by Slack)
that shows it (a card, a digest row, a thread line). Run: `python -m bench.storm` (5x for 60 s),
`--long` (3x for 10 minutes), `--repeat 0.3` (30% of mentions by a customer who wrote before),
`--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres` (makes and drops a database
of its own there). Exit 1 when a mention is lost or a case gets two cards or two digest rows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench._common import (
    CHANNEL_TEXTS,
    CONFIG,
    WEBHOOK_SECRET,
    emit,
    environment,
    mention,
    setup_logging,
)
from bench.delivery import card_identity
from bot.app.runtime import Runtime
from bot.app.settings import Settings
from bot.core.config import parse_config
from bot.intake.webhook import sign
from bot.render.action_ids import ActionId
from storage.db import create_engine
from storage.migrate import upgrade
from storage.tables import CASES
from tests.fake_slack import FakeSlack
from tests.scratch_databases import fresh_postgres_database

log = logging.getLogger("bench.storm")
CHANNEL = "CBILLING1"
SEEN = re.compile(r"/status/(\d+)")  # each bench mention links to x.com/userN/status/N
WRITES = ("chat.postMessage", "chat.update")
DIGEST_CLAIM_ID = f"{ActionId.CLAIM}:"  # bot.render.digests.digest_claim


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)


@asynccontextmanager
async def fresh_engine(url: str | None, tmp: str) -> AsyncIterator[AsyncEngine]:
    """SQLite in a temporary file, or a fresh migrated PostgreSQL database of the bench's own."""
    if url is None:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'webcare.db'}")
        await upgrade(engine)
        yield engine
        await engine.dispose()
        return
    async with fresh_postgres_database(url, prefix="storm") as database:
        engine = create_engine(database)
        try:
            yield engine
        finally:
            await engine.dispose()


async def storm(args: argparse.Namespace) -> dict[str, Any]:
    total = int(args.factor * args.rate * args.seconds)
    accepted: dict[int, float] = {}
    failed = 0
    async with (
        FakeSlack(post_rate_per_channel=args.rate, post_burst=args.burst) as fake,
        contextlib.AsyncExitStack() as stack,
    ):
        with tempfile.TemporaryDirectory(prefix="webcare-storm-") as tmp:
            engine = await stack.enter_async_context(fresh_engine(args.database_url, tmp))
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                slack_bot_token=fake.bot_token,
                slack_signing_secret="bench-signing-secret",
                slack_api_url=fake.api_url,
                webhook_secret=WEBHOOK_SECRET,
                host="127.0.0.1",
                port=0,
                webcare_channel_interval=1.0 / args.rate,
            )
            runtime = Runtime(settings, parse_config(CONFIG, source="bench"), engine=engine)
            await runtime.start()
            url = f"http://127.0.0.1:{runtime.port}/ingest/webhook"
            try:
                async with aiohttp.ClientSession() as session:

                    async def send(n: int) -> None:
                        nonlocal failed
                        body = json.dumps(_storm_mention(n, args.repeat)).encode()
                        ts = str(int(time.time()))
                        headers = {
                            "Content-Type": "application/json",
                            "X-Webcare-Timestamp": ts,
                            "X-Webcare-Signature": sign(WEBHOOK_SECRET, ts, body),
                        }
                        async with session.post(url, data=body, headers=headers) as response:
                            await response.read()
                            if response.status == 202:
                                accepted[n] = time.monotonic()
                            else:
                                failed += 1

                    log.info("storm: %d mentions at %gx the channel limit", total, args.factor)
                    started = time.monotonic()
                    tasks = []
                    for n in range(total):
                        delay = started + n / (args.factor * args.rate) - time.monotonic()
                        if delay > 0:
                            await asyncio.sleep(delay)
                        tasks.append(asyncio.create_task(send(n)))
                    await asyncio.gather(*tasks)
                    storm_end = time.monotonic()
                    # Wait for the last mention to show (or give up after --drain s).
                    while time.monotonic() - storm_end < args.drain:
                        if set(accepted) <= _shown(fake):
                            break
                        await asyncio.sleep(0.5)
                    drained = time.monotonic() - storm_end
                async with engine.connect() as conn:
                    case_ids = set((await conn.scalars(select(CASES.c.id))).all())
            finally:
                await runtime.stop()
    first = _first_seen(fake)
    lags = [first[n] - at for n, at in accepted.items() if n in first]
    cards = [
        c
        for c in fake.calls_to("chat.postMessage")
        if not c.args.get("thread_ts") and c.args.get("channel") == CHANNEL
    ]
    cards_per_case = Counter(card_identity(c)[0] for c in cards)
    cards_per_case.pop(None, None)
    digests = [ids for c in cards if (ids := _digest_rows(c))]
    rows_per_case = Counter(n for ids in digests for n in ids)
    writes = [c for c in fake.calls if c.method in WRITES]
    # Lag of the mentions of the storm's last third against its first: growing = falling behind.
    third = max(1, total // 3)
    early = [first[n] - accepted[n] for n in range(third) if n in first and n in accepted]
    late = [
        first[n] - accepted[n] for n in range(total - third, total) if n in first and n in accepted
    ]
    return {
        "benchmark": "storm",
        "database": "postgresql" if args.database_url else "sqlite",
        "mentions": total,
        "factor": args.factor,
        "repeat_share": args.repeat,
        "storm_s": args.seconds,
        "allowed_per_channel_per_s": args.rate,
        "burst": args.burst,
        "accepted_202": len(accepted),
        "rejected": failed,
        "cases_stored": len(case_ids),
        "lag_s_p50": pct(lags, 0.5),
        "lag_s_p99": pct(lags, 0.99),
        "lag_s_max": round(max(lags), 3) if lags else None,
        "lag_s_p99_first_third": pct(early, 0.99),
        "lag_s_p99_last_third": pct(late, 0.99),
        "lost": len(set(accepted) - set(first)),
        "duplicated_cards": sum(n - 1 for n in cards_per_case.values() if n > 1),
        "duplicated_digest_rows": sum(n - 1 for n in rows_per_case.values() if n > 1),
        "cards_posted": sum(cards_per_case.values()),
        "digests_posted": len(digests),
        "cases_in_digests": len(rows_per_case),
        "cases_per_digest_max": max((len(ids) for ids in digests), default=0),
        "slack_write_calls": len(writes),
        "slack_posts_accepted": sum(1 for c in writes if c.status == 200),
        "ratelimited_429": fake.ratelimited_count,
        "drain_after_storm_s": round(drained, 3),
        "lag_definition": "webhook 202 -> first accepted chat.postMessage/update showing it",
        **environment(),
    }


def _storm_mention(n: int, repeat: float) -> dict[str, Any]:
    """Mention `n`: from a customer of its own, or (a `repeat` share of them) from the customer
    of mention n // 2, who wrote earlier in the storm."""
    body = mention(n, CHANNEL_TEXTS[CHANNEL])
    if repeat and n and n % max(1, round(1 / repeat)) == 0:
        earlier = n // 2
        body["author"] = {**body["author"], "handle": f"user{earlier}", "name": f"User {earlier}"}
    return body


def _digest_rows(call: Any) -> list[int]:
    """The cases a storm digest post shows a row for (none: not a digest)."""
    return [
        int(block["accessory"]["value"])
        for block in call.args.get("blocks") or []
        if str((block.get("accessory") or {}).get("action_id", "")).startswith(DIGEST_CLAIM_ID)
    ]


def _shown_calls(fake: FakeSlack) -> list[tuple[float, set[int]]]:
    out = []
    for call in fake.calls:
        if call.method in WRITES and call.status == 200 and call.response.get("ok"):
            shown = json.dumps([call.args.get("text"), call.args.get("blocks")])
            out.append((call.at, {int(n) for n in SEEN.findall(shown)}))
    return out


def _shown(fake: FakeSlack) -> set[int]:
    return {n for _, ns in _shown_calls(fake) for n in ns}


def _first_seen(fake: FakeSlack) -> dict[int, float]:
    first: dict[int, float] = {}
    for at, ns in _shown_calls(fake):
        for n in ns:
            first.setdefault(n, at)
    return first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="3x the limit for 10 minutes")
    parser.add_argument("--factor", type=float, default=5.0, help="arrivals / channel limit")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the storm")
    parser.add_argument("--rate", type=float, default=1.0, help="posts/s/channel the fake allows")
    parser.add_argument("--burst", type=int, default=3, help="token bucket size of the fake")
    parser.add_argument(
        "--repeat", type=float, default=0.0, help="share of mentions by an earlier customer"
    )
    parser.add_argument("--drain", type=float, default=None, help="s to wait after the storm")
    parser.add_argument(
        "--postgres",
        "--database-url",
        dest="database_url",
        default=None,
        help="a PostgreSQL server URL (postgresql+asyncpg://…); the bench makes and drops a"
        " database of its own there (default: SQLite)",
    )
    args = parser.parse_args()
    setup_logging()
    if args.long:
        args.factor, args.seconds = 3.0, 600.0
    backlog_s = args.factor * args.seconds  # the worst case: one message per mention
    args.drain = args.drain if args.drain is not None else backlog_s + 60
    result = asyncio.run(storm(args))
    emit(result)
    failed = result["lost"] + result["duplicated_cards"] + result["duplicated_digest_rows"]
    return 0 if failed + result["rejected"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
