"""Peak memory of `webcare serve` with a million cases stored and a thousand open cards.

Seeds a SQLite database with `--cases` cases (bench.seed_databases), starts `webcare serve`
as an operator would (outbox on, posting to a fake Slack), sends 1,000 new mentions through the
webhook (1,000 open cards posted), asks `/webcare status` and `/webcare report week` a few
times, and reads the process's peak resident memory (VmHWM) from /proc. The floor is a bare
Python process running an aiohttp server, measured the same way in the same run.
Run: `python -m bench.memory [--cases N]`; exit 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench._common import CHANNEL_TEXTS, emit, environment, mention, setup_logging
from bench.seed_databases import seed_sqlite
from bench.summary import command_body
from storage.db import create_engine
from storage.migrate import upgrade
from tests.conftest import SIGNING_SECRET, slack_signed, webhook_signed
from tests.fake_slack import FakeSlack
from tests.serve_process import serve_env, webcare_serve

TEXTS = list(CHANNEL_TEXTS.values())
FLOOR = (
    "import asyncio\nfrom aiohttp import web\n"
    "async def main():\n"
    "    runner = web.AppRunner(web.Application()); await runner.setup()\n"
    "    await web.TCPSite(runner, '127.0.0.1', 0).start(); print('ready', flush=True)\n"
    "    await asyncio.sleep(3600)\n"
    "asyncio.run(main())\n"
)


def peak_rss_mb(pid: int) -> tuple[float, float]:
    """(peak, current) resident memory of process `pid`, in MB."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024


async def floor_rss() -> float:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FLOOR, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        await process.stdout.readline()
        return peak_rss_mb(process.pid)[0]
    finally:
        process.terminate()
        await process.wait()


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"benchmark": "memory", "cases_seeded": args.cases}
    with tempfile.TemporaryDirectory(prefix="webcare-memory-") as tmp:
        path = Path(tmp) / "webcare.db"
        url = f"sqlite+aiosqlite:///{path}"
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        started = time.perf_counter()
        await asyncio.to_thread(seed_sqlite, path, args.cases, 7)
        result["seed_s"] = round(time.perf_counter() - started, 1)
        async with FakeSlack(bot_token="xoxb-test") as slack:
            env = serve_env(Path(tmp), slack, url)
            env["WEBCARE_DIGEST_AFTER"] = "0"  # a thousand cards of their own, not digest rows
            async with webcare_serve(env, Path(tmp)) as serving:
                pid = serving.process.pid
                result["rss_mb_after_start"] = round(peak_rss_mb(pid)[1], 1)
                async with aiohttp.ClientSession() as session:
                    await _mentions(session, serving.url, args.mentions)
                    await slack.wait_for(lambda: len(slack.posts()) >= args.mentions, 300)
                    result["cards_posted"] = len(slack.posts())
                    for text in ["status"] * 5 + ["report week"] * 2:
                        await _command(session, serving.url, text, slack.response_url())
                    await asyncio.sleep(2)  # the reports' charts are built after the ack
                peak, now = peak_rss_mb(pid)
        result |= {"peak_rss_mb": round(peak, 1), "rss_mb_at_end": round(now, 1)}
    result["floor_peak_rss_mb"] = round(await floor_rss(), 1)
    result["target_peak_rss_mb"] = 250
    result["meets_target"] = peak <= 250 and result["cards_posted"] >= args.mentions
    return result | environment()


async def _mentions(session: aiohttp.ClientSession, base: str, count: int) -> None:
    for start in range(0, count, 50):
        batch = [mention(10_000_000 + n, TEXTS[n % 3]) for n in range(start, start + 50)]
        body = json.dumps(batch).encode()
        headers = webhook_signed(body)
        async with session.post(f"{base}/ingest/webhook", data=body, headers=headers) as answer:
            if answer.status != 202:
                raise RuntimeError(f"webhook answered {answer.status}")


async def _command(session: aiohttp.ClientSession, base: str, text: str, reply: str) -> None:
    body = command_body(text, reply)
    headers = slack_signed(body, secret=SIGNING_SECRET)
    async with session.post(f"{base}/slack/events", data=body, headers=headers) as answer:
        if answer.status != 200:
            raise RuntimeError(f"/webcare {text} answered {answer.status}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--mentions", type=int, default=1000, help="new cards to post")
    parser.add_argument("--quick", action="store_true", help="100,000 cases and 200 cards")
    args = parser.parse_args()
    if args.quick:
        args.cases, args.mentions = 100_000, 200
    setup_logging()
    result = asyncio.run(bench(args))
    emit(result)
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
