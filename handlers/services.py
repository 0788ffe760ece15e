"""What Slack listeners may use, handed to them through Bolt's context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.business_time import BusinessCalendar
from bot.core.clock import Clock
from bot.core.config import WebcareConfig
from bot.core.i18n import Lang
from bot.delivery.card_index import CardIndex

if TYPE_CHECKING:
    from bot.core.user_languages import PeopleLanguages
    from bot.delivery.replies import ReplyPublisher
    from bot.intake.sources.health import SourceHealth


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
    replies: ReplyPublisher | None = None  # publishes approved drafts on their platform
    source_health: SourceHealth | None = None  # which polled sources are down
    languages: PeopleLanguages | None = None  # each person's language (else `lang` for all)
    modal_key: bytes = b""  # seals modals' private_metadata (handlers.sealed)
    cards: CardIndex = field(default_factory=CardIndex)  # each case's card, as posted
    # One calendar per department: the domain asks for it inside a case's transaction.
    calendars: dict[str, BusinessCalendar] = field(default_factory=dict)

    def calendar_for(self, department_key: str) -> BusinessCalendar:
        calendar = self.calendars.get(department_key)
        if calendar is None:
            department = self.config.department(department_key)
            calendar = BusinessCalendar(self.config.hours_for(department))
            self.calendars[department_key] = calendar
        return calendar
