"""Events: the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.i18n import Lang
from bot.insight.backlog import behind, channel_backlog
from bot.insight.team_status import expected_reply_minutes, team_status
from bot.render.status import home_view_blocks
from handlers.services import Services
from storage import stats


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(publish_home)


async def publish_home(
    event: dict[str, Any], client: AsyncWebClient, services: Services, lang: Lang
) -> None:
    if event.get("tab") != "home":
        return
    now, user = services.clock.now(), event["user"]
    async with services.engine.connect() as conn:
        mine, owned = await stats.owned_by(conn, user=user)
    statuses = await team_status(services.engine, config=services.config, now=now)
    expected = await expected_reply_minutes(services.engine, config=services.config)
    down = await services.source_health.down_sources() if services.source_health else {}
    blocks = home_view_blocks(
        mine=mine,
        owned=owned,
        statuses=statuses,
        expected=expected,
        now=now,
        team_url=services.workspace.url,
        lang=lang,
        sources_down=down,
        behind=behind(await channel_backlog(services.engine), now=now),
    )
    await client.views_publish(user_id=user, view=View(type="home", blocks=blocks))
