"""Block Kit for reply drafts: the drafting modal, the draft in the card's thread, and the
"where was it published?" modal."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
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
    StaticSelectElement,
    UrlInputElement,
)
from slack_sdk.models.views import View

from bot.cases.drafts import DraftCheck, draft_version
from bot.core.config.departments import Department, Template
from bot.core.i18n import Lang, language_name, t
from bot.render.action_ids import ActionId
from bot.render.modals import modal
from bot.render.mrkdwn import escape, safe_url

MODAL_ID, SENT_MODAL_ID = "draft_modal", "draft_sent_modal"
TEXT, VISIBILITY, OVERRIDE, URL = "text", "visibility", "override", "url"
TEMPLATE = ActionId.DRAFT_TEMPLATE  # the picker's block and action
MAX_TEXT = 3000


def _in_customer_language_first(templates: list[Template], language: str | None) -> list[Template]:
    """Templates in the customer's language first, then those in no stated language, then the
    rest, each group in the configured order."""
    if language is None:
        return list(templates)
    rank = {language: 0, None: 1}
    return sorted(templates, key=lambda tpl: rank.get(tpl.language, 2))


def draft_modal(
    *,
    case_id: int,
    draft_id: int | None,
    department: Department,
    source_label: str,
    author_handle: str,
    limit: int | None,
    text: str,
    public: bool,
    lang: Lang,
    text_version: str = "",
    customer_language: tuple[str, bool] | None = None,
) -> View:
    hint = t(
        "draft.replying",
        lang,
        source=source_label,
        author=escape("@" + author_handle),
        limit=limit or "∞",
    )
    if customer_language:
        code, detected = customer_language
        key = "draft.writes_detected" if detected else "draft.writes"
        hint += "\n" + t(key, lang, language=escape(language_name(code, lang)))
    if department.tone:
        hint += "\n" + t("draft.tone", lang, tone=escape(department.tone))
    blocks: list[Any] = [ContextBlock(elements=[MarkdownTextObject(text=hint)])]
    templates = _in_customer_language_first(
        department.templates, customer_language[0] if customer_language else None
    )
    if templates:
        blocks.append(
            InputBlock(
                block_id=TEMPLATE,
                optional=True,
                dispatch_action=True,
                label=PlainTextObject(text=t("draft.template", lang)),
                element=StaticSelectElement(
                    action_id=TEMPLATE,
                    options=[
                        Option(value=tpl.key, text=PlainTextObject(text=tpl.title))
                        for tpl in templates
                    ],
                ),
            )
        )
    visibility = [
        Option(value="public", text=PlainTextObject(text=t("draft.public", lang))),
        Option(value="private", text=PlainTextObject(text=t("draft.private", lang))),
    ]
    blocks += [
        InputBlock(
            # Slack keeps what was typed in an input whose block_id stays the same across
            # views.update: a template fills a block with a new id (text, text:sorry, …).
            block_id=f"{TEXT}:{text_version}" if text_version else TEXT,
            label=PlainTextObject(text=t("draft.text", lang)),
            element=PlainTextInputElement(
                action_id=TEXT,
                multiline=True,
                max_length=MAX_TEXT,
                initial_value=text[:MAX_TEXT] or None,
            ),
        ),
        InputBlock(
            block_id=VISIBILITY,
            label=PlainTextObject(text=t("draft.visibility", lang)),
            element=RadioButtonsElement(
                action_id=VISIBILITY,
                options=visibility,
                initial_option=visibility[0 if public else 1],
            ),
        ),
        InputBlock(
            block_id=OVERRIDE,
            optional=True,
            label=PlainTextObject(text=t("draft.check", lang)),
            element=CheckboxesElement(
                action_id=OVERRIDE,
                options=[Option(value="yes", text=PlainTextObject(text=t("draft.override", lang)))],
            ),
        ),
    ]
    return modal(
        MODAL_ID,
        metadata=json.dumps({"case_id": case_id, "draft_id": draft_id}),
        title="draft.title",
        submit="draft.save",
        lang=lang,
        blocks=blocks,
    )


def text_block(values: dict[str, Any]) -> str:
    """The block id the draft's text is in (it changes when a template is picked)."""
    return next(key for key in values if key == TEXT or key.startswith(f"{TEXT}:"))


def read_draft_modal(values: dict[str, Any]) -> tuple[str, bool, bool]:
    """The text, whether it is a public reply, and whether personal data was knowingly kept."""
    text = (values[text_block(values)][TEXT].get("value") or "").strip()
    public = values[VISIBILITY][VISIBILITY]["selected_option"]["value"] == "public"
    override = bool(values.get(OVERRIDE, {}).get(OVERRIDE, {}).get("selected_options"))
    return text, public, override


def draft_problem(result: DraftCheck, *, override: bool, lang: Lang) -> str | None:
    """Why the draft cannot be saved as it is, for the modal; None when it can."""
    if result.too_long:
        return t("draft.error.too_long", lang, length=result.length, limit=result.limit)
    if result.findings and not override:
        found = ", ".join(
            f"{t('pd.' + f.kind, lang) if 'pd.' + f.kind in _KINDS else f.kind} “{f.text}”"
            for f in result.findings[:5]
        )
        return t("draft.error.personal_data", lang, found=found)[:2000]
    return None


_KINDS = {"pd.iban", "pd.phone", "pd.email", "pd.postcode_house_number", "pd.bsn", "pd.card_number"}


def draft_message(
    draft: Any, *, department: Department, limit: int | None, can_send: bool, lang: Lang
) -> tuple[str, list[Block]]:
    """The draft as it shows in the card's thread, with what can be done next."""
    where = t("draft.public" if draft.public else "draft.private", lang)
    head = [
        t("draft.by", lang, author=escape(draft.author_name)),
        where,
        f"{len(draft.text)}/{limit or '∞'}",
    ]
    if draft.approved_by:
        head.append(t("draft.approved_by", lang, approver=f"<@{draft.approved_by}>"))
    if draft.status == "sent":
        link = f" <{safe_url(draft.sent_url)}|{t('draft.view', lang)}>" if draft.sent_url else ""
        head.append(":white_check_mark: " + t("draft.sent", lang) + link)
    if draft.overridden_findings:
        head.append(":warning: " + t("draft.overridden", lang))
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=":memo: " + " · ".join(head))]),
        RichTextBlock(
            elements=[RichTextQuoteElement(elements=[RichTextElementParts.Text(text=draft.text)])]
        ),
    ]
    if draft.status != "sent":
        buttons = [
            ButtonElement(
                text=PlainTextObject(text=t("draft.edit", lang)),
                action_id=ActionId.DRAFT_EDIT,
                value=str(draft.id),
            )
        ]
        if department.requires_approval and draft.status == "draft":
            buttons.append(
                ButtonElement(
                    text=PlainTextObject(text=t("draft.approve", lang)),
                    action_id=ActionId.DRAFT_APPROVE,
                    value=f"{draft.id}@{draft_version(draft)}",
                )
            )
        else:
            buttons.append(
                ButtonElement(
                    text=PlainTextObject(text=t("draft.mark_sent", lang)),
                    action_id=ActionId.DRAFT_MARK_SENT,
                    value=str(draft.id),
                )
            )
            if can_send:
                buttons.append(
                    ButtonElement(
                        text=PlainTextObject(text=t("draft.send", lang)),
                        action_id=ActionId.DRAFT_SEND,
                        value=str(draft.id),
                        style="primary",
                    )
                )
        blocks.append(ActionsBlock(block_id=f"draft:{draft.id}", elements=buttons))
    return t("draft.by", lang, author=escape(draft.author_name)), blocks


def sent_modal(*, draft_id: int, lang: Lang) -> View:
    return modal(
        SENT_MODAL_ID,
        metadata=str(draft_id),
        title="draft.sent_title",
        submit="draft.sent_submit",
        lang=lang,
        blocks=[
            InputBlock(
                block_id=URL,
                label=PlainTextObject(text=t("draft.sent_url", lang)),
                element=UrlInputElement(action_id=URL),
            )
        ],
    )
