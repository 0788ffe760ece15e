"""`webcare serve` in a process of its own, as an operator starts it."""

from __future__ import annotations

import asyncio
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
        # Always read its log: a full pipe would block the process mid-write.
        self._pump = asyncio.create_task(self._read_log())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _read_log(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.log += line

    async def read_until(self, pattern: bytes, within: float = 30) -> re.Match[bytes]:
        """Wait until `pattern` shows up in its log (or it exits)."""
        async with asyncio.timeout(within):
            while not (found := re.search(pattern, self.log)):
                if self._pump.done():
                    raise AssertionError(f"webcare serve exited:\n{self.log.decode()}")
                await asyncio.sleep(0.02)
        return found

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.terminate()
        try:
            async with asyncio.timeout(20):
                code = await self.process.wait()
                await self._pump
                return code
        except TimeoutError:
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
        "import sys; from bot.app.cli import main; sys.exit(main(sys.argv[1:]))",
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
