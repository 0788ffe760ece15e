"""Block Kit for forwarding: the modal, and the direct messages around a forward."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    RichTextBlock,
    RichTextElementParts,
    RichTextQuoteElement,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.cases.forwarding import ForwardRequest
from bot.core.config import WebcareConfig
from bot.core.config.departments import Department
from bot.core.i18n import Lang, format_when, t
from bot.render.action_ids import ActionId
from bot.render.modals import modal
from bot.render.mrkdwn import escape, escape_within, slack_date

MODAL_ID = "forward_modal"
MODE, PERSON, DEPARTMENT, NOTE = "mode", "person", "department", "note"
MAX_NOTE = 1000


class BadForward(ValueError):
    def __init__(self, block: str, message: str) -> None:
        super().__init__(message)
        self.block = block
        self.message = message


def forward_modal(*, case_id: int, current: Department, config: WebcareConfig, lang: Lang) -> View:
    """Forward to a person (the department's contact suggested) or move to a department."""
    modes = [
        Option(value=PERSON, text=PlainTextObject(text=t("forward.to_person", lang))),
        Option(value=DEPARTMENT, text=PlainTextObject(text=t("forward.to_department", lang))),
    ]
    others = [d for d in config.departments if d.key != current.key]
    person = UserSelectElement(action_id=PERSON, initial_user=next(iter(current.contacts), None))
    blocks: list[Any] = [
        InputBlock(
            block_id=MODE,
            label=PlainTextObject(text=t("forward.what", lang)),
            element=RadioButtonsElement(action_id=MODE, options=modes, initial_option=modes[0]),
        ),
        InputBlock(
            block_id=PERSON,
            optional=True,
            element=person,
            label=PlainTextObject(text=t("forward.person", lang)),
        ),
    ]
    contacts = [
        f"{escape(d.name)}: " + ", ".join(f"<@{c}>" for c in d.contacts)
        for d in config.departments
        if d.contacts
    ]
    if contacts:
        text = t("forward.contacts", lang) + " " + " · ".join(contacts)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=text[:3000])]))
    if others:
        blocks.append(
            InputBlock(
                block_id=DEPARTMENT,
                optional=True,
                label=PlainTextObject(text=t("forward.department", lang)),
                element=StaticSelectElement(
                    action_id=DEPARTMENT,
                    options=[
                        Option(value=d.key, text=PlainTextObject(text=d.name[:75])) for d in others
                    ],
                ),
            )
        )
    blocks.append(
        InputBlock(
            block_id=NOTE,
            optional=True,
            label=PlainTextObject(text=t("forward.note", lang)),
            element=PlainTextInputElement(action_id=NOTE, multiline=True, max_length=MAX_NOTE),
        )
    )
    return modal(
        MODAL_ID,
        metadata=str(case_id),
        title="forward.title",
        submit="forward.submit",
        lang=lang,
        blocks=blocks,
    )


# A person's Slack user id: U… or W… (Enterprise Grid); not a channel, bot or Slackbot.
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")


def read_forward_modal(
    values: dict[str, Any], *, actor: str, departments: Collection[str], lang: Lang
) -> ForwardRequest:
    """What was asked; raises BadForward naming the input to fix. Checks what Slack's own
    modal would never send too: the submission is a payload like any other."""
    mode = values[MODE][MODE]["selected_option"]["value"]
    note = (values.get(NOTE, {}).get(NOTE, {}).get("value") or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise BadForward(NOTE, t("error.too_long", lang, limit=MAX_NOTE, length=len(note)))
    if mode == PERSON:
        person = values.get(PERSON, {}).get(PERSON, {}).get("selected_user")
        if not person:
            raise BadForward(PERSON, t("forward.error.no_person", lang))
        if not isinstance(person, str) or not _USER_ID.fullmatch(person) or person == "USLACKBOT":
            raise BadForward(PERSON, t("forward.error.not_a_person", lang))
        if person == actor:
            raise BadForward(PERSON, t("forward.error.yourself", lang))
        return ForwardRequest(person=person, department=None, note=note)
    selected = values.get(DEPARTMENT, {}).get(DEPARTMENT, {}).get("selected_option")
    if not selected:
        raise BadForward(DEPARTMENT, t("forward.error.no_department", lang))
    if selected.get("value") not in departments:  # never quietly the default department
        raise BadForward(DEPARTMENT, t("forward.error.unknown_department", lang))
    return ForwardRequest(person=None, department=selected["value"], note=note)


def forwarded_dm(
    *,
    case_id: int,
    author_handle: str,
    text: str,
    channel: str,
    by: str,
    note: str | None,
    due_at: datetime,
    timezone: str,
    lang: Lang,
) -> tuple[str, list[Block]]:
    """The DM to the person a case was forwarded to, with Take it / Send back."""
    due = slack_date(due_at, format_when(due_at, lang=lang, timezone=timezone))
    head = t("forward.dm", lang, by=escape(by), id=case_id, channel=f"<#{channel}>")
    after = [t("forward.dm_note", lang, note=escape_within(note))] if note else []
    after.append(t("forward.dm_due", lang, due=due))
    return head, [
        SectionBlock(text=MarkdownTextObject(text=f"*{head}*\n{escape('@' + author_handle)}:")),
        # The customer's words as literal text: no links, no formatting (see bot.render.cards).
        RichTextBlock(
            elements=[
                RichTextQuoteElement(
                    elements=[RichTextElementParts.Text(text=" ".join(text.split())[:2900] or "—")]
                )
            ]
        ),
        SectionBlock(text=MarkdownTextObject(text="\n".join(after)[:3000])),
        ActionsBlock(
            block_id=f"forward:{case_id}",
            elements=[
                ButtonElement(
                    text=PlainTextObject(text=t("forward.take", lang)),
                    action_id=ActionId.FORWARD_TAKE,
                    value=str(case_id),
                    style="primary",
                ),
                ButtonElement(
                    text=PlainTextObject(text=t("forward.send_back", lang)),
                    action_id=ActionId.FORWARD_SEND_BACK,
                    value=str(case_id),
                ),
            ],
        ),
    ]


def simple_dm(key: str, lang: Lang, **values: Any) -> tuple[str, list[Block]]:
    text = t(key, lang, **values)
    return text, [SectionBlock(text=MarkdownTextObject(text=text))]
