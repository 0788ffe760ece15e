"""Mastodon: the brand account's mentions and searches become cases, paged and rate-limited as
the API says, and an approved reply is posted in the right conversation and visibility."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.clock import PinnedClock
from bot.core.config import WebcareConfig, parse_config
from bot.intake.sources.poller import PollFailed
from storage.models import Case, Mention
from tests.cases.test_claim import ANNA, _click
from tests.cases.test_drafts import draft_on_card
from tests.conftest import CONFIG, HEALTH_DETAIL, TEST_START, BotUnderTest
from tests.fake_platforms import TOKEN, FakeMastodon
from tests.fake_slack import FakeSlack

NOW = TEST_START


@pytest.fixture
async def mastodon(clock: PinnedClock) -> AsyncIterator[FakeMastodon]:
    async with FakeMastodon(clock).running() as server:
        yield server


def _source(server: FakeMastodon, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "mastodon",
        "type": "mastodon",
        "instance": server.url,
        "access_token": TOKEN,
        "search": ["acme bank", "#acmebank"],
        "timeout_seconds": 2,
        **overrides,
    }


@pytest.fixture
def config(mastodon: FakeMastodon) -> WebcareConfig:
    return parse_config({**CONFIG, "sources": [_source(mastodon)]}, source="test.yml")


async def _mentions(bot: BotUnderTest) -> list[Any]:
    async with bot.runtime.engine.connect() as conn:
        return list(await conn.execute(select(Mention).order_by(Mention.id)))


async def _cases(bot: BotUnderTest) -> list[Any]:
    async with bot.runtime.engine.connect() as conn:
        return list(await conn.execute(select(Case).order_by(Case.id)))


def _customer(server: FakeMastodon, name: str = "karin") -> dict[str, Any]:
    return server.account(name, domain="social.example", followers=1500)


async def test_mentions_dms_and_searches_become_cases_once_each(
    bot: BotUnderTest, slack: FakeSlack, mastodon: FakeMastodon
) -> None:
    karin, piet = _customer(mastodon), mastodon.account("piet")  # piet is on our instance
    public = mastodon.status(
        '<p><span class="h-card"><a href="https://x/@acmebank" class="u-url mention">@<span>'
        "acmebank</span></a></span> mijn pas van Acme Bank doet het niet &amp; ik ben "
        "&lt;boos&gt;</p>"
        "<script>alert(1)</script>",
        account=karin,
        at=NOW - timedelta(minutes=20),
    )
    mastodon.mention(public)
    mastodon.searchable.append(public)  # also found by the search: still one case
    direct = mastodon.status(
        "<p>@acmebank mijn rekeningnummer is privé</p>",
        account=piet,
        at=NOW - timedelta(minutes=10),
        visibility="direct",
    )
    mastodon.mention(direct)
    mastodon.tagged(
        "acmebank",
        mastodon.status(
            "<p>Wat een goede app van <a href='x'>#AcmeBank</a></p>",
            account=mastodon.account("joop", domain="other.example"),
            at=NOW - timedelta(minutes=5),
            spoiler="reclame",
        ),
    )

    result = await bot.runtime.poller.poll("mastodon")
    assert result.stored == 3
    first, second, third = await _mentions(bot)
    assert first.text == "@acmebank mijn pas van Acme Bank doet het niet & ik ben <boos>"
    assert first.author_handle == "karin@social.example"
    assert first.addressed and not first.private and first.url == public["url"]
    assert second.author_handle == f"piet@{mastodon.host}" and second.private
    assert third.text == "[CW: reclame] Wat een goede app van #AcmeBank" and not third.addressed
    cases = await _cases(bot)
    assert [c.reactive for c in cases] == [True, True, False]
    assert [c.private for c in cases] == [False, True, False]

    await bot.deliver()
    card = slack.last_post("CWEBCARE1")
    assert card is not None and "alert(1)" not in str(card["blocks"])
    # Nothing new: each stream reads from its saved min_id (tag and search look back a
    # little, then ask once more to see the end: an empty page), and nothing is stored.
    mastodon.requests.clear()
    assert (await bot.runtime.poller.poll("mastodon")).stored == 0
    assert len(mastodon.requests) <= 6 and all("min_id=" in r for r in mastodon.requests)
    assert sum("notifications" in r for r in mastodon.requests) == 1


async def test_a_burst_bigger_than_a_page_is_read_in_full_following_link_headers(
    bot: BotUnderTest, mastodon: FakeMastodon
) -> None:
    karin = _customer(mastodon)
    mastodon.mention(mastodon.status("<p>eerste</p>", account=karin, at=NOW - timedelta(hours=1)))
    await bot.runtime.poller.poll("mastodon")
    for n in range(95):
        author = mastodon.account(f"klant{n}", domain="social.example")
        at = NOW - timedelta(minutes=50) + timedelta(seconds=n)
        mastodon.mention(mastodon.status(f"<p>storing nummer {n}</p>", account=author, at=at))
    mastodon.requests.clear()
    assert (await bot.runtime.poller.poll("mastodon")).stored == 95
    texts = [m.text for m in await _mentions(bot)]
    assert texts == ["eerste"] + [f"storing nummer {n}" for n in range(95)]
    notification_requests = [r for r in mastodon.requests if "notifications" in r]
    assert len(notification_requests) == 4  # 40 + 40 + 15, then an empty page: the end
    assert "min_id=" in notification_requests[1]  # the rel="prev" link, forwards in time


async def test_the_first_poll_takes_only_the_backfill_window(
    bot: BotUnderTest, mastodon: FakeMastodon
) -> None:
    karin = _customer(mastodon)
    for hours in (72, 50, 30, 2, 1):
        mastodon.mention(
            mastodon.status(
                f"<p>{hours} uur oud</p>", account=karin, at=NOW - timedelta(hours=hours)
            )
        )
    assert (await bot.runtime.poller.poll("mastodon")).stored == 4  # the last 72 hours
    texts = [m.text for m in await _mentions(bot)]
    assert texts == ["50 uur oud", "30 uur oud", "2 uur oud", "1 uur oud"]


async def test_the_rate_limit_is_respected_and_nothing_is_lost(
    bot: BotUnderTest, mastodon: FakeMastodon
) -> None:
    karin = _customer(mastodon)
    mastodon.mention(mastodon.status("<p>begin</p>", account=karin, at=NOW - timedelta(hours=1)))
    await bot.runtime.poller.poll("mastodon")
    for n in range(60):
        author = mastodon.account(f"k{n}", domain="social.example")
        mastodon.mention(
            mastodon.status(
                f"<p>bericht {n}</p>", account=author, at=NOW - timedelta(minutes=59 - n)
            )
        )
    mastodon.rate.remaining = 3  # one page, then the reserve is reached
    mastodon.rate.reset = datetime.now(UTC) + timedelta(minutes=4)
    result = await bot.runtime.poller.poll("mastodon")
    assert result.stored == 40 and result.wait_seconds is not None
    assert 180 < result.wait_seconds <= 240  # until the window resets
    mastodon.rate.remaining = 0  # exhausted: the instance answers 429
    with pytest.raises(PollFailed, match="429") as limited:
        await bot.runtime.poller.poll("mastodon")
    assert limited.value.retry_after is not None and 180 < limited.value.retry_after <= 240
    mastodon.rate.remaining = 300
    assert (await bot.runtime.poller.poll("mastodon")).stored == 20
    assert len(await _mentions(bot)) == 61


async def test_failures_are_clear_and_harm_nothing(
    bot: BotUnderTest, mastodon: FakeMastodon, config: WebcareConfig
) -> None:
    mastodon.fail_with = 503
    with pytest.raises(PollFailed, match="HTTP 503: Something went wrong"):
        await bot.runtime.poller.poll("mastodon")
    mastodon.fail_with = None
    mastodon.delay = 3  # beyond the source's 2 s timeout
    with pytest.raises(PollFailed, match=r"no answer from http://\S+ within 2 s"):
        await bot.runtime.poller.poll("mastodon")
    mastodon.delay = 0
    from bot.intake.sources.poller import build_sources

    wrong = parse_config(
        {**CONFIG, "sources": [_source(mastodon, access_token="not-the-token")]},
        source="test.yml",
    )
    with pytest.raises(PollFailed, match=r"401.*access token"):
        await build_sources(wrong)["mastodon"].fetch(
            bot.runtime.sources_http, _empty(), now=NOW, backfill_from=NOW - timedelta(days=1)
        )
    async with bot.session.get(f"{bot.url}/healthz", headers=HEALTH_DETAIL) as response:
        health = (await response.json())["sources"]["mastodon"]
    assert health["failures_in_a_row"] == 2 and "within 2 s" in health["last_error"]
    status, _ = await bot.post_webhook({**_webhook_mention(), "external_id": "w1"})
    assert status == 202  # the webhook is untouched by a failing source


def _empty() -> Any:
    from bot.intake.sources.base import Cursor

    return Cursor()


def _webhook_mention() -> dict[str, Any]:
    from tests.conftest import mention

    return mention("1")


async def test_items_gained_while_the_bot_was_down_are_caught_up_once(
    bot: BotUnderTest, mastodon: FakeMastodon, config: WebcareConfig, slack: FakeSlack
) -> None:
    from bot.app.runtime import Runtime
    from tests.conftest import make_settings

    karin = _customer(mastodon)
    mastodon.mention(mastodon.status("<p>een</p>", account=karin, at=NOW - timedelta(hours=3)))
    await bot.runtime.poller.poll("mastodon")
    mastodon.mention(mastodon.status("<p>twee</p>", account=karin, at=NOW - timedelta(hours=2)))
    restarted = Runtime(make_settings(slack), config, engine=bot.runtime.engine)
    try:
        assert (await restarted.poller.poll("mastodon")).stored == 1
        assert (await restarted.poller.poll("mastodon")).stored == 0
    finally:
        await restarted.http.close()
        await restarted.sources_http.close()
    assert [m.text for m in await _mentions(bot)] == ["een", "twee"]
    assert len(await _cases(bot)) == 1  # karin's second message joined her case


@pytest.mark.parametrize(
    ("visibility", "public_draft", "posted_as"),
    [
        ("public", True, "public"),
        ("unlisted", True, "unlisted"),
        ("private", True, "direct"),  # followers-only: not to all the brand's followers
        ("direct", False, "direct"),
    ],
)
async def test_send_replies_in_the_conversation_with_matching_visibility(
    bot: BotUnderTest,
    slack: FakeSlack,
    mastodon: FakeMastodon,
    visibility: str,
    public_draft: bool,
    posted_as: str,
) -> None:
    karin = _customer(mastodon)
    first = mastodon.status("<p>hallo</p>", account=karin, at=NOW - timedelta(minutes=30))
    latest = mastodon.status(
        "<p>nog steeds geen antwoord</p>",
        account=karin,
        at=NOW - timedelta(minutes=5),
        visibility=visibility,
    )
    mastodon.mention(first)
    mastodon.mention(latest)
    await bot.runtime.poller.poll("mastodon")
    draft = await draft_on_card(
        bot, slack, "Sorry Karin, we bellen je vandaag.", public=public_draft
    )
    await _click(bot, slack, "draft_send", ANNA, card=draft)

    (posted,) = mastodon.posted
    assert posted["in_reply_to_id"] == latest["id"]  # the customer's latest message
    assert posted["visibility"] == posted_as
    assert posted["status"] == "@karin@social.example Sorry Karin, we bellen je vandaag."
    assert posted["idempotency_key"].startswith("webcare-draft-")
    (case,) = await _cases(bot)
    assert case.first_response_at is not None
    async with bot.runtime.engine.connect() as conn:
        from storage.models import Draft

        (sent,) = list(await conn.execute(select(Draft)))
    assert sent.sent_url is not None
    assert sent.sent_url.startswith(f"https://{mastodon.host}/@acmebank/")


async def test_the_cli_lists_the_account_and_tries_it_without_storing(
    mastodon: FakeMastodon, tmp_path: Any
) -> None:
    import yaml

    from tests.insight.test_reports import _cli

    karin = _customer(mastodon)
    mastodon.mention(mastodon.status("<p>Mijn factuur!</p>", account=karin, at=NOW))
    raw = {**CONFIG, "sources": [{**_source(mastodon), "access_token": "${MASTODON_TOKEN}"}]}
    (tmp_path / "webcare.yml").write_text(yaml.safe_dump(raw))
    (tmp_path / ".env").write_text(f"MASTODON_TOKEN={TOKEN}\n")
    database = f"sqlite+aiosqlite:///{tmp_path / 'webcare.db'}"

    code, out, err = await _cli(tmp_path, database, "sources", "test", "mastodon")
    assert code == 0, err
    assert "-> billing [normal] by Billing: Mijn factuur!" in out
    code, out, _err = await _cli(tmp_path, database, "sources")
    assert code == 0
    assert f"mastodon  mastodon {mastodon.url}/ notifications search acme bank, #acmebank" in out
    assert "never polled" in out and TOKEN not in out


async def test_a_mastodon_post_that_came_through_the_webhook_is_answered_too(
    bot: BotUnderTest, slack: FakeSlack, mastodon: FakeMastodon
) -> None:
    from tests.conftest import mention

    # A listening tool pushed it: the bot knows only its URL; the instance looks it up.
    status = mastodon.status("<p>hallo</p>", account=_customer(mastodon), at=NOW)
    pushed = mention("m1", source="mastodon", url=status["url"], text="hallo")
    assert (await bot.post_webhook(pushed))[0] == 202
    await _click(bot, slack, "draft_send", ANNA, card=await draft_on_card(bot, slack, "Hoi!"))
    (posted,) = mastodon.posted
    assert posted["in_reply_to_id"] == status["id"] and posted["visibility"] == "public"

    # A post the instance cannot find: the agent is told, nothing is marked sent.
    other = mention("m2", source="mastodon", url="https://gone.example/@x/1", text="weg")
    await bot.post_webhook({**other, "author": {"handle": "x@gone.example"}})
    await _click(bot, slack, "draft_send", ANNA, card=await draft_on_card(bot, slack, "Hoi!"))
    await slack.wait_for(lambda: bool(slack.ephemerals))
    assert "cannot answer this message on its platform" in slack.ephemerals[-1]["text"]
    assert len(mastodon.posted) == 1


async def test_a_search_burst_is_read_in_full_and_late_posts_are_still_found(
    bot: BotUnderTest, mastodon: FakeMastodon
) -> None:
    joop = mastodon.account("joop", domain="other.example")
    mastodon.searchable.append(
        mastodon.status("<p>acme bank eerst</p>", account=joop, at=NOW - timedelta(hours=1))
    )
    await bot.runtime.poller.poll("mastodon")
    for n in range(90):  # more than two pages of hits, newest first
        author = mastodon.account(f"z{n}", domain="other.example")
        at = NOW - timedelta(minutes=50) + timedelta(seconds=n)
        mastodon.searchable.append(
            mastodon.status(f"<p>acme bank nummer {n}</p>", account=author, at=at)
        )
    assert (await bot.runtime.poller.poll("mastodon")).stored == 90
    # A post from a slow server arrives with a time (and id) just before the cursor.
    late = mastodon.account("traag", domain="slow.example")
    mastodon.tagged(
        "acmebank",
        mastodon.status("<p>#acmebank te laat</p>", account=late, at=NOW - timedelta(hours=2)),
    )
    await bot.runtime.poller.poll("mastodon")
    mastodon.tagged(
        "acmebank",
        mastodon.status("<p>#acmebank nu</p>", account=late, at=NOW - timedelta(minutes=1)),
    )
    await bot.runtime.poller.poll("mastodon")
    mastodon.tagged(
        "acmebank",
        mastodon.status(
            "<p>#acmebank laat binnen</p>",
            account=mastodon.account("x", domain="far.example"),
            at=NOW - timedelta(minutes=8),  # older than the newest seen, within the overlap
        ),
    )
    await bot.runtime.poller.poll("mastodon")
    texts = [m.text for m in await _mentions(bot)]
    assert len(texts) == len(set(texts)) == 94
    assert "#acmebank laat binnen" in texts and "#acmebank nu" in texts


async def test_a_send_whose_answer_was_lost_is_not_posted_again_later(
    bot: BotUnderTest, slack: FakeSlack, mastodon: FakeMastodon
) -> None:
    mastodon.mention(mastodon.status("<p>hallo</p>", account=_customer(mastodon), at=NOW))
    await bot.runtime.poller.poll("mastodon")
    draft = await draft_on_card(bot, slack, "Hoi Karin, opgelost!")
    mastodon.post_delay = 3  # published, but the answer comes after our 2 s timeout
    await _click(bot, slack, "draft_send", ANNA, card=draft)
    assert slack.ephemerals[-1]["text"].startswith("Sending the reply failed: TimeoutError")
    mastodon.post_delay = 0
    mastodon.forget_idempotency_keys()  # an hour later
    await _click(bot, slack, "draft_send", ANNA, card=draft)
    assert len(mastodon.posted) == 1  # found in the thread, not posted again
    assert any(r.startswith("/api/v1/accounts/verify_credentials") for r in mastodon.requests)
    assert any(
        f"/statuses/{mastodon.posted[0]['in_reply_to_id']}/context" in r for r in mastodon.requests
    )
    async with bot.runtime.engine.connect() as conn:
        from storage.models import Draft

        (sent,) = list(await conn.execute(select(Draft)))
    assert sent.status == "sent" and sent.sent_url.startswith(f"https://{mastodon.host}/@acmebank/")


async def test_short_pages_are_not_the_last_so_no_mention_is_lost(
    bot: BotUnderTest, mastodon: FakeMastodon
) -> None:
    # The instance answers at most 5 a page (a cap, or filtered statuses dropped from it).
    mastodon.page_cap = 5
    piet = mastodon.account("piet")
    direct = mastodon.status(
        "<p>@acmebank mijn pasnummer staat hierin</p>",
        account=piet,
        at=NOW - timedelta(hours=3),
        visibility="direct",
    )
    mastodon.mention(direct)  # the oldest: on the last page of the first poll
    joop = mastodon.account("joop", domain="other.example")
    for n in range(11):
        author = mastodon.account(f"klant{n}", domain="social.example")
        at = NOW - timedelta(hours=2) + timedelta(minutes=n)
        mastodon.mention(mastodon.status(f"<p>@acmebank vraag {n}</p>", account=author, at=at))
        mastodon.searchable.append(
            mastodon.status(f"<p>acme bank zoek {n}</p>", account=joop, at=at)
        )
    assert (await bot.runtime.poller.poll("mastodon")).stored == 23
    texts = {m.text: m for m in await _mentions(bot)}
    assert texts["@acmebank mijn pasnummer staat hierin"].private
    # Later ones behind short pages too, for notifications and search alike.
    for n in range(7):
        author = mastodon.account(f"later{n}", domain="social.example")
        at = NOW - timedelta(minutes=30) + timedelta(minutes=n)
        mastodon.mention(mastodon.status(f"<p>@acmebank later {n}</p>", account=author, at=at))
        mastodon.searchable.append(
            mastodon.status(f"<p>acme bank later {n}</p>", account=joop, at=at)
        )
    assert (await bot.runtime.poller.poll("mastodon")).stored == 14
    assert (await bot.runtime.poller.poll("mastodon")).stored == 0


async def test_a_tag_cursor_moves_past_its_look_back_even_with_short_pages(
    bot: BotUnderTest, mastodon: FakeMastodon
) -> None:
    def tag(text: str, at: datetime) -> None:
        author = mastodon.account(f"a{abs(hash(text)) % 10**6}", domain="other.example")
        mastodon.tagged("acmebank", mastodon.status(f"<p>{text}</p>", account=author, at=at))

    for n in range(25):  # a busy quarter of an hour, all inside the look-back
        tag(f"#acmebank druk {n}", NOW - timedelta(minutes=14) + timedelta(seconds=30 * n))
    assert (await bot.runtime.poller.poll("mastodon")).stored == 25
    key = "tag:acmebank"

    async def cursor() -> int:
        async with bot.runtime.engine.connect() as conn:
            from storage import cursors

            row = await cursors.get_cursor(conn, name="mastodon")
        assert row is not None
        return int(row.state[key])

    before = await cursor()
    mastodon.page_cap = 2  # 10 pages a poll read 20: less than the look-back holds
    tag("#acmebank nieuw", NOW - timedelta(minutes=1))
    stored = 0
    for _ in range(3):
        stored += (await bot.runtime.poller.poll("mastodon")).stored
        assert await cursor() >= before  # never back
    assert stored == 1
    assert await cursor() > before
    assert "#acmebank nieuw" in [m.text for m in await _mentions(bot)]


async def test_a_post_naming_the_brand_is_addressed_whichever_stream_brings_it(
    bot: BotUnderTest, slack: FakeSlack, mastodon: FakeMastodon
) -> None:
    karin = _customer(mastodon)
    named = mastodon.status(
        "<p>@acmebank #acmebank mijn pas is geblokkeerd</p>",
        account=karin,
        at=NOW - timedelta(minutes=20),
        mentions=(mastodon.brand,),
    )
    mastodon.tagged("acmebank", named)  # seen first on the hashtag's timeline
    assert (await bot.runtime.poller.poll("mastodon")).stored == 1
    mastodon.mention(named)  # then as a mention notification: the same post, once
    assert (await bot.runtime.poller.poll("mastodon")).stored == 0
    (stored,) = await _mentions(bot)
    (case,) = await _cases(bot)
    assert stored.addressed and case.reactive


async def test_a_later_sighting_as_a_mention_upgrades_the_stored_one_and_its_card(
    bot: BotUnderTest, slack: FakeSlack, mastodon: FakeMastodon
) -> None:
    from tests.conftest import mention

    karin = _customer(mastodon)
    post = mastodon.status(
        "<p>@acmebank mijn pas is geblokkeerd</p>",
        account=karin,
        at=NOW - timedelta(minutes=20),
        mentions=(mastodon.brand,),
    )
    # A listening tool pushed it first, as a brand mention it could not tell was addressed.
    pushed = mention(
        post["uri"],
        source="mastodon",
        url=post["url"],
        text="@acmebank mijn pas is geblokkeerd",
        author={"handle": "karin@social.example"},
        addressed=False,
        created_at=post["created_at"],
    )
    assert (await bot.post_webhook(pushed))[0] == 202
    await bot.deliver()
    card = slack.last_post("CWEBCARE1")
    assert card is not None and "Proactive" in str(card["blocks"])
    mastodon.mention(post)
    assert (await bot.runtime.poller.poll("mastodon")).stored == 0
    (stored,) = await _mentions(bot)
    (case,) = await _cases(bot)
    assert stored.addressed and case.reactive
    await bot.deliver()
    card = slack.last_post("CWEBCARE1")
    assert card is not None and "Reactive: addressed to us" in str(card["blocks"])


async def test_a_backfilled_mention_is_not_breached_when_its_card_appears(
    bot: BotUnderTest, slack: FakeSlack, mastodon: FakeMastodon
) -> None:
    karin = _customer(mastodon)
    mastodon.mention(
        mastodon.status("<p>@acmebank hallo?</p>", account=karin, at=NOW - timedelta(hours=5))
    )
    assert (await bot.runtime.poller.poll("mastodon")).stored == 1
    (case,) = await _cases(bot)
    assert case.sla_due_at > NOW
    await bot.runtime.scheduler.fire_due()
    await bot.deliver()
    card = slack.last_post("CWEBCARE1")
    assert card is not None and "Posted 5 h before it reached us" in str(card["blocks"])
    assert ":red_circle:" not in str(card["blocks"])


async def test_a_photo_without_words_says_what_its_author_described(
    bot: BotUnderTest, mastodon: FakeMastodon
) -> None:
    """Only a photo, no text: a case whose text counts the attachments and gives the
    descriptions written for those who cannot see them (the count alone said nothing)."""
    photo = mastodon.status("", account=_customer(mastodon), at=NOW - timedelta(minutes=5))
    photo["media_attachments"] = [
        {"type": "image", "description": "Foto: pinautomaat\nmet foutmelding 43"},
        {"type": "image", "description": None},
    ]
    mastodon.mention(photo)
    assert (await bot.runtime.poller.poll("mastodon")).stored == 1
    (stored,) = await _mentions(bot)
    assert stored.text == "[2 attachment(s), no text: Foto: pinautomaat met foutmelding 43]"
