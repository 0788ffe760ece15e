"""Bluesky: notifications and searches become cases, read back to the last seen post through
XRPC cursors, the session survives an expired token, and a reply lands in the right thread."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.clock import PinnedClock
from bot.core.config import WebcareConfig, parse_config
from bot.intake.sources.poller import PollFailed
from storage.models import Case, Draft, Mention
from tests.cases.test_claim import ANNA, _click, _resolve
from tests.cases.test_drafts import draft_on_card
from tests.conftest import CONFIG, TEST_START, BotUnderTest
from tests.fake_platforms import FakeBluesky
from tests.fake_slack import FakeSlack
from tests.shown import quoted, texts

NOW = TEST_START


@pytest.fixture
async def bluesky(clock: PinnedClock) -> AsyncIterator[FakeBluesky]:
    async with FakeBluesky(clock).running() as server:
        yield server


@pytest.fixture
def config(bluesky: FakeBluesky) -> WebcareConfig:
    source = {
        "name": "bsky",
        "type": "bluesky",
        "service": bluesky.url,
        "handle": FakeBluesky.HANDLE,
        "app_password": FakeBluesky.PASSWORD,
        "search": ["acme bank"],
        "timeout_seconds": 2,
    }
    return parse_config({**CONFIG, "sources": [source]}, source="test.yml")


async def _mentions(bot: BotUnderTest) -> list[Any]:
    async with bot.runtime.engine.connect() as conn:
        return list(await conn.execute(select(Mention).order_by(Mention.id)))


async def test_mentions_replies_and_search_hits_become_cases_likes_do_not(
    bot: BotUnderTest, slack: FakeSlack, bluesky: FakeBluesky
) -> None:
    ours = bluesky.post(
        "Nieuw: betalen met je horloge", handle=bluesky.HANDLE, at=NOW - timedelta(hours=2)
    )
    reply = bluesky.post(
        "Werkt bij mij niet, <!channel> help",
        handle="karin.bsky.social",
        at=NOW - timedelta(minutes=30),
        reply_to=ours,
    )
    bluesky.notify(reply, "reply")
    bluesky.notify(
        bluesky.post("hoi", handle="joop.bsky.social", at=NOW - timedelta(minutes=20)), "like"
    )
    hit = bluesky.post(
        "Acme Bank heeft de beste app",
        handle="els.bsky.social",
        at=NOW - timedelta(minutes=10),
        langs=("en",),
    )
    bluesky.posts.insert(0, hit)

    assert (await bot.runtime.poller.poll("bsky")).stored == 2
    first, second = await _mentions(bot)
    assert first.text == "Werkt bij mij niet, <!channel> help" and first.addressed
    assert first.author_handle == "karin.bsky.social"
    assert (
        first.url
        == f"https://bsky.app/profile/karin.bsky.social/post/{reply['uri'].rsplit('/', 1)[1]}"
    )
    assert first.in_reply_to == ours["uri"]
    assert second.text == "Acme Bank heeft de beste app" and not second.addressed
    assert second.language == "en"
    await bot.deliver()
    karin_card = next(m for m in slack.posts("CWEBCARE1") if "karin" in str(m["blocks"]))
    assert all("<!channel>" not in shown for shown in texts(karin_card))
    assert quoted(karin_card) == "Werkt bij mij niet, <!channel> help"  # shown literally
    # Nothing new: nothing stored, and only the first page of each listing was read.
    bluesky.requests.clear()
    assert (await bot.runtime.poller.poll("bsky")).stored == 0
    assert len(bluesky.requests) == 2 and bluesky.logins == 1


async def test_listings_are_read_back_to_the_last_seen_post_across_pages_and_restarts(
    bot: BotUnderTest, bluesky: FakeBluesky, config: WebcareConfig, slack: FakeSlack
) -> None:
    from bot.app.runtime import Runtime
    from tests.conftest import make_settings

    bluesky.notify(bluesky.post("begin", handle="a.bsky.social", at=NOW - timedelta(hours=5)))
    await bot.runtime.poller.poll("bsky")
    for n in range(120):  # gained while the bot was down: three pages of 50
        at = NOW - timedelta(hours=4) + timedelta(seconds=n)
        bluesky.notify(bluesky.post(f"bericht {n}", handle=f"k{n}.bsky.social", at=at))
    restarted = Runtime(make_settings(slack), config, engine=bot.runtime.engine)
    try:
        assert (await restarted.poller.poll("bsky")).stored == 120
        assert (await restarted.poller.poll("bsky")).stored == 0
    finally:
        await restarted.http.close()
        await restarted.sources_http.close()
    texts = [m.text for m in await _mentions(bot)]
    assert texts == ["begin"] + [f"bericht {n}" for n in range(120)]


async def test_posts_with_long_ids_that_differ_only_at_the_end_are_two_mentions(
    bot: BotUnderTest, bluesky: FakeBluesky
) -> None:
    """Record keys may be 512 characters: Kim's two posts' addresses alike for 300 of them
    are both stored (cut to 255 characters the second was a duplicate, lost)."""
    for n in (1, 2):
        post = bluesky.post(f"Vraag {n}", handle="kim.bsky.social", at=NOW + timedelta(seconds=n))
        post["uri"] = f"at://did:plc:{'kim':0<24}/app.bsky.feed.post/{'3l' * 150}{n}"
        bluesky.notify(post, "mention")
    assert (await bot.runtime.poller.poll("bsky")).stored == 2
    assert (await bot.runtime.poller.poll("bsky")).stored == 0
    stored = sorted((m.text, len(m.external_id)) for m in await _mentions(bot))
    assert stored == [("Vraag 1", 255), ("Vraag 2", 255)]


async def test_an_expired_session_is_refreshed_and_errors_are_clear(
    bot: BotUnderTest, bluesky: FakeBluesky
) -> None:
    await bot.runtime.poller.poll("bsky")
    bluesky.expire_access()
    bluesky.notify(bluesky.post("nog iets", handle="b.bsky.social", at=NOW - timedelta(minutes=1)))
    assert (await bot.runtime.poller.poll("bsky")).stored == 1
    assert bluesky.refreshes == 1 and bluesky.logins == 1

    bluesky.remaining = 0
    with pytest.raises(PollFailed, match="429") as limited:
        await bot.runtime.poller.poll("bsky")
    assert limited.value.retry_after is not None and 250 < limited.value.retry_after <= 300
    bluesky.remaining = 1000
    bluesky.fail_with = 502
    with pytest.raises(PollFailed, match="HTTP 502: InternalServerError"):
        await bot.runtime.poller.poll("bsky")


async def test_wrong_credentials_say_what_to_check(bluesky: FakeBluesky) -> None:
    import aiohttp

    from bot.intake.sources.base import Cursor
    from bot.intake.sources.poller import build_sources

    source = {
        "name": "bsky",
        "type": "bluesky",
        "service": bluesky.url,
        "handle": FakeBluesky.HANDLE,
        "app_password": "wrong-password",
    }
    config = parse_config({**CONFIG, "sources": [source]}, source="test.yml")
    async with aiohttp.ClientSession() as http:
        with pytest.raises(PollFailed, match=r"401.*app password"):
            await build_sources(config)["bsky"].fetch(
                http, Cursor(), now=NOW, backfill_from=NOW - timedelta(days=1)
            )


async def test_send_replies_in_the_thread_with_root_and_parent_refs(
    bot: BotUnderTest, slack: FakeSlack, bluesky: FakeBluesky
) -> None:
    root = bluesky.post("Onze app is vernieuwd", handle=bluesky.HANDLE, at=NOW - timedelta(hours=3))
    middle = bluesky.post(
        "Mooi!", handle="joop.bsky.social", at=NOW - timedelta(hours=2), reply_to=root
    )
    customer = bluesky.post(
        "Maar inloggen lukt me niet",
        handle="karin.bsky.social",
        at=NOW - timedelta(minutes=5),
        reply_to=middle,
    )
    bluesky.notify(customer, "reply")
    await bot.runtime.poller.poll("bsky")
    await _click(
        bot,
        slack,
        "draft_send",
        ANNA,
        card=await draft_on_card(bot, slack, "Hoi Karin, stuur ons een DM, dan kijken we mee."),
    )

    (created,) = bluesky.created
    record = created["record"]
    assert record["text"] == "Hoi Karin, stuur ons een DM, dan kijken we mee."
    assert record["reply"]["parent"] == {"uri": customer["uri"], "cid": customer["cid"]}
    assert record["reply"]["root"] == {"uri": root["uri"], "cid": root["cid"]}  # the thread's
    async with bot.runtime.engine.connect() as conn:
        (draft,) = list(await conn.execute(select(Draft)))
        (case,) = list(await conn.execute(select(Case)))
    assert draft.sent_url == f"https://bsky.app/profile/{bluesky.HANDLE}/post/{created['rkey']}"
    assert case.first_response_at is not None


async def test_a_private_reply_goes_to_the_customer_as_a_direct_message(
    bot: BotUnderTest, slack: FakeSlack, bluesky: FakeBluesky
) -> None:
    post = bluesky.post("Mijn IBAN is fout", handle="karin.bsky.social", at=NOW)
    bluesky.notify(post)
    await bot.runtime.poller.poll("bsky")
    draft = await draft_on_card(bot, slack, "We sturen je een DM.", public=False)
    bluesky.dm_delay = 3  # sent, but the answer comes after the 2 s timeout
    await _click(bot, slack, "draft_send", ANNA, card=draft)
    assert slack.ephemerals[-1]["text"].startswith("Sending the reply failed")
    bluesky.dm_delay = 0
    await _click(bot, slack, "draft_send", ANNA, card=draft)
    (dm,) = bluesky.dms  # found in the conversation, not sent again
    assert dm["text"] == "We sturen je een DM." and bluesky.created == []
    async with bot.runtime.engine.connect() as conn:
        (sent,) = list(await conn.execute(select(Draft)))
    assert sent.status == "sent" and sent.sent_url == f"https://bsky.app/messages/{dm['convoId']}"


async def test_a_customer_who_takes_no_messages_is_reported_to_the_agent(
    bot: BotUnderTest, slack: FakeSlack, bluesky: FakeBluesky
) -> None:
    post = bluesky.post("Help", handle="karin.bsky.social", at=NOW)
    bluesky.dms_closed.add(post["author"]["did"])
    bluesky.notify(post)
    await bot.runtime.poller.poll("bsky")
    draft = await draft_on_card(bot, slack, "Stuur ons je gegevens in een DM.", public=False)
    await _click(bot, slack, "draft_send", ANNA, card=draft)
    assert "MessagesDisabled" in slack.ephemerals[-1]["text"]
    assert bluesky.dms == []


async def test_a_bluesky_post_that_came_through_the_webhook_is_answered_in_its_thread(
    bot: BotUnderTest, slack: FakeSlack, bluesky: FakeBluesky
) -> None:
    from tests.conftest import mention

    root = bluesky.post("Onze app is vernieuwd", handle=bluesky.HANDLE, at=NOW - timedelta(hours=1))
    post = bluesky.post("Inloggen lukt niet", handle="karin.bsky.social", at=NOW, reply_to=root)
    url = f"https://bsky.app/profile/karin.bsky.social/post/{post['uri'].rsplit('/', 1)[1]}"
    assert (await bot.post_webhook(mention("b1", source="bluesky", url=url)))[0] == 202
    await _click(bot, slack, "draft_send", ANNA, card=await draft_on_card(bot, slack, "Hoi Karin!"))
    (created,) = bluesky.created
    assert created["record"]["reply"]["parent"] == {"uri": post["uri"], "cid": post["cid"]}
    assert created["record"]["reply"]["root"] == {"uri": root["uri"], "cid": root["cid"]}


async def test_a_send_whose_answer_was_lost_is_not_posted_twice(
    bot: BotUnderTest, slack: FakeSlack, bluesky: FakeBluesky
) -> None:
    bluesky.notify(bluesky.post("Help", handle="karin.bsky.social", at=NOW))
    await bot.runtime.poller.poll("bsky")
    draft = await draft_on_card(bot, slack, "Hoi Karin!")
    bluesky.create_delay = 3  # stored, but the answer comes after the 2 s timeout
    await _click(bot, slack, "draft_send", ANNA, card=draft)
    failed = slack.ephemerals[-1]["text"]
    assert failed.startswith("Sending the reply failed: no answer from")
    assert "within 2 s" in failed
    bluesky.create_delay = 0
    await _click(bot, slack, "draft_send", ANNA, card=draft)
    assert len(bluesky.created) == 1  # found under its record key, not posted again
    assert any("com.atproto.repo.getRecord" in r for r in bluesky.requests)
    async with bot.runtime.engine.connect() as conn:
        (sent,) = list(await conn.execute(select(Draft)))
    assert sent.status == "sent" and sent.sent_url.endswith(bluesky.created[0]["rkey"])


async def test_a_burst_cut_short_by_the_rate_limit_is_finished_on_the_next_poll(
    bot: BotUnderTest, bluesky: FakeBluesky
) -> None:
    bluesky.notify(bluesky.post("begin", handle="a.bsky.social", at=NOW - timedelta(hours=5)))
    await bot.runtime.poller.poll("bsky")
    for n in range(180):
        at = NOW - timedelta(hours=4) + timedelta(seconds=n)
        bluesky.notify(bluesky.post(f"bericht {n}", handle=f"k{n}.bsky.social", at=at))
    bluesky.remaining = 4  # two pages, then the reserve is reached
    first = await bot.runtime.poller.poll("bsky")
    assert first.stored == 100 and first.wait_seconds is not None
    bluesky.notify(bluesky.post("nieuw", handle="z.bsky.social", at=NOW))  # arrives meanwhile
    bluesky.remaining = 3000
    assert (await bot.runtime.poller.poll("bsky")).stored == 80  # the rest of the burst
    assert (await bot.runtime.poller.poll("bsky")).stored == 1  # then what came on top
    assert (await bot.runtime.poller.poll("bsky")).stored == 0
    assert len(await _mentions(bot)) == 182


async def test_the_same_canned_message_on_a_new_case_is_sent_again(
    bot: BotUnderTest, slack: FakeSlack, bluesky: FakeBluesky
) -> None:
    from sqlalchemy import update

    bluesky.notify(bluesky.post("Help", handle="karin.bsky.social", at=NOW - timedelta(hours=1)))
    await bot.runtime.poller.poll("bsky")
    draft = await draft_on_card(bot, slack, "Stuur ons een DM met je klantnummer.", public=False)
    await _click(bot, slack, "draft_send", ANNA, card=draft)
    await _resolve(bot, slack, ANNA)
    async with bot.runtime.engine.begin() as conn:  # long resolved: her next post is a new case
        await conn.execute(update(Case).values(resolved_at=NOW - timedelta(days=8)))
    bluesky.notify(bluesky.post("Weer hulp nodig", handle="karin.bsky.social", at=NOW))
    await bot.runtime.poller.poll("bsky")
    again = await draft_on_card(bot, slack, "Stuur ons een DM met je klantnummer.", public=False)
    await _click(bot, slack, "draft_send", ANNA, card=again)
    assert [dm["text"] for dm in bluesky.dms] == ["Stuur ons een DM met je klantnummer."] * 2


async def test_an_app_password_without_chat_access_is_named_as_the_cause(
    bot: BotUnderTest, slack: FakeSlack, bluesky: FakeBluesky
) -> None:
    bluesky.dm_access = False
    bluesky.notify(bluesky.post("Help", handle="karin.bsky.social", at=NOW))
    await bot.runtime.poller.poll("bsky")
    draft = await draft_on_card(bot, slack, "We sturen je een DM.", public=False)
    await _click(bot, slack, "draft_send", ANNA, card=draft)
    assert "Allow access to your direct messages" in slack.ephemerals[-1]["text"]
    assert bluesky.logins == 1 and bluesky.refreshes == 0  # not mistaken for an expired session


async def test_a_page_cursor_the_server_no_longer_takes_is_dropped_not_retried_forever(
    bot: BotUnderTest, bluesky: FakeBluesky
) -> None:
    from sqlalchemy import update

    from storage.models import SourceCursor

    bluesky.notify(bluesky.post("eerst", handle="a.bsky.social", at=NOW - timedelta(hours=2)))
    await bot.runtime.poller.poll("bsky")
    async with bot.runtime.engine.begin() as conn:
        state = (await conn.execute(select(SourceCursor.state))).scalar_one()
        stale = {**state, "notifications#resume": {"cursor": "expired-cursor", "newest": None}}
        await conn.execute(update(SourceCursor).values(state=stale))
    bluesky.notify(bluesky.post("daarna", handle="b.bsky.social", at=NOW - timedelta(hours=1)))
    assert (await bot.runtime.poller.poll("bsky")).stored == 1
    async with bot.runtime.engine.connect() as conn:
        state = (await conn.execute(select(SourceCursor.state))).scalar_one()
    assert "notifications#resume" not in state


async def test_a_search_hit_that_names_or_answers_the_brand_is_addressed(
    bot: BotUnderTest, bluesky: FakeBluesky
) -> None:
    ours = bluesky.post("Acme Bank: onderhoud vannacht", handle=bluesky.HANDLE, at=NOW)
    named = bluesky.post(
        f"@{bluesky.HANDLE} acme bank, mijn pas is geblokkeerd",
        handle="karin.bsky.social",
        at=NOW - timedelta(minutes=30),
    )
    answer = bluesky.post(
        "acme bank, duurt dat lang?", handle="joop.bsky.social", at=NOW, reply_to=ours
    )
    about = bluesky.post("acme bank is prima", handle="els.bsky.social", at=NOW)
    bluesky.posts[:0] = [about, answer, named]  # found by the search only, not notified
    assert (await bot.runtime.poller.poll("bsky")).stored == 3
    addressed = {m.author_handle: m.addressed for m in await _mentions(bot)}
    assert addressed == {
        "karin.bsky.social": True,  # a mention facet with the brand's DID
        "joop.bsky.social": True,  # a reply to the brand's post
        "els.bsky.social": False,
    }


async def test_replies_with_only_a_photo_a_video_or_a_link_are_mentions_with_what_they_hold(
    bot: BotUnderTest, bluesky: FakeBluesky, slack: FakeSlack
) -> None:
    """A customer answers the brand with a photo of the broken card and no words: a case,
    its card saying what came and the description the customer gave it (it was dropped)."""
    ours = bluesky.post("Storing voorbij!", handle=bluesky.HANDLE, at=NOW - timedelta(hours=1))
    photo = {
        "$type": "app.bsky.embed.images",
        "images": [
            {"alt": "Foto van een <!channel> kapotte pas", "image": {}},
            {"alt": "", "image": {}},
        ],
    }
    video = {"$type": "app.bsky.embed.video", "video": {}, "alt": "Filmpje van de app"}
    link = {
        "$type": "app.bsky.embed.external",
        "external": {
            "uri": "https://status.example/acme",
            "title": "Acme: storing",
            "description": "",
        },
    }
    quote = {"$type": "app.bsky.embed.record", "record": {"uri": ours["uri"], "cid": ours["cid"]}}
    for n, embed in enumerate((photo, video, link, quote)):
        post = bluesky.post(
            " ", handle=f"k{n}.bsky.social", at=NOW - timedelta(minutes=9 - n), reply_to=ours
        )
        post["record"]["embed"] = embed
        bluesky.notify(post, "reply")

    assert (await bot.runtime.poller.poll("bsky")).stored == 3  # the bare quote says nothing
    shown = [(m.author_handle, m.text, m.addressed) for m in await _mentions(bot)]
    assert shown == [
        ("k0.bsky.social", "[2 attachment(s), no text: Foto van een <!channel> kapotte pas]", True),
        ("k1.bsky.social", "[1 attachment(s), no text: Filmpje van de app]", True),
        ("k2.bsky.social", "[a link, no text: Acme: storing] https://status.example/acme", True),
    ]
    await bot.deliver()
    card = next(m for m in slack.posts("CWEBCARE1") if "k0.bsky.social" in str(m["blocks"]))
    assert all("<!channel>" not in text for text in texts(card))


async def test_a_post_its_app_dated_impossibly_is_stored_as_bluesky_saw_it(
    bot: BotUnderTest, bluesky: FakeBluesky
) -> None:
    """Apps set createdAt themselves: year 1, a year ahead, or no date at all. Each post is
    stored at the time Bluesky indexed it (a year 1 date failed validation: the mention was
    lost); an ordinary earlier createdAt is kept."""
    dates = {
        "k0": "0001-01-01T00:00:00.000Z",
        "k1": (NOW + timedelta(days=365)).isoformat(),
        "k2": "gisteren",
        "k3": (NOW - timedelta(hours=3)).isoformat(),
    }
    for n, (name, created) in enumerate(dates.items()):
        post = bluesky.post(
            f"Vraag {n}", handle=f"{name}.bsky.social", at=NOW - timedelta(minutes=10 - n)
        )
        post["record"]["createdAt"] = created
        bluesky.notify(post, "mention")

    assert (await bot.runtime.poller.poll("bsky")).stored == 4
    stored = {m.author_handle: m.created_at for m in await _mentions(bot)}
    indexed = [NOW - timedelta(minutes=10 - n) + timedelta(seconds=1) for n in range(3)]
    assert [stored[f"k{n}.bsky.social"] for n in range(3)] == indexed
    assert stored["k3.bsky.social"] == NOW - timedelta(hours=3)
