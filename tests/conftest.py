"""Fixtures: a real database (SQLite file, and PostgreSQL when configured), a fake Slack over
real HTTP, and the bot itself serving on a free port."""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
import hypothesis
import pytest
import time_machine
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.app.runtime import Runtime
from bot.app.settings import Settings
from bot.core.clock import PinnedClock
from bot.core.config import WebcareConfig, parse_config
from bot.intake.webhook import sign
from storage.db import close_unit_of_work, create_engine
from storage.migrate import upgrade
from storage.tables import CASES
from tests.fake_slack import FakeSlack

# Property tests explore the same examples on every run: CI stays reproducible, and a new
# failure is found by a developer changing code, not by a dice roll on the build.
hypothesis.settings.register_profile("webcare", derandomize=True, deadline=None)
hypothesis.settings.load_profile("webcare")

PG_URL = os.environ.get("WEBCARE_TEST_DATABASE_URL")
# CI runs the suite again with this process's system clock moved (`make test-clocks`): a test
# or a code path that reads the real date instead of the injected clock fails now, not on the
# day the calendar reaches it.
MOVED_SYSTEM_CLOCK = os.environ.get("WEBCARE_TEST_MOVE_CLOCK")
AMS = ZoneInfo("Europe/Amsterdam")

# Every test's clock starts here, whatever the date it runs on: a Friday morning in business
# hours. `mention()` is written a minute earlier, so it arrives as a fresh mention would.
MENTION_AT = datetime(2026, 11, 27, 10, 0, tzinfo=AMS)
TEST_START = (MENTION_AT + timedelta(minutes=1)).astimezone(UTC)


def pytest_configure(config: pytest.Config) -> None:
    if MOVED_SYSTEM_CLOCK:
        time_machine.travel(datetime.fromisoformat(MOVED_SYSTEM_CLOCK), tick=True).start()


def pytest_report_header(config: pytest.Config) -> str | None:
    if MOVED_SYSTEM_CLOCK:
        return f"system clock moved to {MOVED_SYSTEM_CLOCK} (WEBCARE_TEST_MOVE_CLOCK)"
    return None


def pinned_clock(start: datetime = TEST_START) -> PinnedClock:
    """The clock a test runs the bot on: pinned to `start`, running at real speed."""
    return PinnedClock(start)


WEBHOOK_SECRET = "test-webhook-secret"
SIGNING_SECRET = "test-signing-secret"
HEALTH_TOKEN = "test-health-token"
# What an operator's monitoring sends to see /healthz in detail.
HEALTH_DETAIL = {"Authorization": f"Bearer {HEALTH_TOKEN}"}

CONFIG: dict[str, Any] = {
    "business_hours": {
        "timezone": "Europe/Amsterdam",
        "hours": {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": "NL",
    },
    "departments": [
        {"key": "webcare", "name": "Webcare", "channel": "CWEBCARE1", "sla_minutes": 60},
        {
            "key": "billing",
            "name": "Billing",
            "channel": "CBILLING1",
            "sla_minutes": 30,
            "contacts": ["UBILLING1"],
            "escalate_to": "C0LEADS01",
            "tone": "Vriendelijk, je-vorm",
            "templates": [
                {
                    "key": "sorry",
                    "title": "Excuses",
                    "text": "Hoi {customer_name}, sorry voor het ongemak! "
                    "Groet, {agent_first_name}",
                }
            ],
        },
        {
            "key": "outages",
            "name": "Outages",
            "channel": "COUTAGES1",
            "sla_minutes": 15,
            "requires_approval": True,
        },
    ],
    "default_department": "webcare",
    "personal_data_patterns": {"order_number": r"\bORD-\d{6}\b"},
    "rules": [
        {
            "name": "Outage",
            "match": {"keywords": ["storing", "outage", "werkt niet"]},
            "department": "outages",
            "priority": "urgent",
            "tags": ["outage"],
        },
        {
            "name": "Billing",
            "match": {"keywords": ["factuur", "invoice", "direct debit"]},
            "department": "billing",
        },
    ],
}


def mention(external_id: str = "1", **overrides: Any) -> dict[str, Any]:
    """A mention object as a source would post it."""
    body: dict[str, Any] = {
        "source": "x",
        "external_id": external_id,
        "url": f"https://x.com/anna/status/{external_id}",
        "text": "Hoi, mijn pas werkt nog steeds?",
        "created_at": MENTION_AT.isoformat(),
        "author": {"handle": "anna", "name": "Anna de Vries", "followers": 1200},
        "addressed": True,
    }
    for key, value in overrides.items():
        body[key] = value
    return body


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'webcare.db'}")
        await upgrade(engine)
        yield engine
        close_unit_of_work(engine)
        await engine.dispose()
        return
    if not PG_URL:
        pytest.skip("set WEBCARE_TEST_DATABASE_URL to run on PostgreSQL")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
    await upgrade(engine)
    yield engine
    close_unit_of_work(engine)
    await engine.dispose()
    async with admin.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await admin.dispose()


@pytest.fixture
def config() -> WebcareConfig:
    return parse_config(CONFIG, source="test.yml")


# Billing's own urgent and high cases: a mention saying "fraude", one saying "betwist".
PRIORITY_RULES: list[dict[str, Any]] = [
    {
        "name": "Fraud",
        "match": {"keywords": ["fraude"]},
        "department": "billing",
        "priority": "urgent",
    },
    {
        "name": "Dispute",
        "match": {"keywords": ["betwist"]},
        "department": "billing",
        "priority": "high",
    },
]


def config_with_priorities() -> WebcareConfig:
    """CONFIG with PRIORITY_RULES first (pass it as `config` with pytest.mark.parametrize)."""
    return parse_config({**CONFIG, "rules": [*PRIORITY_RULES, *CONFIG["rules"]]}, source="test.yml")


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


def make_settings(slack: FakeSlack, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url,
        "webhook_secret": WEBHOOK_SECRET,
        "webcare_health_token": HEALTH_TOKEN,
        "host": "127.0.0.1",
        "port": 0,
        "webcare_channel_interval": 0,
        # A click's work is done when its HTTP answer arrives: tests need no waiting.
        "webcare_ack_after_work": True,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def webhook_signed(
    body: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | str | None = None
) -> dict[str, str]:
    """Headers a mention source sends with a JSON body, signed as the webhook contract says."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    return {
        "Content-Type": "application/json",
        "X-Webcare-Timestamp": ts,
        "X-Webcare-Signature": sign(secret, ts, body),
    }


def slack_signed(body: str, *, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Headers Slack sends with a form-encoded request, signed like Slack signs it."""
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def click_payload(card: dict[str, Any], action_id: str, *, user: str, name: str) -> dict[str, Any]:
    """A click on a button of `card` as Slack sends it: a block_actions payload."""
    block, button = next(
        (block, el)
        for block in card["blocks"]
        for el in [*block.get("elements", []), block.get("accessory") or {}]
        if block["type"] in ("actions", "section") and el.get("action_id") == action_id
    )
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": name.lower(), "name": name, "team_id": "T_FAKE"},
        "api_app_id": "A_FAKE",
        "token": "legacy",
        "container": {
            "type": "message",
            "message_ts": card["ts"],
            "channel_id": card["channel"],
            "is_ephemeral": False,
        },
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "team": {"id": "T_FAKE", "domain": "acme"},
        "channel": {"id": card["channel"], "name": "webcare"},
        "message": {
            "type": "message",
            "ts": card["ts"],
            "text": card["text"],
            "blocks": card["blocks"],
        },
        "response_url": "https://hooks.slack.com/actions/T_FAKE/1/2",
        "actions": [
            {
                "action_id": action_id,
                "block_id": block["block_id"],
                "type": "button",
                "value": button["value"],
                "text": button["text"],
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return payload


class BotUnderTest:
    """The running bot, reached over real HTTP like a source or Slack would."""

    def __init__(self, runtime: Runtime, session: aiohttp.ClientSession) -> None:
        self.runtime = runtime
        self.session = session

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.runtime.port}"

    async def post_webhook(
        self,
        payload: Any,
        *,
        secret: str = WEBHOOK_SECRET,
        timestamp: int | None = None,
        raw: bytes | None = None,
        signature: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        body = raw if raw is not None else json.dumps(payload).encode()
        headers = webhook_signed(body, secret=secret, timestamp=timestamp)
        if signature is not None:
            headers["X-Webcare-Signature"] = signature
        async with self.session.post(
            f"{self.url}/ingest/webhook", data=io.BytesIO(body), headers=headers
        ) as response:
            return response.status, await response.json()

    async def click(self, card: dict[str, Any], action_id: str, *, user: str, name: str) -> int:
        """Click a button on a card as Slack shows it: a signed block_actions request."""
        payload = click_payload(card, action_id, user=user, name=name)
        return (await self.interact(payload))[0]

    async def interact(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Send an interactivity payload as Slack does (form-encoded, signed)."""
        body = urlencode({"payload": json.dumps(payload)})
        async with self.session.post(
            f"{self.url}/slack/events", data=body, headers=slack_signed(body)
        ) as response:
            text = await response.text()
            return response.status, json.loads(text) if text.startswith("{") else {}

    @property
    def clock(self) -> PinnedClock:
        assert isinstance(self.runtime.clock, PinnedClock)
        return self.runtime.clock

    async def submit_view(self, view: dict[str, Any], *, user: str, name: str) -> dict[str, Any]:
        """Submit a modal as Slack does; returns the ack body ({} when accepted)."""
        payload = {
            "type": "view_submission",
            "team": {"id": "T_FAKE", "domain": "acme"},
            "user": {"id": user, "username": name.lower(), "name": name, "team_id": "T_FAKE"},
            "api_app_id": "A_FAKE",
            "token": "legacy",
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
            "view": view,
            "response_urls": [],
        }
        status, answer = await self.interact(payload)
        assert status == 200
        return answer

    async def deliver(self) -> None:
        """Run the outbox until everything due has been sent."""
        await self.runtime.worker.run_until_idle()


@pytest.fixture
def clock() -> PinnedClock:
    """The test's clock: the bot and the fake platforms read this one, never the real date."""
    return pinned_clock()


@asynccontextmanager
async def running_bot(
    settings: Settings,
    config: WebcareConfig,
    engine: AsyncEngine,
    clock: PinnedClock | None = None,
) -> AsyncIterator[BotUnderTest]:
    """The bot serving on a free port; its outbox runs only when a test calls `deliver()`."""
    runtime = Runtime(settings, config, engine=engine, clock=clock or pinned_clock())
    await runtime.start(run_worker=False)
    async with aiohttp.ClientSession() as session:
        under_test = BotUnderTest(runtime, session)
        try:
            yield under_test
        finally:
            await under_test.runtime.stop()  # a test may have restarted it


@pytest.fixture
async def bot(
    engine: AsyncEngine, config: WebcareConfig, slack: FakeSlack, clock: PinnedClock
) -> AsyncIterator[BotUnderTest]:
    """The bot in HTTP mode, as the tests drive it."""
    async with running_bot(make_settings(slack), config, engine, clock) as under_test:
        yield under_test


async def cases_breached(engine: AsyncEngine, *, breached: bool = True) -> int:
    """How many cases the SLA sweep has marked breached (or, `breached=False`, has not)."""
    column = CASES.c.sla_breached_at
    condition = column.is_not(None) if breached else column.is_(None)
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).where(condition).select_from(CASES)))
