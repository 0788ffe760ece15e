"""Publishing an approved reply where the customer wrote: on Mastodon or Bluesky through the
account the mention was polled with, or through the source's signed reply webhook."""

from __future__ import annotations

from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import WebcareConfig
from bot.reply_webhook import ReplyFailed, send_reply
from bot.sources import bluesky, mastodon
from bot.sources.base import Source
from storage import cursors
from storage.cases import latest_external_id

__all__ = ["ReplyFailed", "ReplyPublisher"]


class ReplyPublisher:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        config: WebcareConfig,
        http: aiohttp.ClientSession,
        sources: dict[str, Source],
    ) -> None:
        self.engine = engine
        self.config = config
        self.http = http
        self.sources = sources

    async def publish(self, case: Any, draft: Any) -> str:
        """Post the draft as a reply to the customer's latest message; returns its URL.
        Raises ReplyFailed with a reason fit for the agent when nothing was published."""
        async with self.engine.connect() as conn:
            in_reply_to = await latest_external_id(conn, case_id=case.id)
            target = None
            if in_reply_to is not None:
                target = await cursors.reply_target(
                    conn, source=case.source, external_id=in_reply_to
                )
        account = self.sources.get(target.source_name) if target is not None else None
        private = not draft.public
        try:
            if isinstance(account, mastodon.Mastodon) and account.config.replies:
                return await account.post_reply(
                    self.http,
                    target.ref,  # type: ignore[union-attr]
                    text=draft.text,
                    private=private,
                    idempotency_key=f"webcare-draft-{draft.id}",
                )
            if isinstance(account, bluesky.Bluesky) and account.config.replies:
                return await account.post_reply(
                    self.http,
                    target.ref,  # type: ignore[union-attr]
                    text=draft.text,
                    private=private,
                )
        except (mastodon.ReplyRefused, bluesky.ReplyRefused) as refused:
            raise ReplyFailed(str(refused)) from None
        hook = self.config.reply_webhooks.get(case.source)
        if hook is None:
            raise ReplyFailed(
                "the bot cannot answer this message on its platform (it did not come in "
                "through a configured account); post the reply yourself and mark it as sent"
            )
        return await send_reply(
            hook,
            {
                "case_id": case.id,
                "source": case.source,
                "in_reply_to": in_reply_to,
                "visibility": "private" if private else "public",
                "text": draft.text,
                "customer": {"handle": case.author_handle},
            },
        )
