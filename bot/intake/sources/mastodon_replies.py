"""Replies posted back on Mastodon: finding a post known only by its URL, and answering in its
conversation exactly once (the Mastodon source mixes this in; bot.delivery.replies calls it)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import aiohttp

from bot.intake.markup import plain_text
from bot.intake.sources.base import PollFailed, ReplyRefused, SourceItem
from bot.intake.sources.platform_http import failure, read_json

RATE = ("X-RateLimit-Remaining", "X-RateLimit-Reset")  # Mastodon's rate-limit headers


class MastodonReplies:
    """What posting a reply needs of the source it is mixed into."""

    base: str
    host: str
    headers: dict[str, str]
    timeout: aiohttp.ClientTimeout
    _account_id: str | None

    if TYPE_CHECKING:  # the reading side's, in bot.intake.sources.mastodon

        async def _get(
            self, http: aiohttp.ClientSession, url: str
        ) -> tuple[list[dict[str, Any]], dict[str, str], Any]: ...

        def _item(self, entry: dict[str, Any], *, addressed: bool) -> SourceItem | None: ...

        async def _brand_account(self, http: aiohttp.ClientSession) -> str: ...

        async def _object(self, http: aiohttp.ClientSession, path: str) -> dict[str, Any]: ...

    async def resolve(self, http: aiohttp.ClientSession, url: str) -> dict[str, Any] | None:
        """The reply ref of a post known only by its URL (a mention that came in through the
        webhook): the instance looks it up, fetching it from its home server if need be."""
        query = urlencode({"q": url, "type": "statuses", "resolve": "true", "limit": "1"})
        try:
            statuses, _links, _headers = await self._get(http, f"{self.base}/api/v2/search?{query}")
        except PollFailed as failed:
            raise ReplyRefused(f"could not look the post up: {failed}") from None
        item = self._item(statuses[0], addressed=False) if statuses else None
        return item.reply_ref if item is not None else None

    async def post_reply(
        self,
        http: aiohttp.ClientSession,
        ref: dict[str, Any],
        *,
        text: str,
        private: bool,
        idempotency_key: str,
    ) -> str:
        """Publish `text` as a reply to the status in `ref`; returns the reply's URL.

        Public and unlisted posts are answered alike; followers-only and direct posts, and any
        reply the agent chose to make private, are answered directly (a followers-only reply
        would show to all the brand's followers). The reply names the customer, as Mastodon
        only delivers a direct reply to the accounts it mentions. Mastodon keeps an
        Idempotency-Key for an hour only, so a reply already in the thread (an earlier Send
        whose answer was lost) is looked for first and never posted twice."""
        original = str(ref["visibility"])
        visibility = "direct" if private or original in ("direct", "private") else original
        acct = str(ref["acct"])
        if not _names(text, acct, self.host):
            text = f"@{acct} {text}"
        try:
            existing = await self._earlier_reply(http, str(ref["status_id"]), text)
            if existing is not None:
                return existing
            body = {"status": text, "in_reply_to_id": ref["status_id"], "visibility": visibility}
            headers = {**self.headers, "Idempotency-Key": idempotency_key}
            async with http.post(
                f"{self.base}/api/v1/statuses", json=body, headers=headers, timeout=self.timeout
            ) as resp:
                answer = await read_json(resp)
                if resp.status >= 300:
                    raise ReplyRefused(str(failure(resp.status, answer, resp.headers, RATE)))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ReplyRefused(f"{type(exc).__name__}") from None
        except PollFailed as failed:
            raise ReplyRefused(str(failed)) from None
        url = answer.get("url") or answer.get("uri") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ReplyRefused("the instance's answer has no URL of the reply")
        return url

    async def _earlier_reply(
        self, http: aiohttp.ClientSession, status_id: str, text: str
    ) -> str | None:
        """The URL of our reply with this text already under the status, if there is one."""
        await self._brand_account(http)
        context = await self._object(http, f"/api/v1/statuses/{quote(status_id, safe='')}/context")
        wanted = _comparable(text)
        for reply in context.get("descendants") or []:
            if (
                isinstance(reply, dict)
                and str(reply.get("in_reply_to_id")) == status_id
                and str((reply.get("account") or {}).get("id")) == self._account_id
                and _comparable(plain_text(str(reply.get("content") or ""))) == wanted
            ):
                return str(reply.get("url") or reply.get("uri"))
        return None


_MENTION = re.compile(r"(?<![\w@])@[\w.-]+(?:@[\w.-]+)?")


def _comparable(text: str) -> str:
    """A reply's words without its @mentions: Mastodon shows "@karin@social.example" as
    "@karin" in the published HTML, so the text as posted and as shown differ there."""
    return " ".join(_MENTION.sub("", text).split())


def _names(text: str, acct: str, host: str) -> bool:
    """Whether `text` mentions the account (as @user@domain, or @user when it is local)."""
    handles = {acct, acct.removesuffix(f"@{host}")}
    pattern = "|".join(re.escape(f"@{handle}") for handle in handles)
    return re.search(rf"(?<![\w@])(?:{pattern})(?![\w@.-]*\w)", text, re.IGNORECASE) is not None
