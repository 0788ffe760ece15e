"""Each person's language, from their Slack locale (users.info), so modals, ephemeral answers,
/webcare and the App Home speak it; what the whole channel reads stays in the team's language.

Learnt in the background: a listener never waits for Slack to answer users.info (acks must be
fast), so the first answer to someone new is in the team's language and later ones in theirs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, get_args

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.i18n import Lang

log = logging.getLogger(__name__)
LANGS: tuple[str, ...] = get_args(Lang)
REFRESH_SECONDS = 12 * 3600.0  # people rarely switch; a day-old answer is good enough
MAX_PEOPLE = 10_000  # far above a webcare team; bounds memory if ids were ever junk


def language_of(locale: str | None, default: Lang) -> Lang:
    """ "nl-NL" → nl, "en-GB" → en; a language the bot does not speak → the team's."""
    code = (locale or "").split("-")[0].lower()
    return code if code in LANGS else default  # type: ignore[return-value]


class PeopleLanguages:
    def __init__(self, client: AsyncWebClient, *, default: Lang) -> None:
        self.client = client
        self.default = default
        self._known: dict[str, tuple[Lang, float]] = {}
        self._asking: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak refs

    def lang_for(self, user_id: str | None) -> Lang:
        """The person's language as far as known now; asks Slack in the background if not."""
        if not user_id:
            return self.default
        known = self._known.get(user_id)
        if known is None or time.monotonic() - known[1] > REFRESH_SECONDS:
            self._ask(user_id)
        return known[0] if known else self.default

    def knows(self, user_id: str) -> bool:
        """Whether Slack has told us this person's language."""
        return user_id in self._known

    def _ask(self, user_id: str) -> None:
        if user_id in self._asking or len(self._known) >= MAX_PEOPLE:
            return
        try:
            task = asyncio.get_running_loop().create_task(self._learn(user_id))
        except RuntimeError:  # no loop (a synchronous caller): stay with the default
            return
        self._asking.add(user_id)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _learn(self, user_id: str) -> None:
        try:
            answer: Any = await self.client.users_info(user=user_id, include_locale=True)
            locale = (answer.get("user") or {}).get("locale")
            self._known[user_id] = (language_of(locale, self.default), time.monotonic())
        except (SlackApiError, OSError, TimeoutError) as exc:
            log.info("could not learn %s's language (%s); using %s", user_id, exc, self.default)
        finally:
            self._asking.discard(user_id)
