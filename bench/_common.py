"""Shared pieces of the benchmarks: the test config, mention bodies, CPU clocks, output."""

from __future__ import annotations

import json
import logging
import os
import platform
import socket
import sys
import time
from datetime import UTC, datetime
from typing import Any

from tests.conftest import CONFIG as TEST_CONFIG

WEBHOOK_SECRET = "bench-webhook-secret"

# The config the tests run the bot with (three departments, routed by keyword): a bench
# measures the bot the suite checks.
CONFIG = TEST_CONFIG

# A text that routes to each department's channel under CONFIG.
CHANNEL_TEXTS: dict[str, str] = {
    "CWEBCARE1": "Hoi, mijn pas werkt nog steeds?",
    "CBILLING1": "Mijn factuur is veel te hoog!",
    "COUTAGES1": "Grote storing in Utrecht, niets doet het meer",
}


def mention(n: int, text: str = CHANNEL_TEXTS["CWEBCARE1"]) -> dict[str, Any]:
    """Mention number `n`: its own external_id and author, so it always opens a new case."""
    return {
        "source": "x",
        "external_id": f"bench-{n}",
        "url": f"https://x.com/user{n}/status/{n}",
        "text": text,
        "created_at": datetime.now(UTC).isoformat(),
        "author": {"handle": f"user{n}", "name": f"User {n}", "followers": n % 5000},
        "addressed": True,
    }


def free_port() -> int:
    """A loopback TCP port nothing listens on (at the moment of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_TICK = os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> dict[int, float]:
    """User + system CPU seconds of each PostgreSQL server process on this machine, by pid
    (the bench's database is one of its databases; others idle meanwhile, or
    `load_average_1m` shows it). Empty where no PostgreSQL runs."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/comm") as comm:
                if comm.read().startswith("postgres"):
                    found[int(entry.name)] = cpu_seconds(int(entry.name))
        except OSError:  # ended meanwhile
            continue
    return found


def postgres_cpu_since(before: dict[int, float]) -> float:
    """CPU seconds PostgreSQL's processes spent since `before` (a process that ended meanwhile
    is left out: its last seconds are lost, not counted negative)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in postgres_cpu().items())


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of process `pid` (all threads; 10 ms ticks), or of this one."""
    if pid is None:
        return time.process_time()
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14, 15)


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """User + system CPU seconds of process `pid`'s main thread and of its other threads."""
    seconds = {"main": 0.0, "other threads": 0.0}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        key = "main" if task == str(pid) else "other threads"
        seconds[key] += (int(fields[11]) + int(fields[12])) / _TICK
    return seconds


def setup_logging() -> None:
    """Progress of the benchmark at INFO, the app's own logs at WARNING, all on stderr."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("bench").setLevel(logging.INFO)


def environment() -> dict[str, Any]:
    return {"python": platform.python_version(), "cores": os.cpu_count()}


def emit(result: dict[str, Any]) -> None:
    """The one JSON object on stdout."""
    print(json.dumps(result, indent=2), flush=True)
