"""Drafting replies: the card's Draft reply button, the modal and its template picker, and the
buttons on a draft in the thread (edit, approve, mark as sent, send)."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.cases import crisis, drafts
from bot.cases.state_machine import InvalidTransition
from bot.core.i18n import Lang, t
from bot.core.language_detection import language_of
from bot.core.links import is_web_link
from bot.delivery.replies import ReplyFailed
from bot.render import drafts as views
from bot.render.action_ids import ActionId
from handlers.errors import refusal_shown_at
from handlers.payloads import (
    BadPayload,
    Clicker,
    actor_of,
    clicked_message,
    modal_metadata,
    on_its_card,
    payload_id,
    sealed_modal,
    tell,
)
from handlers.services import Services
from storage.cases import customer_language, get_case, latest_mention

log = logging.getLogger(__name__)


def register(app: AsyncApp) -> None:
    app.action(ActionId.DRAFT)(open_new_draft)
    app.action(ActionId.DRAFT_TEMPLATE)(apply_template)
    app.view(views.MODAL_ID)(save_draft)
    app.action(ActionId.DRAFT_EDIT)(open_draft_for_edit)
    app.action(ActionId.DRAFT_APPROVE)(approve)
    app.action(ActionId.DRAFT_MARK_SENT)(open_sent_modal)
    app.view(views.SENT_MODAL_ID)(record_sent)
    app.action(ActionId.DRAFT_SEND)(send)


async def _modal(
    services: Services,
    *,
    lang: Lang,
    user: str,
    case_id: int,
    draft_id: int | None,
    text: str,
    public: bool | None,
    text_version: str = "",
) -> Any:
    async with services.engine.connect() as conn:
        case = await get_case(conn, case_id=case_id)
        language = await customer_language(conn, case_id=case_id)
        if case is not None and language is None:  # the source did not say: detect it now
            latest = await latest_mention(conn, case_id=case_id)
            language = latest and language_of(
                latest.text, None, among=services.config.team_languages()
            )
    if case is None:
        raise InvalidTransition("not_found")
    view = views.draft_modal(
        case_id=case_id,
        draft_id=draft_id,
        department=services.config.department(case.department),
        source_label=t(f"source.{case.source}", lang),
        author_handle=case.author_handle,
        limit=drafts.PLATFORM_LIMITS.get(case.source),
        text=text,
        public=not case.private if public is None else public,
        lang=lang,
        text_version=text_version,
        customer_language=language,
    )
    # Sealed for the person it is opened for: a submission naming another case (or draft), or
    # sent by someone else, is refused (handlers.sealed).
    return sealed_modal(view, user=user, services=services)


async def open_new_draft(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, services: Services, lang: Lang
) -> None:
    await ack()
    case_id = payload_id(body["actions"][0]["value"])
    clicked = clicked_message(body)
    if not await on_its_card(client, Clicker.of(body), clicked, services, case_id, lang):
        return
    text = await crisis.new_draft_text(
        services.engine, config=services.config, case_id=case_id, agent=actor_of(body).name
    )
    view = await _modal(
        services,
        lang=lang,
        user=body["user"]["id"],
        case_id=case_id,
        draft_id=None,
        text=text,
        public=None,
    )
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def open_draft_for_edit(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, services: Services, lang: Lang
) -> None:
    await ack()
    draft, _case, _department = await _clicked_draft(body, body["actions"][0]["value"], services)
    view = await _modal(
        services,
        lang=lang,
        user=body["user"]["id"],
        case_id=draft.case_id,
        draft_id=draft.id,
        text=draft.text,
        public=draft.public,
    )
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def apply_template(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, services: Services, lang: Lang
) -> None:
    """A template was picked in the modal: fill it in for this customer and agent."""
    await ack()
    view = body["view"]
    meta = _draft_metadata(view, body, services)
    key = body["actions"][0]["selected_option"]["value"]
    async with services.engine.connect() as conn:
        case = await get_case(conn, case_id=meta["case_id"])
    if case is None:
        return
    templates = services.config.department(case.department).templates
    template = next((tpl for tpl in templates if tpl.key == key), None)
    if template is None:  # the case moved to a department without it: the text stays as it is
        return
    text = drafts.fill_template(template.text, case=case, agent_name=actor_of(body).name)
    values = view["state"]["values"]
    public = values[views.VISIBILITY][views.VISIBILITY]["selected_option"]["value"] == "public"
    updated = await _modal(
        services,
        lang=lang,
        user=body["user"]["id"],
        case_id=meta["case_id"],
        draft_id=meta["draft_id"],
        text=text,
        public=public,
        text_version=f"{key}-{view['hash']}"[:200],  # new block id: Slack shows the new text
    )
    await client.views_update(view_id=view["id"], hash=view["hash"], view=updated)


async def save_draft(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], services: Services, lang: Lang
) -> None:
    meta = _draft_metadata(view, body, services)
    text, public, override = views.read_draft_modal(view["state"]["values"])
    block = views.text_block(view["state"]["values"])
    if not text:
        await ack(response_action="errors", errors={block: t("draft.error.empty", lang)})
        return
    if len(text) > views.MAX_TEXT:  # what the modal allows; a payload may claim more
        too_long = t("error.too_long", lang, limit=views.MAX_TEXT, length=len(text))
        await ack(response_action="errors", errors={block: too_long})
        return
    async with services.engine.connect() as conn:
        case = await get_case(conn, case_id=meta["case_id"])
    if case is None:
        await ack(response_action="errors", errors={block: t("error.not_found", lang)})
        return
    result = drafts.check_draft(text, source=case.source, public=public, config=services.config)
    problem = views.draft_problem(result, override=override, lang=lang)
    if problem:
        await ack(response_action="errors", errors={block: problem})
        return
    with refusal_shown_at(block):
        await drafts.save_draft(
            services.engine,
            case_id=case.id,
            actor=actor_of(body),
            text=text,
            public=public,
            overridden=sorted({f.kind for f in result.findings}),
            now=services.clock.now(),
            draft_id=meta["draft_id"],
        )
    await ack()
    services.wake_outbox()


async def _department(services: Services, draft: Any) -> Any:
    async with services.engine.connect() as conn:
        case = await get_case(conn, case_id=draft.case_id)
    assert case is not None
    return case, services.config.department(case.department)


async def _clicked_draft(
    body: dict[str, Any], value: object, services: Services
) -> tuple[Any, Any, Any]:
    """The draft a button on a draft message names (`value`), its case and department: when
    the button was clicked on that draft's own message. A value naming another draft (forged
    or garbled), or a draft's old message (its case moved, and the draft was posted again in
    the new card's thread), changes nothing: the clicker is told where to look."""
    draft = await drafts.get_draft(services.engine, draft_id=payload_id(value))
    case, department = await _department(services, draft)
    if draft.slack_ts is None or clicked_message(body) != (case.slack_channel, draft.slack_ts):
        log.warning("draft %s's button clicked on another message: refused", draft.id)
        raise InvalidTransition("not_this_draft", status=draft.status)
    return draft, case, department


async def approve(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, services: Services, lang: Lang
) -> None:
    await ack()
    # "12@1764230400123": the draft and the version the approver was shown.
    draft_id, _, seen_version = body["actions"][0]["value"].partition("@")
    draft, _case, department = await _clicked_draft(body, draft_id, services)
    await drafts.approve_draft(
        services.engine,
        draft_id=draft.id,
        actor=actor_of(body),
        department=department,
        now=services.clock.now(),
        seen_version=seen_version or None,
    )
    services.wake_outbox()


async def open_sent_modal(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, services: Services, lang: Lang
) -> None:
    await ack()
    draft, _case, _department = await _clicked_draft(body, body["actions"][0]["value"], services)
    view = views.sent_modal(draft_id=draft.id, lang=lang)
    view = sealed_modal(view, user=body["user"]["id"], services=services)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


def _draft_metadata(
    view: dict[str, Any], body: dict[str, Any], services: Services
) -> dict[str, Any]:
    """The draft modal's private_metadata: {"case_id": int, "draft_id": int | None}."""
    raw = modal_metadata(view, body, services)
    try:
        meta = json.loads(raw)
        draft_id = meta.get("draft_id")
        return {
            "case_id": payload_id(meta.get("case_id")),
            "draft_id": None if draft_id is None else payload_id(draft_id),
        }
    except (TypeError, ValueError, AttributeError) as exc:
        raise BadPayload(f"not a draft modal's metadata: {str(raw)[:40]!r}") from exc


async def record_sent(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], services: Services, lang: Lang
) -> None:
    url = (view["state"]["values"][views.URL][views.URL].get("value") or "").strip() or None
    # A javascript: or data: "link" would be clickable on the draft's message.
    if url is not None and not is_web_link(url):
        await ack(
            response_action="errors",
            errors={views.URL: t("draft.error.not_a_link", lang)},
        )
        return
    with refusal_shown_at(views.URL):
        draft_id = payload_id(modal_metadata(view, body, services))
        draft = await drafts.get_draft(services.engine, draft_id=draft_id)
        _case, department = await _department(services, draft)
        await _mark_sent(services, body, draft, url, department)
    await ack()
    services.wake_outbox()


async def send(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, services: Services, lang: Lang
) -> None:
    """Publish the reply on its platform (or through the reply webhook), then record it as sent."""
    await ack()
    draft, case, department = await _clicked_draft(body, body["actions"][0]["value"], services)
    before, draft = await drafts.begin_sending(
        services.engine, draft_id=draft.id, department=department, now=services.clock.now()
    )
    try:
        assert services.replies is not None
        url = await services.replies.publish(case, draft)
    except ReplyFailed as failed:
        await drafts.abort_sending(services.engine, draft_id=draft.id, back_to=before)
        await tell(client, body, t("draft.send_failed", lang, reason=str(failed)))
        return
    except Exception:  # a bug or an answer nobody expected: never leave the draft "sending"
        log.exception("sending draft %s failed", draft.id)
        await drafts.abort_sending(services.engine, draft_id=draft.id, back_to=before)
        await tell(client, body, t("error.failed", lang))
        return
    await _mark_sent(services, body, draft, url, department, sent_by_us=True)
    services.wake_outbox()


async def _mark_sent(
    services: Services,
    body: dict[str, Any],
    draft: Any,
    url: str | None,
    department: Any,
    *,
    sent_by_us: bool = False,
) -> None:
    await drafts.mark_sent(
        services.engine,
        draft_id=draft.id,
        actor=actor_of(body),
        url=url,
        department=department,
        now=services.clock.now(),
        sent_by_us=sent_by_us,
    )
