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

from bot.core.i18n import Lang

log = logging.getLogger(__name__)
LANGS: tuple[str, ...] = get_args(Lang)
REFRESH_SECONDS = 12 * 3600.0  # people rarely switch; a day-old answer is good enough
RETRY_SECONDS = 600.0  # after Slack could not say: not once per click
MAX_PEOPLE = 10_000  # far above a webcare team; bounds memory if ids were ever junk


def language_of(locale: str | None, default: Lang) -> Lang:
    """ "nl-NL" → nl, "en-GB" → en; a language the bot does not speak → the team's."""
    code = (locale or "").split("-")[0].lower()
    return code if code in LANGS else default  # type: ignore[return-value]


class PeopleLanguages:
    def __init__(self, client: AsyncWebClient, *, default: Lang) -> None:
        self.client = client
        self.default = default
        self.enabled = True  # off for good when the app may not read profiles (users:read)
        self._known: dict[str, tuple[Lang, float]] = {}  # person → (language, good until)
        self._asking: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak refs

    def lang_for(self, user_id: str | None) -> Lang:
        """The person's language as far as known now; asks Slack in the background if not."""
        if not user_id or not self.enabled:
            return self.default
        known = self._known.get(user_id)
        if known is None or time.monotonic() > known[1]:
            self._ask(user_id)
        return known[0] if known else self.default

    def knows(self, user_id: str) -> bool:
        """Whether there is an answer for this person: their language, or (when Slack could
        not say) the team's for a while."""
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
        learnt: Lang | None = None
        keep = RETRY_SECONDS  # after a failure: ask again later, not on every click
        try:
            answer: Any = await self.client.users_info(user=user_id, include_locale=True)
            locale = (answer.get("user") or {}).get("locale")
            learnt, keep = language_of(locale, self.default), REFRESH_SECONDS
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            if error in ("missing_scope", "not_allowed_token_type", "invalid_auth"):
                log.warning("cannot read people's languages (%s): using %s", error, self.default)
                self.enabled = False
            retry = exc.response.headers.get("Retry-After") if exc.response is not None else None
            keep = max(RETRY_SECONDS, float(retry or 0))
        except Exception as exc:  # Slack unreachable
            log.info("could not learn %s's language (%r); using %s", user_id, exc, self.default)
        finally:
            self._asking.discard(user_id)
        # A failed refresh keeps what was learnt before, for a while longer.
        previous = self._known.get(user_id)
        fallback = previous[0] if previous else self.default
        self._known[user_id] = (learnt or fallback, time.monotonic() + keep)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
