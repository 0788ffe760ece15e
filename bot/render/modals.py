"""The frame every modal of ours has: a title, a submit button and Cancel, in the person's
language, and what it belongs to in `private_metadata`."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.core.i18n import Lang, t


def modal(
    callback_id: str,
    *,
    metadata: str,
    title: str,
    submit: str,
    blocks: Sequence[Block],
    lang: Lang,
) -> View:
    """A modal; `title` and `submit` are catalogue keys."""
    return View(
        type="modal",
        callback_id=callback_id,
        private_metadata=metadata,
        title=t(title, lang),
        submit=t(submit, lang),
        close=t("confirm.cancel", lang),
        blocks=list(blocks),
    )
