"""Text for Slack's mrkdwn: escaping what comes from outside (no pings, no links, no broken
entities), cutting it to a limit without breaking an entity, links and dates Slack renders."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote


def escape(text: str) -> str:
    """Make customer text inert in mrkdwn: no pings, no links, no broken entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# What a note in a thread line may take once escaped: the line around it (who, when, a link)
# stays well within the 3,000 characters of a text object.
NOTE_LIMIT = 2400


def escape_within(text: str, limit: int = NOTE_LIMIT) -> str:
    """`escape(text)` cut to at most `limit` characters (with "…"), never inside an entity:
    escaping grows text ("&" is five characters), so the cut comes after it."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:  # "&am" would show as broken markup
        cut = cut[:amp]
    return cut + "…"


def safe_url(url: str) -> str:
    """A URL that cannot end a Slack link early (`|` and `>` would)."""
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")


def slack_date(moment: datetime, fallback: str) -> str:
    # Slack renders this in each reader's own time zone; the fallback is for notifications.
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{escape(fallback)}>"


def cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters (with "…")."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters (with "…")."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
