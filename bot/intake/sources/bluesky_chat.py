"""Bluesky's chat: a private reply goes to the customer as a direct message, sent once (the
Bluesky source mixes this in; posts cannot be private)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from bot.intake.sources import shaping
from bot.intake.sources.base import PollFailed, ReplyRefused

CHAT = "did:web:api.bsky.chat#bsky_chat"  # the service a PDS forwards chat.bsky.* calls to


class BlueskyChat:
    """What a direct message needs of the source it is mixed into."""

    _session: dict[str, str] | None

    if TYPE_CHECKING:  # the reading side's, in bot.intake.sources.bluesky

        async def _xrpc(
            self,
            http: aiohttp.ClientSession,
            method: str,
            *,
            params: dict[str, str] | None = None,
            body: dict[str, Any] | None = None,
            proxy: str | None = None,
        ) -> tuple[Any, Any]: ...

    async def _direct_message(
        self, http: aiohttp.ClientSession, ref: dict[str, Any], *, text: str, since: datetime
    ) -> str:
        """Send `text` to the post's author in Bluesky's chat; returns the conversation's URL.

        The app password needs "Allow access to your direct messages", and the customer must
        accept messages from the brand. sendMessage has no idempotency either, so the last
        messages are checked first: the same text sent since `since` (the draft's last change:
        an earlier try of this very Send) is not sent again."""
        author = str(ref["uri"]).removeprefix("at://").split("/", 1)[0]
        if author == (self._session or {}).get("did"):
            raise ReplyRefused("this is the brand's own post: there is no one to message")
        try:
            if not author.startswith("did:"):
                answer, _ = await self._xrpc(
                    http, "com.atproto.identity.resolveHandle", params={"handle": author}
                )
                author = str(answer.get("did") or "")
            answer, _ = await self._xrpc(
                http, "chat.bsky.convo.getConvoForMembers", params={"members": author}, proxy=CHAT
            )
            convo_id = str((answer.get("convo") or {}).get("id") or "")
            if not convo_id:
                raise ReplyRefused("Bluesky's chat gave no conversation")
            url = f"https://bsky.app/messages/{convo_id}"
            recent, _ = await self._xrpc(
                http,
                "chat.bsky.convo.getMessages",
                params={"convoId": convo_id, "limit": "20"},
                proxy=CHAT,
            )
            me = (self._session or {}).get("did")
            messages = recent.get("messages") if isinstance(recent, dict) else None
            for message in messages if isinstance(messages, list) else []:
                if not isinstance(message, dict) or message.get("text") != text:
                    continue
                sent_at = shaping.moment(message.get("sentAt"))
                mine = (message.get("sender") or {}).get("did") == me
                if mine and sent_at is not None and sent_at >= since:
                    return url
            await self._xrpc(
                http,
                "chat.bsky.convo.sendMessage",
                body={"convoId": convo_id, "message": {"text": text}},
                proxy=CHAT,
            )
        except PollFailed as failed:
            if "Bad token" in str(failed):
                raise ReplyRefused(
                    'the app password may not send direct messages: make one with "Allow '
                    'access to your direct messages" ticked and put it in the config'
                ) from None
            raise ReplyRefused(f"the direct message was not sent: {failed}") from None
        return url
