"""What Slack listeners may use, handed to them through Bolt's context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.business_time import BusinessCalendar
from bot.clock import Clock
from bot.config import WebcareConfig
from bot.i18n import Lang


@dataclass
class Workspace:
    """What Slack told us about the workspace at start-up (auth.test)."""

    url: str | None = None  # https://acme.slack.com/, for links to cards


@dataclass(frozen=True, slots=True)
class Services:
    engine: AsyncEngine
    clock: Clock
    config: WebcareConfig
    lang: Lang
    wake_outbox: Callable[[], None]  # a change queued Slack work: send it now
    wake_scheduler: Callable[[], None]  # a task was scheduled: look at the next due time
    workspace: Workspace = field(default_factory=Workspace)

    def calendar_for(self, department_key: str) -> BusinessCalendar:
        return BusinessCalendar(self.config.hours_for(self.config.department(department_key)))
