"""`webcare serve` in a process of its own, as an operator starts it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import CONFIG, SIGNING_SECRET, WEBHOOK_SECRET
from tests.fake_slack import FakeSlack

_LISTENING = re.compile(rb"listening on [\d.]+:(\d+)")


class ServeProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.port: int | None = None
        self.log = bytearray()  # everything it wrote to stderr so far

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def read_until(self, pattern: bytes, within: float = 30) -> re.Match[bytes]:
        """Read its log until `pattern` shows up (or it exits)."""
        assert self.process.stderr is not None
        async with asyncio.timeout(within):
            while not (found := re.search(pattern, self.log)):
                line = await self.process.stderr.readline()
                if not line:
                    raise AssertionError(f"webcare serve exited:\n{self.log.decode()}")
                self.log += line
        return found

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.terminate()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(20):
                rest = await self.process.stderr.read() if self.process.stderr else b""
                self.log += rest
                return await self.process.wait()
        self.process.kill()
        return await self.process.wait()


def serve_env(tmp_path: Path, slack: FakeSlack, database_url: str, **extra: str) -> dict[str, str]:
    config = tmp_path / "webcare.yml"
    if not config.exists():
        config.write_text(yaml.safe_dump(CONFIG))
    env: dict[str, Any] = {
        **os.environ,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DATABASE_URL": database_url,
        "WEBCARE_CONFIG": str(config),
        "HOST": "127.0.0.1",
        "PORT": "0",
        "WEBCARE_CHANNEL_INTERVAL": "0",
        **extra,
    }
    env.pop("SLACK_APP_TOKEN", None)
    return env


@asynccontextmanager
async def webcare_serve(
    env: dict[str, str], cwd: Path, *, wait_listening: bool = True
) -> AsyncIterator[ServeProcess]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from bot.cli import main; sys.exit(main(sys.argv[1:]))",
        "serve",
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    serving = ServeProcess(process)
    try:
        if wait_listening:
            serving.port = int((await serving.read_until(_LISTENING.pattern)).group(1))
        yield serving
    finally:
        await serving.stop()
