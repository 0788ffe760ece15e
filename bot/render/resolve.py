"""Resolving a case: the modal with an optional closing note and the public-close question."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.core.i18n import Lang, t
from bot.render.modals import modal

MODAL_ID = "resolve_modal"
NOTE, PUBLIC_CLOSE = "closing_note", "public_close"
MAX_NOTE = 2000


def resolve_modal(*, case_id: int, ask_public_close: bool, lang: Lang) -> View:
    blocks: list[Any] = [
        InputBlock(
            block_id=NOTE,
            optional=True,
            label=PlainTextObject(text=t("resolve.note", lang)),
            element=PlainTextInputElement(action_id=NOTE, multiline=True, max_length=MAX_NOTE),
        )
    ]
    if ask_public_close:
        blocks.insert(
            0, SectionBlock(text=MarkdownTextObject(text=t("resolve.went_private", lang)))
        )
        blocks.append(
            InputBlock(
                block_id=PUBLIC_CLOSE,
                label=PlainTextObject(text=t("resolve.public_close", lang)),
                element=RadioButtonsElement(
                    action_id=PUBLIC_CLOSE,
                    options=[
                        Option(value="yes", text=PlainTextObject(text=t("resolve.yes", lang))),
                        Option(value="no", text=PlainTextObject(text=t("resolve.no", lang))),
                    ],
                ),
            )
        )
    return modal(
        MODAL_ID,
        metadata=str(case_id),
        title="resolve.title",
        submit="resolve.submit",
        lang=lang,
        blocks=blocks,
    )


def read_resolve_modal(values: dict[str, Any]) -> tuple[str | None, bool | None]:
    """The closing note (None when empty) and the public-close answer (None when not asked)."""
    note = (values.get(NOTE, {}).get(NOTE, {}).get("value") or "").strip() or None
    choice = values.get(PUBLIC_CLOSE, {}).get(PUBLIC_CLOSE, {}).get("selected_option")
    return note, (choice["value"] == "yes") if choice else None
