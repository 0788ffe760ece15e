"""Mentions as the world sends them: stored, never refused for what can be a case, and told
apart from requests that are broken (a clear 400 or 413, one log line, never a 500)."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.intake.mentions import MAX_FOLLOWERS, MAX_TEXT, MentionError, parse_mentions
from bot.intake.repair import repair
from bot.intake.webhook import MAX_BODY
from storage.models import Case, Mention
from tests.conftest import (
    TEST_START,
    BotUnderTest,
    mention,
    slack_signed,
    webhook_signed,
)
from tests.fake_slack import FakeSlack
from tests.shown import shown


async def _stored(bot: BotUnderTest, external_id: str) -> tuple[Any, Any]:
    async with bot.runtime.engine.connect() as conn:
        row = (await conn.execute(select(Mention).where(Mention.external_id == external_id))).one()
        case = (await conn.execute(select(Case).where(Case.id == row.case_id))).one()
    return row, case


def _fields(body: dict[str, Any]) -> list[str]:
    return [n["field"] for n in body.get("normalised", [])]


@pytest.mark.parametrize(
    "link",
    ["mailto:anna@example.nl", "tel:+31201234567", "www.example.nl/anna", "at://did:plc:abc/x"],
)
async def test_an_author_link_that_is_no_web_link_is_kept_as_text(
    bot: BotUnderTest, slack: FakeSlack, link: str
) -> None:
    status, body = await bot.post_webhook(mention("1", author={"handle": "anna", "url": link}))
    assert status == 202 and _fields(body) == ["author.url"]
    assert "kept as text" in body["normalised"][0]["change"]
    _row, case = await _stored(bot, "1")
    assert case.author_url == link
    await bot.deliver()
    card = slack.last_post("CWEBCARE1")
    assert card is not None
    seen = shown(card)
    assert link in seen and f'"url": "{link}"' not in json.dumps(card)  # shown, not linked


async def test_ids_sent_as_numbers_are_stored_as_their_text(bot: BotUnderTest) -> None:
    body: dict[str, Any] = {**mention("x"), "external_id": 123456789012, "in_reply_to": 77}
    status, answer = await bot.post_webhook(body)
    assert status == 202 and _fields(answer) == ["external_id", "in_reply_to"]
    row, _case = await _stored(bot, "123456789012")
    assert row.in_reply_to == "77"
    status, again = await bot.post_webhook(mention("123456789012"))  # the same, as a string
    assert (status, again["duplicates"]) == (202, 1)


async def test_long_ids_that_differ_only_at_the_end_are_two_mentions(bot: BotUnderTest) -> None:
    """Two reviews whose ids are one long URL with a different review number at the end:
    both are stored (cut to 255 characters they were one mention, the second lost), and the
    same id sent again is recognised."""
    page = "https://reviews.example.com/company/acme-bank?" + "utm_source=feed&" * 20
    first, second = f"{page}review=111", f"{page}review=222"
    assert len(first) > 255
    status, answer = await bot.post_webhook(
        [
            mention(first, text="Review one", author={"handle": "kim"}),
            mention(second, text="Review two", author={"handle": "lee"}),
        ]
    )
    assert status == 202 and (answer["accepted"], answer["duplicates"]) == (2, 0)
    assert _fields(answer) == ["external_id", "external_id"]
    status, again = await bot.post_webhook(mention(second, text="Review two"))
    assert (status, again["accepted"], again["duplicates"]) == (202, 0, 1)
    async with bot.runtime.engine.connect() as conn:
        stored = [(m.text, len(m.external_id)) for m in await conn.execute(select(Mention))]
    assert stored == [("Review one", 255), ("Review two", 255)]


async def test_a_link_too_long_once_encoded_is_left_out_and_nothing_refused(
    bot: BotUnderTest,
) -> None:
    """A Ukrainian news article's address: 450 characters as written, over 2,048 once
    percent-encoded. The request was refused whole (its valid first mention too)."""
    url = "https://www.pravda.com.ua/news/2026/11/27/" + "банк-не-працює-клієнти-скаржаться-" * 12
    status, answer = await bot.post_webhook(
        [mention("1"), mention("2", url=url, author={"handle": "olena"})]
    )
    assert status == 202 and answer["accepted"] == 2
    [note] = answer["normalised"]
    assert (note["index"], note["field"]) == (1, "url")
    assert note["change"].endswith("is 2,190 characters percent-encoded (at most 2,048): left out")
    row, _case = await _stored(bot, "2")
    assert row.url is None


async def test_an_author_sent_as_a_string_is_that_customer(bot: BotUnderTest) -> None:
    """`"author": "@anna"`: her mentions are one customer's case, not anonymous ones."""
    for n in ("1", "2"):
        status, answer = await bot.post_webhook({**mention(n), "author": "@Anna"})
        assert status == 202 and _fields(answer) == ["author"]
    first, case = await _stored(bot, "1")
    second, _ = await _stored(bot, "2")
    assert case.author_handle == "anna" and first.case_id == second.case_id


async def test_follower_counts_written_with_thousands_separators_are_read_as_meant(
    bot: BotUnderTest,
) -> None:
    """ "50.000" is fifty thousand in Dutch (it was stored as 50, and an influencer rule for
    50,000 followers did not fire); "12,5K" is twelve and a half thousand."""
    sent = {"1": "50.000", "2": "2.500.000", "3": "1,200", "4": "12,5K", "5": "1 200"}
    status, answer = await bot.post_webhook(
        [mention(n, author={"handle": f"h{n}", "followers": f}) for n, f in sent.items()]
    )
    assert status == 202 and _fields(answer) == ["author.followers"] * 5
    counts = [(await _stored(bot, n))[1].author_followers for n in sent]
    assert counts == [50_000, 2_500_000, 1_200, 12_500, 1_200]


async def test_a_mention_without_text_is_a_case_that_says_to_open_the_original(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    star_only = mention("1", text=None)
    image_only = mention("2", author={"handle": "bram"})
    del image_only["text"]
    status, body = await bot.post_webhook([star_only, image_only])
    assert status == 202 and body["accepted"] == 2
    assert [(n["index"], n["field"]) for n in body["normalised"]] == [(0, "text"), (1, "text")]
    await bot.deliver()
    card = slack.posts("CWEBCARE1")[0]
    assert "(no text: open the original)" in json.dumps(card["blocks"])


async def test_a_long_email_is_stored_up_to_the_documented_limit(bot: BotUnderTest) -> None:
    status, body = await bot.post_webhook(mention("1", text="Beste webcare, " * 10_000))
    assert status == 202 and _fields(body) == ["text"]
    row, _case = await _stored(bot, "1")
    assert len(row.text) == MAX_TEXT and row.text.startswith("Beste webcare")


async def test_dates_counts_and_codes_as_mail_rss_and_scrapers_send_them(bot: BotUnderTest) -> None:
    status, body = await bot.post_webhook(
        [
            mention("1", created_at="Tue, 24 Nov 2026 10:00:00 +0100"),
            mention("2", author={"handle": "b", "followers": "1.2K"}, language=""),
            mention("3", author={"handle": "c", "followers": "veel"}),
            mention("4", author={"handle": "d" * 250, "name": "D" * 300}),
            mention("5", author={"handle": "e", "followers": 2**63}),
        ]
    )
    assert status == 202 and body["accepted"] == 5
    assert _fields(body) == [
        "created_at",
        "author.followers",
        "author.followers",
        "author.handle",
        "author.name",
        "author.followers",
    ]
    row, _case = await _stored(bot, "1")
    assert row.created_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert [(await _stored(bot, n))[1].author_followers for n in "235"] == [1200, None, None]
    row, case = await _stored(bot, "4")
    assert len(case.author_handle) == 200 and len(case.author_name) == 200


async def test_unix_times_in_any_unit_and_zones_written_as_words_are_read_as_meant(
    bot: BotUnderTest,
) -> None:
    """Exports send dates as they have them: JavaScript's milliseconds (as a number or a
    string), microseconds, "… UTC". Each is read as the moment it names, with a note (each
    was "not a usable date", and the mention was dated when it arrived)."""
    written = bot.clock.now().replace(microsecond=0) - timedelta(hours=5)
    seconds = int(written.timestamp())
    dates = {
        "ms": seconds * 1000,
        "ms-text": str(seconds * 1000),
        "us": seconds * 1_000_000,
        "words": written.strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
    status, body = await bot.post_webhook(
        [mention(name, created_at=date) for name, date in dates.items()]
    )
    assert status == 202 and body["accepted"] == 4
    assert [n["change"] for n in body["normalised"]] == [
        "a unix timestamp: read as milliseconds since 1970",
        "a unix timestamp: read as milliseconds since 1970",
        "a unix timestamp: read as microseconds since 1970",
        "the zone written as a word: read as UTC",
    ]
    for name in dates:
        row, _case = await _stored(bot, name)
        assert row.created_at == written, name


@pytest.mark.parametrize("year", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_an_impossible_date_becomes_the_time_of_arrival(bot: BotUnderTest, year: str) -> None:
    status, body = await bot.post_webhook(mention("1", created_at=year))
    assert status == 202 and _fields(body) == ["created_at"]
    row, _case = await _stored(bot, "1")
    assert abs((row.created_at - bot.clock.now()).total_seconds()) < 60


async def test_only_a_mention_that_cannot_be_a_case_is_refused(bot: BotUnderTest) -> None:
    no_id = mention("1")
    del no_id["external_id"]
    status, body = await bot.post_webhook(no_id)
    assert (status, body["field"]) == (400, "external_id")
    status, body = await bot.post_webhook(mention("2", source=""))
    assert (status, body["field"]) == (400, "source")
    status, body = await bot.post_webhook(mention("3", source="tiktok"))
    assert status == 202 and body["normalised"][0]["change"].endswith("stored as other")


async def _raw(
    bot: BotUnderTest, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str]:
    async with bot.session.post(f"{bot.url}{path}", data=body, headers=headers) as response:
        return response.status, await response.text()


def _webhook_headers(body: bytes, **extra: str) -> dict[str, str]:
    return {**webhook_signed(body), **extra}


async def test_broken_requests_get_a_clear_answer_and_one_log_line(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    nested = b"[" * 5_000 + b"]" * 5_000
    status, text = await _raw(bot, "/ingest/webhook", nested, _webhook_headers(nested))
    assert status == 400 and "nested too deeply" in text
    not_gzip = b"this is not gzip at all"
    headers = _webhook_headers(not_gzip, **{"Content-Encoding": "gzip"})
    status, text = await _raw(bot, "/ingest/webhook", not_gzip, headers)
    assert status == 400 and "could not be read" in text
    zipped = gzip.compress(json.dumps(mention("1")).encode())  # a real gzip body still works
    headers = _webhook_headers(json.dumps(mention("1")).encode(), **{"Content-Encoding": "gzip"})
    assert (await _raw(bot, "/ingest/webhook", zipped, headers))[0] == 202

    for body, content_type in [
        (b"payload=%ff%fe%fd", "application/x-www-form-urlencoded"),  # not UTF-8 once decoded
        (b"\xff\xfe{}", "application/json"),
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        (b"{not json", "application/json"),
        (b"payload=%7B%7D", "application/x-www-form-urlencoded; charset=klingon"),
    ]:
        headers = {**slack_signed(body.decode("latin-1")), "Content-Type": content_type}
        status, _text = await _raw(bot, "/slack/events", body, headers)
        assert status in (400, 401), (body, status)
    assert not [r for r in caplog.records if r.exc_info], "no tracebacks"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_chunked_body_one_byte_over_the_limit_is_a_413(bot: BotUnderTest) -> None:
    body = b'{"source": "x", "text": "' + b"x" * (MAX_BODY - 26) + b'"}'
    assert len(body) == MAX_BODY + 1

    async def chunks() -> Any:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]
            await asyncio.sleep(0)

    headers = _webhook_headers(body)
    async with bot.session.post(
        f"{bot.url}/ingest/webhook", data=chunks(), headers=headers
    ) as response:
        assert response.status == 413


# -- property: what senders send is stored, or refused only for want of source or id --------

_TEXTS = st.one_of(st.none(), st.text(max_size=50), st.just("x" * (MAX_TEXT + 10)))
_LINKS = st.one_of(
    st.none(),
    st.sampled_from(["mailto:a@b.nl", "tel:+3120", "www.x.nl", "at://did:plc:x/y", "javascript:1"]),
    st.text(max_size=30),
)
_DATES = st.one_of(
    st.sampled_from(
        [
            "Tue, 01 Dec 2026 10:00:00 +0100",
            "2026-12-01T10:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "yesterday",
            "",
        ]
    ),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.none(),
)
_COUNTS = st.one_of(
    st.none(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(["1.2K", "3M", "1,200", "veel", "", "NaN"]),
    st.floats(allow_nan=True, allow_infinity=True),
)
_IDS = st.one_of(st.integers(min_value=0, max_value=2**70), st.text(min_size=1, max_size=300))


@given(
    external_id=_IDS,
    in_reply_to=st.one_of(st.none(), _IDS),
    text=_TEXTS,
    created_at=_DATES,
    author=st.fixed_dictionaries(
        {},
        optional={
            "handle": st.one_of(st.text(max_size=300), st.integers()),
            "name": st.one_of(st.text(max_size=300), st.none()),
            "followers": _COUNTS,
            "url": _LINKS,
        },
    ),
    language=st.one_of(st.none(), st.sampled_from(["", "nl", "NL-be", "dutch", "?"])),
)
def test_every_real_world_mention_with_a_source_and_an_id_becomes_a_case(
    external_id: Any,
    in_reply_to: Any,
    text: Any,
    created_at: Any,
    author: dict[str, Any],
    language: Any,
) -> None:
    sent = {
        "source": "email",
        "external_id": external_id,
        "in_reply_to": in_reply_to,
        "text": text,
        "created_at": created_at,
        "author": author,
        "language": language,
    }
    if isinstance(external_id, str) and not external_id.strip(" \x00\x1f\t\n\r"):
        return  # blank: no id of its own
    repaired, _notes = repair(json.loads(json.dumps(sent)), now=TEST_START)
    try:
        (stored,) = parse_mentions(repaired)
    except MentionError as exc:  # only for want of an id (blank once cleaned)
        assert exc.field == "external_id", exc.message
        return
    assert 0 < len(stored.external_id) <= 255 and len(stored.text) <= MAX_TEXT
    assert stored.author.followers is None or 0 <= stored.author.followers <= MAX_FOLLOWERS
    assert 1990 <= stored.created_at.year <= 2200 and len(stored.author.handle) <= 200
    assert stored.author.url is None or str(stored.author.url).startswith("http")


async def test_one_customer_however_their_handle_is_spelled_and_no_reversed_names(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    status, body = await bot.post_webhook(
        [
            mention("1", author={"handle": "anna", "name": "\u202eAnna de Vries"}),
            mention("2", author={"handle": "ａｎｎａ"}),  # full-width letters
            mention("3", author={"handle": "an\u200bna"}),  # a zero-width space
            mention("4", author={"handle": "@ANNA\u2060"}),  # a word joiner
        ]
    )
    assert status == 202 and body["case_ids"] == [1]
    await bot.deliver()
    card = slack.posts("CWEBCARE1")[0]
    assert "Anna de Vries" in shown(card) and "\u202e" not in json.dumps(card, ensure_ascii=False)
