"""Publishing an approved reply where the customer wrote: on Mastodon or Bluesky through the
account the mention was polled with, or through the source's signed reply webhook."""

from __future__ import annotations

from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.config import WebcareConfig
from bot.delivery.reply_webhook import ReplyFailed, send_reply
from bot.intake.sources import bluesky, mastodon
from bot.intake.sources.base import ReplyRefused, Source
from storage import cursors
from storage.cases import latest_mention

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
            latest = await latest_mention(conn, case_id=case.id)
            target = None
            if latest is not None:
                target = await cursors.reply_target(
                    conn, source=latest.source, external_id=latest.external_id
                )
        in_reply_to = latest.external_id if latest is not None else None
        private = not draft.public
        try:
            if target is not None:
                account, ref = self.sources.get(target.source_name), target.ref
            else:  # came in through the webhook: let a configured account look the post up
                account, ref = await self._resolve(case.source, latest.url if latest else None)
            if isinstance(account, mastodon.Mastodon) and account.config.replies and ref:
                return await account.post_reply(
                    self.http,
                    ref,
                    text=draft.text,
                    private=private,
                    idempotency_key=f"webcare-draft-{draft.id}",
                )
            if isinstance(account, bluesky.Bluesky) and account.config.replies and ref:
                return await account.post_reply(
                    self.http,
                    ref,
                    text=draft.text,
                    private=private,
                    rkey=bluesky.tid(draft.created_at, clock_id=draft.id),
                    since=draft.updated_at,
                )
        except ReplyRefused as refused:
            raise ReplyFailed(str(refused)) from None
        hook = self.config.reply_webhooks.get(case.source)
        if hook is None:
            why = (
                "the account could not find the post"
                if self.config.replies_through(case.source)
                else "no account or reply webhook is configured for it"
            )
            raise ReplyFailed(
                f"the bot cannot answer this message on its platform ({why}); post the reply "
                "yourself and mark it as sent"
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

    async def _resolve(
        self, platform: str, url: str | None
    ) -> tuple[Source | None, dict[str, Any] | None]:
        """The first configured account on `platform` that can reply and finds the post."""
        if url is None or platform in self.config.reply_webhooks:
            return None, None
        for account in self.sources.values():
            if not isinstance(account, mastodon.Mastodon | bluesky.Bluesky):
                continue
            if account.config.type != platform or not account.config.replies:
                continue
            ref = await account.resolve(self.http, url)
            if ref is not None:
                return account, ref
        return None, None
