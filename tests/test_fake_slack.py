"""The fake Slack server, driven by the real slack_sdk clients."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fake_slack import BOT_USER_ID, FakeSlack
from tests.fake_slack_blocks import message_errors, view_errors

pytestmark = pytest.mark.asyncio

BUTTON = {"type": "button", "action_id": "claim", "text": {"type": "plain_text", "text": "Claim"}}
CLAIM = {"type": "actions", "elements": [BUTTON]}


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        yield server


@pytest_asyncio.fixture
async def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)


async def test_auth_test_knows_the_bot_token_only(fake: FakeSlack, client: AsyncWebClient) -> None:
    me = await client.auth_test()
    assert (me["ok"], me["user_id"], me["team_id"]) == (True, BOT_USER_ID, "T_FAKE")

    stranger = AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url)
    with pytest.raises(SlackApiError) as failed:
        await stranger.auth_test()
    assert (failed.value.response.status_code, failed.value.response["error"]) == (
        200,
        "invalid_auth",
    )
    assert [c.token for c in fake.calls] == ["xoxb-test", "xoxb-wrong"]
    assert len(fake.calls_to("auth.test")) == 1


async def test_posted_messages_are_stored_with_increasing_ts(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    first = await client.chat_postMessage(channel="C_BILLING", text="New mention", blocks=[CLAIM])
    second = await client.chat_postMessage(channel="C_BILLING", text="Another one")

    assert first["channel"] == "C_BILLING"
    assert first["message"]["blocks"] == [CLAIM]
    assert float(first["ts"]) < float(second["ts"])
    assert [p["text"] for p in fake.posts("C_BILLING")] == ["New mention", "Another one"]
    assert fake.last_post("C_BILLING")["ts"] == second["ts"]
    assert fake.calls_to("chat.postMessage")[0].args["blocks"] == [CLAIM]
    assert fake.posts("C_OTHER") == [] and fake.last_post("C_OTHER") is None


async def test_form_encoded_blocks_are_decoded(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.api_call(
        "chat.postMessage", data={"channel": "C_X", "blocks": json.dumps([CLAIM])}
    )
    assert fake.last_post("C_X")["blocks"] == [CLAIM]


async def test_thread_replies_stay_out_of_the_channel(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    card = await client.chat_postMessage(channel="C_BILLING", text="Case 7")
    await client.chat_postMessage(channel="C_BILLING", text="Follow-up", thread_ts=card["ts"])
    await fake.wait_for_posts(2, channel="C_BILLING", timeout=1)

    assert fake.last_post("C_BILLING")["text"] == "Case 7"
    assert fake.last_post("C_BILLING")["reply_count"] == 1
    assert [m["text"] for m in fake.thread("C_BILLING", card["ts"])] == ["Follow-up"]


async def test_update_replaces_the_stored_message(fake: FakeSlack, client: AsyncWebClient) -> None:
    card = await client.chat_postMessage(channel="C_BILLING", text="Case 7: new")
    updated = await client.chat_update(channel="C_BILLING", ts=card["ts"], text="Claimed by Anna")

    assert updated["ts"] == card["ts"]
    assert [p["text"] for p in fake.posts("C_BILLING")] == ["Claimed by Anna"]
    with pytest.raises(SlackApiError) as failed:
        await client.chat_update(channel="C_BILLING", ts="1.000000", text="?")
    assert failed.value.response["error"] == "message_not_found"


async def test_block_kit_limits_are_enforced(fake: FakeSlack, client: AsyncWebClient) -> None:
    too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    with pytest.raises(SlackApiError) as failed:
        await client.chat_postMessage(channel="C_X", text="t", blocks=[too_long, BUTTON, BUTTON])

    assert failed.value.response["error"] == "invalid_blocks"
    assert fake.block_errors == failed.value.response["errors"]
    assert fake.block_errors == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
        "unknown block type 'button' [json-pointer:/blocks/1/type]",
        "unknown block type 'button' [json-pointer:/blocks/2/type]",
    ]
    assert fake.posts() == []


async def test_duplicate_action_ids_and_long_modal_titles_are_rejected(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    actions = {"type": "actions", "elements": [BUTTON, BUTTON]}
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C_X", text="t", blocks=[actions])
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "x" * 25}, "blocks": []}
    with pytest.raises(SlackApiError):
        await client.views_open(trigger_id="1.2.abc", view=modal)

    assert fake.block_errors == [
        "duplicate action_id 'claim' [json-pointer:/blocks/0/elements/1/action_id]",
        "must be less than 25 characters [json-pointer:/view/title/text]",
    ]


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _button(**fields: str) -> dict:
    return {"type": "actions", "elements": [{**BUTTON, **fields}]}


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([{"type": "divider"}] * 51, ""),
        ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "/0/text/text"),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}], "/0/fields"),
        (
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}],
            "/0/fields/0/text",
        ),
        ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}], "/0/elements"),
        ([{"type": "actions", "elements": [BUTTON] * 26}], "/0/elements"),
        ([_button(text={"type": "plain_text", "text": "b" * 76})], "/0/elements/0/text/text"),
        ([_button(value="v" * 2001)], "/0/elements/0/value"),
        ([_button(url="https://x/" + "u" * 2991)], "/0/elements/0/url"),
        ([_button(action_id="a" * 256)], "/0/elements/0/action_id"),
        ([_section("one") | {"block_id": "b"}, _section("two") | {"block_id": "b"}], "/1/block_id"),
        ([{"type": "carousel"}], "/0/type"),
    ],
)
async def test_message_block_limits(blocks: list[dict], pointer: str) -> None:
    errors = message_errors(blocks)
    assert errors and errors[0].endswith(f"[json-pointer:/blocks{pointer}]")
    assert message_errors([_section("s" * 3000), _button(value="v" * 2000)]) == []


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"submit": {"type": "plain_text", "text": "s" * 25}}, "/view/submit/text"),
        ({"close": {"type": "plain_text", "text": "c" * 25}}, "/view/close/text"),
        ({"private_metadata": "m" * 3001}, "/view/private_metadata"),
        ({"blocks": [{"type": "divider"}] * 101}, "/view/blocks"),
    ],
)
async def test_view_limits(change: dict, pointer: str) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "t" * 24}, "blocks": []}
    assert view_errors(view) == []
    assert view_errors(view | change)[0].endswith(f"[json-pointer:{pointer}]")


async def test_long_text_is_refused(fake: FakeSlack, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as failed:
        await client.chat_postMessage(channel="C_X", text="x" * 40_001)
    assert failed.value.response["error"] == "msg_too_long"
    with pytest.raises(SlackApiError) as failed:
        await client.api_call("chat.postMessage", json={"channel": "C_X"})
    assert failed.value.response["error"] == "no_text"


async def test_rate_limit_is_per_channel() -> None:
    async with FakeSlack(post_rate_per_channel=1, post_burst=1) as fake:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
        await client.chat_postMessage(channel="C_BUSY", text="1")
        with pytest.raises(SlackApiError) as failed:
            await client.chat_postMessage(channel="C_BUSY", text="2")
        await client.chat_postMessage(channel="C_QUIET", text="3")

    response = failed.value.response
    assert (response.status_code, response["error"]) == (429, "ratelimited")
    assert response.headers["Retry-After"] == "1"
    assert fake.ratelimited_count == 1
    assert [p["text"] for p in fake.posts()] == ["1", "3"]


async def test_updates_share_one_app_wide_rate_limit() -> None:
    async with FakeSlack(update_rate_per_minute=6) as fake:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
        one = await client.chat_postMessage(channel="C_A", text="1")
        two = await client.chat_postMessage(channel="C_B", text="2")
        await client.chat_update(channel="C_A", ts=one["ts"], text="1 claimed")
        with pytest.raises(SlackApiError) as failed:
            await client.chat_update(channel="C_B", ts=two["ts"], text="2 claimed")

    assert failed.value.response.status_code == 429
    assert failed.value.response.headers["Retry-After"] == "10"
    assert [p["text"] for p in fake.posts()] == ["1 claimed", "2"]


async def test_injected_failures(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", status=500)
    fake.fail_next("chat.postMessage", status=429, retry_after=7)
    for status in (500, 429):
        with pytest.raises(SlackApiError) as failed:
            await client.chat_postMessage(channel="C_X", text="hi")
        assert failed.value.response.status_code == status
    assert failed.value.response.headers["Retry-After"] == "7"

    fake.set_down(True)
    with pytest.raises(SlackApiError) as failed:
        await client.auth_test()
    assert failed.value.response.status_code == 503
    fake.set_down(False)

    await client.chat_postMessage(channel="C_X", text="hi")
    assert [c.status for c in fake.calls] == [500, 429, 503, 200]
    assert fake.ratelimited_count == 1


async def test_slow_answers_time_the_client_out(fake: FakeSlack) -> None:
    fake.set_delay(30)
    impatient = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url, timeout=0.2)  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):
        await impatient.chat_postMessage(channel="C_X", text="slow")
    assert fake.last_post("C_X")["text"] == "slow"  # Slack took it; only the answer was lost


async def test_channel_membership(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.missing_channels.add("C_GONE")
    fake.unjoined_channels.add("C_NEW")
    for channel, error in (("C_GONE", "channel_not_found"), ("C_NEW", "not_in_channel")):
        with pytest.raises(SlackApiError) as failed:
            await client.chat_postMessage(channel=channel, text="hi")
        assert failed.value.response["error"] == error

    await client.conversations_join(channel="C_NEW")
    await client.chat_postMessage(channel="C_NEW", text="hi")
    assert fake.last_post("C_NEW")["text"] == "hi"


async def test_history_shows_metadata_on_request(fake: FakeSlack, client: AsyncWebClient) -> None:
    metadata = {"event_type": "case_card", "event_payload": {"case_id": 7}}
    card = await client.chat_postMessage(channel="C_BILLING", text="Case 7", metadata=metadata)
    await client.chat_postMessage(channel="C_BILLING", text="reply", thread_ts=card["ts"])
    newer = await client.chat_postMessage(channel="C_BILLING", text="Case 8")

    plain = await client.conversations_history(channel="C_BILLING")
    full = await client.conversations_history(channel="C_BILLING", include_all_metadata=True)
    older = await client.conversations_history(channel="C_BILLING", latest=newer["ts"])

    assert [m["text"] for m in plain["messages"]] == ["Case 8", "Case 7"]
    assert "metadata" not in plain["messages"][1]
    assert full["messages"][1]["metadata"] == metadata
    assert [m["text"] for m in older["messages"]] == ["Case 7"]
    assert plain["has_more"] is False


async def test_views_ephemerals_dms_users_and_permalinks(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Forward"}, "blocks": []}
    opened = await client.views_open(trigger_id="1.2.abc", view=modal)
    await client.views_update(view_id=opened["view"]["id"], view={**modal, "private_metadata": "7"})
    home = {"type": "home", "blocks": [{"type": "divider"}]}
    await client.views_publish(user_id="U_ANNA", view=home)
    await client.chat_postEphemeral(channel="C_X", user="U_ANNA", text="Only you")
    dm = await client.conversations_open(users="U_ANNA")
    fake.users["U_ANNA"] = {"real_name": "Anna", "locale": "nl-NL"}
    anna = await client.users_info(user="U_ANNA")
    card = await client.chat_postMessage(channel="C_X", text="Case 7")
    link = await client.chat_getPermalink(channel="C_X", message_ts=card["ts"])

    assert [v["id"] for v in fake.views[:2]] == [opened["view"]["id"]] * 2
    assert fake.views[1]["private_metadata"] == "7"
    assert fake.home_views["U_ANNA"]["blocks"] == home["blocks"]
    assert fake.ephemerals[0]["user"] == "U_ANNA"
    assert dm["channel"]["id"].startswith("D")
    assert (anna["user"]["real_name"], anna["user"]["tz"]) == ("Anna", "Europe/Amsterdam")
    assert link["permalink"].startswith("https://fake.slack.com/archives/C_X/p")


async def test_unknown_method(fake: FakeSlack, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as failed:
        await client.api_call("chat.teleport")
    assert failed.value.response["error"] == "unknown_method"


async def test_socket_mode_hello_and_envelope_ack(fake: FakeSlack) -> None:
    received: list[dict] = []

    async def remember(client: SocketModeClient, message: dict, raw: str | None) -> None:
        received.append(message)

    async def ack(client: SocketModeClient, request: SocketModeRequest) -> None:
        payload = {"text": f"got {request.payload['command']}"}
        response = SocketModeResponse(envelope_id=request.envelope_id, payload=payload)
        await client.send_socket_mode_response(response)

    web_client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    client = SocketModeClient(app_token=fake.app_token, web_client=web_client)
    client.message_listeners.append(remember)
    client.socket_mode_request_listeners.append(ack)
    try:
        await client.connect()
        await fake.wait_for_socket(timeout=5)
        answer = await fake.send_envelope("slash_commands", {"command": "/webcare"})
    finally:
        await client.close()

    assert received[0]["type"] == "hello"
    assert answer["payload"] == {"text": "got /webcare"}
    assert set(answer) == {"envelope_id", "payload"}
    assert len(fake.calls_to("apps.connections.open")) == 1


async def test_socket_mode_needs_the_app_token(fake: FakeSlack, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as failed:
        await client.apps_connections_open(app_token=fake.bot_token)
    assert failed.value.response["error"] == "invalid_auth"
    async with aiohttp.ClientSession() as session:
        response = await session.get(fake.api_url.replace("/api/", "/link/?ticket=forged"))
        assert response.status == 401
