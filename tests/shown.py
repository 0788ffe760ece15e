"""What a person sees of a message the bot posted: every text in it, and the customer's post."""

from __future__ import annotations

from typing import Any


def texts(message: dict[str, Any], *, rich: bool = False) -> list[str]:
    """The texts Slack reads markup in (pings, links, formatting): the notification text and
    the mrkdwn and plain_text objects; with `rich`, also the literal text and links of
    rich_text elements, which Slack shows as they are."""
    found: list[str] = [message.get("text") or ""]

    def walk(node: Any, in_rich_text: bool) -> None:
        if isinstance(node, dict):
            kind = node.get("type")
            if kind in ("mrkdwn", "plain_text") or (
                rich and in_rich_text and kind in ("text", "link")
            ):
                found.append(node.get("text") or node.get("url") or "")
            for value in node.values():
                walk(value, in_rich_text or kind == "rich_text")
        elif isinstance(node, list):
            for value in node:
                walk(value, in_rich_text)

    walk(message.get("blocks"), False)
    return found


def shown(message: dict[str, Any]) -> str:
    """All a person sees of the message, as one string."""
    return "\n".join(texts(message, rich=True))


def quoted(message: dict[str, Any]) -> str:
    """The literal text of the message's first quote (a card's customer post)."""
    for block in message["blocks"]:
        if block["type"] == "rich_text" and block["elements"][0]["type"] == "rich_text_quote":
            return "".join(part.get("text", "") for part in block["elements"][0]["elements"])
    raise AssertionError("no quote in the message")
