"""Block Kit limit checks for the fake Slack server: the limits Slack enforces, not its schema.

Errors read like Slack's: ``must be less than 3001 characters [json-pointer:/blocks/0/text/text]``.
"""

from __future__ import annotations

from typing import Any

BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_ID_LENGTH = 255


def message_errors(blocks: Any) -> list[str]:
    """Limit violations in a message's ``blocks``."""
    checker = _Checker()
    checker.blocks(blocks, "/blocks", MAX_MESSAGE_BLOCKS)
    return checker.errors


def view_errors(view: Any) -> list[str]:
    """Limit violations in a modal or Home tab ``view``."""
    checker = _Checker()
    if not isinstance(view, dict):
        checker.fail("must be an object", "/view")
        return checker.errors
    if view.get("type") not in ("modal", "home"):
        checker.fail("must be 'modal' or 'home'", "/view/type")
    for key in ("title", "submit", "close"):
        checker.text(view.get(key), f"/view/{key}", 24)
    checker.length(view.get("private_metadata"), "/view/private_metadata", 3000)
    checker.length(view.get("callback_id"), "/view/callback_id", MAX_ID_LENGTH)
    checker.blocks(view.get("blocks", []), "/view/blocks", MAX_VIEW_BLOCKS)
    return checker.errors


class _Checker:
    """Collects violations; action_id and block_id must be unique across one message or view."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._seen: dict[str, set[str]] = {"action_id": set(), "block_id": set()}

    def fail(self, problem: str, pointer: str) -> None:
        self.errors.append(f"{problem} [json-pointer:{pointer}]")

    def length(self, value: Any, pointer: str, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.fail(f"must be less than {limit + 1} characters", pointer)

    def count(self, items: Any, pointer: str, limit: int) -> None:
        if isinstance(items, list) and len(items) > limit:
            self.fail(f"must be less than {limit + 1} items", pointer)

    def text(self, text_object: Any, pointer: str, limit: int) -> None:
        if isinstance(text_object, dict):
            self.length(text_object.get("text"), f"{pointer}/text", limit)

    def identifier(self, owner: dict[str, Any], key: str, pointer: str) -> None:
        value = owner.get(key)
        if value is None:
            return
        self.length(value, f"{pointer}/{key}", MAX_ID_LENGTH)
        if value in self._seen[key]:
            self.fail(f"duplicate {key} '{value}'", f"{pointer}/{key}")
        self._seen[key].add(value)

    def blocks(self, blocks: Any, pointer: str, limit: int) -> None:
        if not isinstance(blocks, list):
            self.fail("must be an array", pointer)
            return
        self.count(blocks, pointer, limit)
        for index, block in enumerate(blocks):
            self.block(block, f"{pointer}/{index}")

    def block(self, block: Any, pointer: str) -> None:
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            kind = block.get("type") if isinstance(block, dict) else None
            self.fail(f"unknown block type {kind!r}", f"{pointer}/type")
            return
        self.identifier(block, "block_id", pointer)
        kind = block["type"]
        if kind == "section":
            self.text(block.get("text"), f"{pointer}/text", 3000)
            fields = block.get("fields") or []
            self.count(fields, f"{pointer}/fields", 10)
            for index, field in enumerate(fields):
                self.text(field, f"{pointer}/fields/{index}", 2000)
            self.element(block.get("accessory"), f"{pointer}/accessory")
        elif kind == "header":
            self.text(block.get("text"), f"{pointer}/text", 150)
        elif kind == "context":
            self.count(block.get("elements"), f"{pointer}/elements", 10)
        elif kind == "actions":
            elements = block.get("elements") or []
            self.count(elements, f"{pointer}/elements", 25)
            for index, element in enumerate(elements):
                self.element(element, f"{pointer}/elements/{index}")
        elif kind == "input":
            self.element(block.get("element"), f"{pointer}/element")

    def element(self, element: Any, pointer: str) -> None:
        if not isinstance(element, dict):
            return
        self.identifier(element, "action_id", pointer)
        if element.get("type") == "button":
            self.text(element.get("text"), f"{pointer}/text", 75)
            self.length(element.get("value"), f"{pointer}/value", 2000)
            self.length(element.get("url"), f"{pointer}/url", 3000)
