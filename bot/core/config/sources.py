"""Polled sources in the config file (feeds, Mastodon, Bluesky), their alerts and reply webhooks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    HttpUrl,
    Tag,
    field_validator,
)

from bot.core.config.base import (
    Strict,
    check_channel_id,
)
from bot.core.platforms import SOURCES


class ReplyWebhook(Strict):
    """Where approved replies to one source are sent, signed like the ingest webhook."""

    url: HttpUrl
    secret: Annotated[str, Field(min_length=16)]


class PolledSource(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
    interval_seconds: Annotated[int, Field(ge=30, le=86_400)] = 300
    # Tell the source-alert channel when this source has had no new item for this long;
    # failures are alerted anyway. Unset: learnt from the source's own pace once it has
    # brought enough items (see README); 0: never.
    quiet_alert_minutes: Annotated[int, Field(ge=0)] | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 30.0  # per HTTP request


class FeedSource(PolledSource):
    """An RSS or Atom feed (Google Alerts, forum topics, review sites, Reddit searches, …)."""

    type: Literal["rss"] = "rss"
    url: HttpUrl
    source: str = "rss"  # what its mentions count as (rss, forum, review, reddit, …)
    addressed: bool = False
    private: bool = False
    language: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")] | None = (
        None  # a language tag such as nl or en-GB
    )

    @field_validator("source")
    @classmethod
    def _known_source(cls, source: str) -> str:
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}")
        return source


class MastodonSource(PolledSource):
    """The brand's Mastodon account: its mentions (incl. direct messages) and searches."""

    type: Literal["mastodon"]
    interval_seconds: Annotated[int, Field(ge=30, le=86_400)] = 60
    instance: HttpUrl  # https://mastodon.social
    access_token: Annotated[str, Field(min_length=10)]  # scopes read:notifications read:search
    notifications: bool = True  # mentions of the account (direct visibility → private)
    # Words or phrases (full-text search) and #hashtags (the tag's public timeline).
    search: list[Annotated[str, Field(min_length=2, max_length=100)]] = Field(default_factory=list)
    replies: bool = True  # "Send" on a draft posts the reply (scope write:statuses)


class BlueskySource(PolledSource):
    """The brand's Bluesky account: notifications (mentions, replies, quotes) and searches."""

    type: Literal["bluesky"]
    interval_seconds: Annotated[int, Field(ge=30, le=86_400)] = 60
    service: HttpUrl = HttpUrl("https://bsky.social")  # the account's PDS / entryway
    handle: Annotated[str, Field(min_length=3, max_length=253)]  # acmebank.bsky.social
    app_password: Annotated[str, Field(min_length=4)]  # Settings → Privacy → App passwords
    notifications: bool = True
    search: list[Annotated[str, Field(min_length=2, max_length=100)]] = Field(default_factory=list)
    replies: bool = True


def _source_type(value: Any) -> str:
    """Which kind of source an entry is; `type` may be left out for a feed."""
    kind = value.get("type", "rss") if isinstance(value, dict) else getattr(value, "type", "rss")
    return kind if kind in ("rss", "mastodon", "bluesky") else "unknown"


AnySource = Annotated[
    Annotated[FeedSource, Tag("rss")]
    | Annotated[MastodonSource, Tag("mastodon")]
    | Annotated[BlueskySource, Tag("bluesky")],
    Discriminator(
        _source_type,
        custom_error_type="source_type",
        custom_error_message="type must be rss, mastodon or bluesky",
    ),
]


class SourceAlerts(Strict):
    """Where to say that a source has been failing (or quiet) for a while, and recovered."""

    channel: str
    after_minutes: Annotated[int, Field(ge=1)] = 30

    @field_validator("channel")
    @classmethod
    def _channel_id(cls, channel: str) -> str:
        return check_channel_id(channel)
