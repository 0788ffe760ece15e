"""The platforms a mention can come from (DESIGN.md section 4, `source`)."""

from __future__ import annotations

from typing import Literal, get_args

Source = Literal[
    "x",
    "facebook",
    "instagram",
    "mastodon",
    "bluesky",
    "reddit",
    "forum",
    "review",
    "rss",
    "email",
    "other",
]
SOURCES: tuple[str, ...] = get_args(Source)
