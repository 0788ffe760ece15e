"""The one interface every polled source implements, and what a poll hands back.

A source only fetches: it turns what its platform says into mention objects (the webhook's
format) and a new cursor. The poller stores the mentions through the same ingest path as the
webhook (dedupe, threading, routing) and saves the cursor only after they are committed, so a
crash in between re-fetches items that dedupe then drops: nothing twice, nothing missed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import aiohttp

USER_AGENT = "webcare-router (+https://github.com/webcare-router)"


class PollFailed(Exception):
    """The source could not be read this time; `retry_after` (seconds) when it said so.

    The reason is shown in Slack, the log and /healthz, so a URL in it keeps only its host:
    a private feed's key travels in the query, a Google Alerts feed's ids in the path
    (`/alerts/feeds/<user>/<alert>`). The source is known by its configured name anyway."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(_URL_REST.sub(r"\1/…", reason))
        self.retry_after = retry_after


# Everything after a URL's scheme and host: its path, query and fragment.
_URL_REST = re.compile(r"(https?://[^\s/?#'\"<>]+)[/?#][^\s'\"<>]*")


class ReplyRefused(Exception):
    """The platform did not publish a reply; the reason is fit to show the agent."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """What a source saw before: HTTP validators, newest item time, platform ids."""

    etag: str | None = None
    last_modified: str | None = None
    newest_seen_at: datetime | None = None
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SourceItem:
    mention: dict[str, Any]  # a mention object, as the webhook takes them
    published: datetime
    reply_ref: dict[str, Any] | None = None  # how to answer it on its platform
    dated: bool = True  # False: the platform gave no time, `published` is when it was fetched


@dataclass(slots=True)
class Fetched:
    """New items (oldest first) and the cursor to save once they are stored."""

    items: list[SourceItem]
    cursor: Cursor
    not_modified: bool = False
    wait_seconds: float | None = None  # the platform's rate limit asks for a pause


class Source(Protocol):
    name: str
    interval_seconds: int

    async def fetch(
        self, http: aiohttp.ClientSession, cursor: Cursor, *, now: datetime, backfill_from: datetime
    ) -> Fetched:
        """Everything new since `cursor`; on the first poll nothing older than
        `backfill_from`. Raises PollFailed when the source cannot be read."""
        ...


class PolledSource:
    """What every source takes from its config: its name, how often and how patiently."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.name: str = config.name
        self.interval_seconds: int = config.interval_seconds
        self.timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)

    def unreachable(self, exc: Exception, url: str) -> PollFailed:
        """Why a request failed, fit for Slack: a timeout says what and after how long
        (its own message is empty, which read as "TimeoutError: .")."""
        if isinstance(exc, TimeoutError):
            where = url.split("?", 1)[0]
            return PollFailed(f"no answer from {where} within {self.timeout.total:g} s")
        return PollFailed(f"{type(exc).__name__}: {exc}"[:300])
