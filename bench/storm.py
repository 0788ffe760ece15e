"""A storm: mentions arriving faster than Slack lets the bot post to one channel.

The bot runs as deployed (HTTP webhook, its outbox worker and scheduler running) against
tests/fake_slack.py enforcing `--rate` posts/s per channel with a token bucket of `--burst` and
429 + Retry-After beyond it. Mentions, each from its own customer and all routed to #billing,
are posted to the webhook at `--factor` x the channel limit for `--seconds` s. Visibility lag of a
mention: from its webhook's 202 to the first Slack message (post or update, accepted by Slack)
that shows it. Run: `python -m bench.storm` (5x for 60 s), `--long` (3x for 10 minutes),
`--database-url postgresql+asyncpg://...` (uses a database of its own, `webcare_storm`).
Exit 1 when a mention is lost or a case gets two cards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

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
from bot.config import parse_config
from bot.runtime import Runtime
from bot.settings import Settings
from bot.webhook import sign
from storage.db import create_engine
from storage.intake import CASES
from storage.migrate import upgrade
from tests.fake_slack import FakeSlack

log = logging.getLogger("bench.storm")
CHANNEL = "CBILLING1"
SEEN = re.compile(r"/status/(\d+)")  # each bench mention links to x.com/userN/status/N
WRITES = ("chat.postMessage", "chat.update")


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)


async def fresh_engine(url: str | None, tmp: str) -> AsyncEngine:
    """SQLite in a temporary file, or a PostgreSQL database of the bench's own, emptied."""
    if url is None:
        return create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'webcare.db'}")
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.exec_driver_sql("DROP DATABASE IF EXISTS webcare_storm WITH (FORCE)")
        await conn.exec_driver_sql("CREATE DATABASE webcare_storm")
    await admin.dispose()
    return create_engine(make_url(url).set(database="webcare_storm").render_as_string(False))


async def storm(args: argparse.Namespace) -> dict[str, Any]:
    total = int(args.factor * args.rate * args.seconds)
    accepted: dict[int, float] = {}
    failed = 0
    async with FakeSlack(post_rate_per_channel=args.rate, post_burst=args.burst) as fake:
        with tempfile.TemporaryDirectory(prefix="webcare-storm-") as tmp:
            engine = await fresh_engine(args.database_url, tmp)
            await upgrade(engine)
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
                        body = json.dumps(mention(n, CHANNEL_TEXTS[CHANNEL])).encode()
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
                await engine.dispose()
    first = _first_seen(fake)
    lags = [first[n] - at for n, at in accepted.items() if n in first]
    cards = [
        c
        for c in fake.calls_to("chat.postMessage")
        if not c.args.get("thread_ts") and c.args.get("channel") == CHANNEL
    ]
    cards_per_case = Counter(card_identity(c)[0] for c in cards)
    cards_per_case.pop(None, None)
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
        "slack_write_calls": len(writes),
        "slack_posts_accepted": sum(1 for c in writes if c.status == 200),
        "ratelimited_429": fake.ratelimited_count,
        "drain_after_storm_s": round(drained, 3),
        "lag_definition": "webhook 202 -> first accepted chat.postMessage/update showing it",
        **environment(),
    }


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
    parser.add_argument("--drain", type=float, default=None, help="s to wait after the storm")
    parser.add_argument("--database-url", default=None, help="PostgreSQL (default: SQLite)")
    args = parser.parse_args()
    setup_logging()
    if args.long:
        args.factor, args.seconds = 3.0, 600.0
    backlog_s = args.factor * args.seconds  # the worst case: one message per mention
    args.drain = args.drain if args.drain is not None else backlog_s + 60
    result = asyncio.run(storm(args))
    emit(result)
    return 0 if result["lost"] == result["duplicated_cards"] == result["rejected"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
