"""What Slack listeners may use, handed to them through Bolt's context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.config import WebcareConfig
from bot.i18n import Lang


@dataclass(frozen=True, slots=True)
class Services:
    engine: AsyncEngine
    clock: Clock
    config: WebcareConfig
    lang: Lang
    wake_outbox: Callable[[], None]  # a change queued Slack work: send it now
