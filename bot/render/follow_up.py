"""Follow-up with the customer: the modal to choose when, and the question to the owner when it
is due (bot.cases.follow_up says when that is)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DateTimePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.core.i18n import Lang, t
from bot.render.action_ids import ActionId
from bot.render.modals import modal
from bot.render.mrkdwn import escape

MODAL_ID = "follow_up_modal"
WHEN, CUSTOM = "when", "custom"


class BadFollowUp(ValueError):
    """Modal input that cannot be scheduled; `block` is where to show the message."""

    def __init__(self, block: str, message: str) -> None:
        super().__init__(message)
        self.block = block
        self.message = message


def read_follow_up_modal(values: dict[str, Any], *, now: datetime, lang: Lang) -> int | datetime:
    """The modal's choice: days from now, or a moment; raises BadFollowUp with a message for
    the modal."""
    choice = values[WHEN][WHEN]["selected_option"]["value"]
    if choice in ("1", "2"):
        return int(choice)
    stamp = values.get(CUSTOM, {}).get(CUSTOM, {}).get("selected_date_time")
    if stamp is None:
        raise BadFollowUp(CUSTOM, t("follow_up.error.no_time", lang))
    moment = datetime.fromtimestamp(int(stamp), tz=now.tzinfo)
    if moment <= now:
        raise BadFollowUp(CUSTOM, t("follow_up.error.past", lang))
    return moment


def follow_up_modal(*, case_id: int, lang: Lang) -> View:
    options = [
        Option(value="1", text=PlainTextObject(text=t("follow_up.in_1_day", lang))),
        Option(value="2", text=PlainTextObject(text=t("follow_up.in_2_days", lang))),
        Option(value="custom", text=PlainTextObject(text=t("follow_up.at_time", lang))),
    ]
    return modal(
        MODAL_ID,
        metadata=str(case_id),
        title="follow_up.title",
        submit="follow_up.submit",
        lang=lang,
        blocks=[
            InputBlock(
                block_id=WHEN,
                label=PlainTextObject(text=t("follow_up.when", lang)),
                element=RadioButtonsElement(
                    action_id=WHEN, options=options, initial_option=options[0]
                ),
            ),
            InputBlock(
                block_id=CUSTOM,
                optional=True,
                label=PlainTextObject(text=t("follow_up.custom", lang)),
                element=DateTimePickerElement(action_id=CUSTOM),
            ),
            ContextBlock(elements=[MarkdownTextObject(text=t("follow_up.hint", lang))]),
        ],
    )


def follow_up_question(
    *, case_id: int, author_handle: str, channel: str, lang: Lang
) -> tuple[str, list[Block]]:
    """The DM to the owner when a follow-up is due."""
    question = t("follow_up.question", lang, author=escape("@" + author_handle))
    where = t("follow_up.where", lang, id=case_id, channel=f"<#{channel}>")
    buttons = [
        (ActionId.FOLLOW_UP_SOLVED, "follow_up.solved", "primary"),
        (ActionId.FOLLOW_UP_STILL_OPEN, "follow_up.still_open", None),
        (ActionId.FOLLOW_UP_REOPEN, "follow_up.reopen", None),
    ]
    return question, [
        SectionBlock(text=MarkdownTextObject(text=f"*{question}*\n{where}")),
        ActionsBlock(
            block_id=f"follow_up:{case_id}",
            elements=[
                ButtonElement(
                    text=PlainTextObject(text=t(label, lang)),
                    action_id=action,
                    value=str(case_id),
                    style=style,
                )
                for action, label, style in buttons
            ],
        ),
    ]


def follow_up_answered(*, answer: ActionId, actor: str, lang: Lang) -> tuple[str, list[Block]]:
    """What the DM shows once answered (its buttons are gone)."""
    text = t(f"follow_up.answered.{answer.value}", lang, actor=escape(actor))
    return text, [SectionBlock(text=MarkdownTextObject(text=text))]
