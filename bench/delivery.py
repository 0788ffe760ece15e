"""Delivery against Slack's per-channel rate limit: the outbox worker and a rate-limiting fake.

Seeds one case per mention (100 per department channel by default) through the ingestor, then
times `worker.run_until_idle()` against tests/fake_slack.py enforcing `--rate` posts/s/channel
with a token bucket of `--burst`. Per channel, achieved ratio = cards / (burst + rate * window),
window = first to last post there: the most cards the bucket admits in that window, so perfect
pacing scores 1.0 (burst 1) or n/(n+1) (burst 2, since the worker never spends the burst).
Run: `python -m bench.delivery [--quick]`. Exit 1 when a card is lost or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench._common import (
    CHANNEL_TEXTS,
    CONFIG,
    WEBHOOK_SECRET,
    emit,
    environment,
    mention,
    setup_logging,
)
from bot.app.runtime import Runtime
from bot.app.settings import Settings
from bot.core.config import parse_config
from bot.intake.mentions import parse_mentions
from storage.db import create_engine
from storage.migrate import upgrade
from storage.tables import CASES, OUTBOX
from tests.fake_slack import Call, FakeSlack

log = logging.getLogger("bench.delivery")


def card_identity(call: Call) -> tuple[int | None, int | None]:
    """(case id from the card's buttons, outbox job id from its metadata)."""
    values = {
        element.get("value")
        for block in call.args.get("blocks") or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    }
    case_id = int(values.pop()) if len(values) == 1 else None
    payload = (call.args.get("metadata") or {}).get("event_payload") or {}
    return case_id, payload.get("job_id")


def channel_stats(
    posts: list[Call], limited: list[Call], rate: float, burst: int, elapsed: float
) -> dict[str, Any]:
    """Cards, window, achieved rate and ratio (see the module docstring) of one channel."""
    stamps = sorted(call.at for call in posts)
    window = stamps[-1] - stamps[0] if stamps else 0.0
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return {
        "cards": len(stamps),
        "window_s": round(window, 3),
        "rate_per_s": round(len(stamps) / window, 4) if window else None,
        "ratio": round(len(stamps) / (burst + rate * window), 4),
        "ratio_incl_startup": round(len(stamps) / (burst + rate * elapsed), 4),
        "ratelimited_429": len(limited),
        "gap_s_min": round(min(gaps), 4) if gaps else None,
        "gap_s_median": round(statistics.median(gaps), 4) if gaps else None,
        "gap_s_max": round(max(gaps), 4) if gaps else None,
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    channels = list(CHANNEL_TEXTS)[: args.channels]
    per_channel = args.cases // len(channels)
    cases = per_channel * len(channels)
    async with FakeSlack(post_rate_per_channel=args.rate, post_burst=args.burst) as fake:
        with tempfile.TemporaryDirectory(prefix="webcare-bench-") as tmp:
            engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'webcare.db'}")
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
                webcare_digest_after=0,  # one card per case: this measures the pacing itself
            )
            runtime = Runtime(settings, parse_config(CONFIG, source="bench"), engine=engine)
            runtime.worker.idle_limit = args.limit
            try:
                bodies = [
                    mention(i * len(channels) + c, text)
                    for i in range(per_channel)
                    for c, text in enumerate(CHANNEL_TEXTS[ch] for ch in channels)
                ]
                stored = await runtime.ingestor.ingest(parse_mentions(bodies))
                log.info("seeded %d cases; delivering at %g/s/channel", stored.new_cases, args.rate)
                started = time.monotonic()
                await runtime.worker.run_until_idle()
                elapsed = time.monotonic() - started
                async with engine.connect() as conn:
                    case_ids = set((await conn.scalars(select(CASES.c.id))).all())
                    query = select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status)
                    outbox = {row[0]: row[1] for row in await conn.execute(query)}
            finally:
                await runtime.stop()
                await engine.dispose()
    posts = [c for c in fake.calls_to("chat.postMessage") if not c.args.get("thread_ts")]
    limited = [c for c in fake.calls if c.method == "chat.postMessage" and c.status == 429]
    per = {
        ch: channel_stats(
            [c for c in posts if c.args.get("channel") == ch],
            [c for c in limited if c.args.get("channel") == ch],
            args.rate,
            args.burst,
            elapsed,
        )
        for ch in channels
    }
    cards_per_case = Counter(card_identity(call)[0] for call in posts)
    cards_per_job = Counter(card_identity(call)[1] for call in posts)
    lost = len(case_ids - set(cards_per_case))
    duplicated = sum(n - 1 for n in cards_per_case.values() if n > 1)
    return {
        "benchmark": "delivery",
        "cases": cases,
        "cases_stored": len(case_ids),
        "channels": len(channels),
        "allowed_per_channel_per_s": args.rate,
        "burst": args.burst,
        "achieved_ratio_min": min(stats["ratio"] for stats in per.values()),
        "target_ratio": 0.95,
        "per_channel": per,
        "ratelimited_429": fake.ratelimited_count,
        "lost": lost,
        "duplicated": duplicated,
        "duplicated_jobs": sum(n - 1 for n in cards_per_job.values() if n > 1),
        "unknown_cards": sum(n for case, n in cards_per_case.items() if case not in case_ids),
        "block_errors": len(fake.block_errors),
        "outbox": outbox,
        "elapsed_s": round(elapsed, 3),
        "ideal_s": round((per_channel - args.burst) / args.rate, 3),
        "ratio_formula": "cards / (burst + rate * (last_post - first_post)) per channel",
        **environment(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 cases at 10 posts/s (< 30 s)")
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--channels", type=int, choices=[1, 2, 3], default=3)
    parser.add_argument("--rate", type=float, default=1.0, help="posts/s/channel the fake allows")
    parser.add_argument("--burst", type=int, default=1, help="token bucket size of the fake")
    parser.add_argument("--limit", type=float, default=None, help="seconds before giving up")
    args = parser.parse_args()
    setup_logging()
    if args.quick:
        args.cases, args.rate = 30, 10.0
    per_channel_s = args.cases / args.channels / args.rate
    args.limit = args.limit or 3 * per_channel_s + 60
    result = asyncio.run(bench(args))
    emit(result)
    ok = result["lost"] == result["duplicated"] == result["unknown_cards"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
