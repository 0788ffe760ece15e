"""RSS and Atom feeds (Google Alerts and friends) against a local server in their real formats:
new entries become cases, old ones and repeats do not, and a broken feed harms nothing else."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.core.config import WebcareConfig, parse_config
from bot.intake.sources.feeds import RssFeed
from bot.intake.sources.poller import PollFailed
from storage import cursors
from storage.models import Mention
from tests.conftest import CONFIG, HEALTH_DETAIL, TEST_START, BotUnderTest
from tests.fake_slack import FakeSlack
from tests.shown import quoted, texts

NOW = TEST_START


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def google_alerts(entries: list[tuple[str, str, datetime]]) -> str:
    """A Google Alerts Atom feed: titles with HTML, links through google.com/url."""
    items = "".join(
        f"""<entry><id>tag:google.com,2013:googlealerts/feed:{ident}</id>
        <title type="html">{title}</title>
        <link href="https://www.google.com/url?rct=j&amp;url=https://forum.example.nl/t/{ident}"/>
        <published>{_rfc3339(at)}</published><updated>{_rfc3339(at)}</updated>
        <content type="html">{title} &lt;script&gt;alert(1)&lt;/script&gt; meer</content>
        <author><name></name></author></entry>"""
        for ident, title, at in entries
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:idx="urn:atom-extension:indexing">
<id>tag:google.com,2005:reader/user/1/state/com.google/alerts/1</id>
<title>Google Alert - acme bank</title>
<link href="https://www.google.com/alerts/feeds/1/2" rel="self"/>
<updated>{_rfc3339(NOW)}</updated>{items}</feed>"""


def rss(entries: list[tuple[str, str, datetime]]) -> str:
    """RSS 2.0 without guids (a forum topic feed)."""
    items = "".join(
        f"""<item><title>{title}</title><link>https://reviews.example.com/r/{ident}</link>
        <description><![CDATA[<p>{title} &amp; <b>meer</b></p>]]></description>
        <pubDate>{at.strftime("%a, %d %b %Y %H:%M:%S +0000")}</pubDate></item>"""
        for ident, title, at in entries
    )
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Reviews</title>
<link>https://reviews.example.com/</link><description>x</description>{items}</channel></rss>"""


class FeedServer:
    def __init__(self) -> None:
        self.bodies: dict[str, str] = {}
        self.status: dict[str, int] = {}
        self.requests: list[dict[str, str]] = []
        self.url = ""
        self.delay = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.requests.append({"feed": name, **request.headers})
        if self.delay:
            await asyncio.sleep(self.delay)
        if status := self.status.get(name):
            return web.Response(status=status, headers={"Retry-After": "120"})
        body = self.bodies[name]
        etag = f'"{hash(body)}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304)
        return web.Response(text=body, content_type="application/atom+xml", headers={"ETag": etag})


async def _redirect_to_itself(request: web.Request) -> web.Response:
    raise web.HTTPFound(str(request.url))


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    app = web.Application()
    app.router.add_get("/feeds/{name}", server.handle)
    app.router.add_get("/loop", _redirect_to_itself)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}/feeds"
    yield server
    await runner.cleanup()


@pytest.fixture
def config(feeds: FeedServer) -> WebcareConfig:
    sources = [
        {"name": "alerts", "url": f"{feeds.url}/alerts", "source": "forum"},
        {
            "name": "reviews",
            "url": f"{feeds.url}/reviews",
            "source": "review",
            "language": "nl",
            "timeout_seconds": 1,
        },
    ]
    return parse_config({**CONFIG, "sources": sources}, source="test.yml")


def _feed(bot: BotUnderTest, name: str) -> Any:
    return next(f for f in bot.runtime.config.sources if f.name == name)


async def _mentions(bot: BotUnderTest) -> list[Any]:
    async with bot.runtime.engine.connect() as conn:
        return list(await conn.execute(select(Mention).order_by(Mention.id)))


async def test_a_google_alert_becomes_a_card_with_clean_text_and_the_real_link(
    bot: BotUnderTest, slack: FakeSlack, feeds: FeedServer
) -> None:
    feeds.bodies["alerts"] = google_alerts(
        [
            ("1", "&lt;b&gt;Acme&lt;/b&gt; bank &amp;amp; storing", NOW - timedelta(minutes=30)),
            ("2", "Acme bank heel oud bericht", NOW - timedelta(days=3)),  # before the backfill
        ]
    )
    result = await bot.runtime.poller.poll(_feed(bot, "alerts"))
    assert result.stored == 1
    (stored,) = await _mentions(bot)
    assert stored.url == "https://forum.example.nl/t/1"
    assert stored.source == "forum" and "<" not in stored.text and "alert(1)" not in stored.text
    assert stored.text.startswith("Acme bank & storing")
    await bot.deliver()
    card = slack.last_post("COUTAGES1")  # "storing" routes to outages
    assert card is not None and "https://forum.example.nl/t/1" in str(card["blocks"])


async def test_nothing_is_ingested_twice_and_a_304_costs_nothing(
    bot: BotUnderTest, feeds: FeedServer
) -> None:
    feeds.bodies["reviews"] = rss([("a", "Slechte service", NOW - timedelta(minutes=10))])
    feed = _feed(bot, "reviews")
    assert (await bot.runtime.poller.poll(feed)).stored == 1
    again = await bot.runtime.poller.poll(feed)
    assert again.not_modified and feeds.requests[-1]["If-None-Match"]
    # The feed gains an entry (and a new ETag): only the new one is stored.
    feeds.bodies["reviews"] = rss(
        [
            ("a", "Slechte service", NOW - timedelta(minutes=10)),
            ("b", "Top geholpen", NOW - timedelta(minutes=1)),
        ]
    )
    assert (await bot.runtime.poller.poll(feed)).stored == 1
    texts = [m.text for m in await _mentions(bot)]
    assert texts == ["Slechte service & meer", "Top geholpen & meer"]
    assert {m.language for m in await _mentions(bot)} == {"nl"}


async def test_a_feed_that_gains_items_while_the_bot_is_down_is_caught_up_after_restart(
    bot: BotUnderTest, feeds: FeedServer, config: WebcareConfig, slack: FakeSlack
) -> None:
    from bot.app.runtime import Runtime
    from tests.conftest import make_settings

    feeds.bodies["reviews"] = rss([("a", "Eerste", NOW - timedelta(hours=2))])
    await bot.runtime.poller.poll(_feed(bot, "reviews"))
    feeds.bodies["reviews"] = rss(
        [("a", "Eerste", NOW - timedelta(hours=2)), ("b", "Tweede", NOW - timedelta(hours=1))]
    )
    restarted = Runtime(make_settings(slack), config, engine=bot.runtime.engine, clock=bot.clock)
    try:
        assert (await restarted.poller.poll(_feed(bot, "reviews"))).stored == 1
    finally:
        await restarted.http.close()
        await restarted.sources_http.close()
    assert [m.text for m in await _mentions(bot)] == ["Eerste & meer", "Tweede & meer"]


async def test_broken_feeds_fail_alone_and_show_in_health(
    bot: BotUnderTest, feeds: FeedServer
) -> None:
    feeds.bodies["alerts"] = "<this is not xml"
    with pytest.raises(PollFailed, match="not a readable feed"):
        await bot.runtime.poller.poll(_feed(bot, "alerts"))
    feeds.status["reviews"] = 429
    with pytest.raises(PollFailed) as limited:
        await bot.runtime.poller.poll(_feed(bot, "reviews"))
    assert limited.value.retry_after == 120
    del feeds.status["reviews"]
    feeds.bodies["reviews"] = rss([("a", "Werkt nog", NOW - timedelta(minutes=5))])
    assert (await bot.runtime.poller.poll(_feed(bot, "reviews"))).stored == 1

    async with bot.session.get(f"{bot.url}/healthz", headers=HEALTH_DETAIL) as response:
        sources = (await response.json())["sources"]
    assert sources["alerts"]["failures_in_a_row"] == 1
    assert "not a readable feed" in sources["alerts"]["last_error"]
    assert sources["reviews"]["failures_in_a_row"] == 0 and sources["reviews"]["items_seen"] == 1


async def test_the_cli_lists_sources_and_tries_one_without_storing(
    feeds: FeedServer, config: WebcareConfig, tmp_path: Any
) -> None:
    import yaml

    from tests.insight.test_reports import _cli

    feeds.bodies["reviews"] = rss([("a", "Slechte factuur", NOW - timedelta(minutes=10))])
    raw = {**CONFIG, "sources": [s.model_dump(mode="json") for s in config.sources]}
    (tmp_path / "webcare.yml").write_text(yaml.safe_dump(raw))
    database = f"sqlite+aiosqlite:///{tmp_path / 'webcare.db'}"

    code, out, err = await _cli(tmp_path, database, "sources", "test", "reviews")
    assert code == 0, err
    assert "-> billing [normal] by Billing: Slechte factuur & meer" in out
    code, out, _err = await _cli(tmp_path, database, "sources")
    assert code == 0 and "reviews" in out and "never polled" in out
    code, _out, err = await _cli(tmp_path, database, "sources", "test", "nope")
    assert code == 2 and "no source 'nope'" in err


async def test_back_dated_entries_are_caught_but_never_ones_before_the_first_backfill(
    bot: BotUnderTest, feeds: FeedServer
) -> None:
    feed = _feed(bot, "reviews")
    ancient = ("old", "Van vorige maand", NOW - timedelta(days=30))
    feeds.bodies["reviews"] = rss([ancient, ("a", "Vandaag", NOW - timedelta(minutes=5))])
    assert (await bot.runtime.poller.poll(feed)).stored == 1
    # A review site publishes one dated yesterday, after we saw today's.
    feeds.bodies["reviews"] = rss(
        [
            ancient,
            ("y", "Gisteren geschreven", NOW - timedelta(hours=20)),
            ("a", "Vandaag", NOW - timedelta(minutes=5)),
        ]
    )
    assert (await bot.runtime.poller.poll(feed)).stored == 1
    texts = [m.text for m in await _mentions(bot)]
    assert texts == ["Vandaag & meer", "Gisteren geschreven & meer"]


async def test_undated_entries_do_not_move_the_cursor(bot: BotUnderTest, feeds: FeedServer) -> None:
    body = rss([("a", "Met datum", NOW - timedelta(hours=3))])
    undated = "<item><title>Zonder datum</title><link>https://reviews.example.com/r/u</link></item>"
    feeds.bodies["reviews"] = body.replace("</item>", "</item>" + undated, 1)
    assert (await bot.runtime.poller.poll(_feed(bot, "reviews"))).stored == 2
    async with bot.runtime.engine.connect() as conn:
        from storage.models import SourceCursor

        cursor = (await conn.execute(select(SourceCursor))).one()
    assert cursor.newest_seen_at == NOW - timedelta(hours=3)


async def test_an_entry_dated_in_the_future_does_not_silence_the_feed(
    bot: BotUnderTest, feeds: FeedServer
) -> None:
    """A review with a typo in its year (2027) is stored as fetched, and the next real review
    still comes in (the cursor had jumped a year ahead and skipped everything until then)."""
    feed = _feed(bot, "reviews")
    typo = ("typo", "Jaartal verkeerd", NOW + timedelta(days=365))
    feeds.bodies["reviews"] = rss([("a", "Vandaag", NOW - timedelta(minutes=30)), typo])
    assert (await bot.runtime.poller.poll(feed)).stored == 2
    feeds.bodies["reviews"] = rss(
        [("a", "Vandaag", NOW - timedelta(minutes=30)), typo, ("b", "Net", NOW)]
    )
    assert (await bot.runtime.poller.poll(feed)).stored == 1
    stored = {m.text: m.created_at for m in await _mentions(bot)}
    assert list(stored) == ["Vandaag & meer", "Jaartal verkeerd & meer", "Net & meer"]
    assert stored["Jaartal verkeerd & meer"] < NOW + timedelta(minutes=5)


async def test_reviews_without_ids_that_link_to_one_page_are_each_a_mention(
    bot: BotUnderTest, feeds: FeedServer
) -> None:
    """A review site whose items have no guid and all link to the company's page; one with a
    page of its own keeps that page as its id, as before (it is not taken in again)."""
    feed = _feed(bot, "reviews")
    reviews = rss(
        [
            ("kim", "Kim: trage app", NOW - timedelta(hours=3)),
            ("lee", "Lee: pas geblokkeerd", NOW - timedelta(hours=2)),
            ("own", "Eigen pagina", NOW - timedelta(hours=1)),
        ]
    )
    feeds.bodies["reviews"] = re.sub(r"/r/(kim|lee)</link>", "/acme-bank</link>", reviews)
    assert "/r/kim" not in feeds.bodies["reviews"]
    assert (await bot.runtime.poller.poll(feed)).stored == 3
    feeds.bodies["reviews"] += " "  # a new ETag: read again, and nothing is new
    assert (await bot.runtime.poller.poll(feed)).stored == 0
    ids = {m.text: m.external_id for m in await _mentions(bot)}
    assert sorted(ids) == [
        "Eigen pagina & meer",
        "Kim: trage app & meer",
        "Lee: pas geblokkeerd & meer",
    ]
    assert ids["Eigen pagina & meer"] == "reviews:https://reviews.example.com/r/own"


async def test_an_entry_dated_1970_is_stored_as_fetched(
    bot: BotUnderTest, feeds: FeedServer
) -> None:
    """A review site that dates a review at the epoch (its date field was empty): the review
    is a case, shown as fetched, and the next real review still comes in."""
    feeds.bodies["reviews"] = rss([("zero", "Geen datum", datetime(1970, 1, 1, tzinfo=UTC))])
    assert (await bot.runtime.poller.poll("reviews")).stored == 1
    feeds.bodies["reviews"] = rss(
        [("zero", "Geen datum", datetime(1970, 1, 1, tzinfo=UTC)), ("b", "Net", NOW)]
    )
    assert (await bot.runtime.poller.poll("reviews")).stored == 1
    undated, latest = await _mentions(bot)
    assert (undated.text, latest.text) == ("Geen datum & meer", "Net & meer")
    assert abs(undated.created_at - NOW) < timedelta(minutes=5)  # when it came in, not 1970


async def test_a_feed_silenced_by_a_future_date_before_the_fix_speaks_again(
    bot: BotUnderTest, feeds: FeedServer
) -> None:
    """Its cursor was saved a year ahead by a mistyped entry: the next real entry is stored."""
    async with bot.runtime.engine.begin() as conn:
        await cursors.save_success(
            conn,
            name="reviews",
            now=NOW - timedelta(hours=1),
            etag=None,
            last_modified=None,
            newest_seen_at=NOW + timedelta(days=365),
            items=1,
            state={"floor": (NOW - timedelta(days=1)).isoformat()},
        )
    feeds.bodies["reviews"] = rss([("b", "Net", NOW - timedelta(minutes=5))])
    assert (await bot.runtime.poller.poll("reviews")).stored == 1
    assert [m.text for m in await _mentions(bot)] == ["Net & meer"]


async def test_long_entry_ids_that_differ_only_at_the_end_are_two_mentions(
    bot: BotUnderTest, feeds: FeedServer
) -> None:
    """A review site whose guids are one long tracking URL with the review number last."""
    page = "https://reviews.example.com/acme-bank?" + "utm_source=rss&" * 20
    body = rss(
        [
            ("kim", "Kim: trage app", NOW - timedelta(hours=2)),
            ("lee", "Lee: pas geblokkeerd", NOW - timedelta(hours=1)),
        ]
    )
    for name in ("kim", "lee"):
        guid = f"<guid>{page}review={name}</guid>".replace("&", "&amp;")
        body = body.replace(f"/r/{name}</link>", f"/r/{name}</link>{guid}")
    feeds.bodies["reviews"] = body
    assert (await bot.runtime.poller.poll("reviews")).stored == 2
    feeds.bodies["reviews"] += " "  # a new ETag: read again, and nothing is new
    assert (await bot.runtime.poller.poll("reviews")).stored == 0
    stored = [(m.text, len(m.external_id)) for m in await _mentions(bot)]
    assert stored == [("Kim: trage app & meer", 255), ("Lee: pas geblokkeerd & meer", 255)]


async def test_an_entry_whose_link_is_too_long_once_encoded_is_stored_without_it(
    bot: BotUnderTest, feeds: FeedServer
) -> None:
    """A Ukrainian news article: 450 characters as written, over 2,048 percent-encoded."""
    path = "банк-не-працює-клієнти-скаржаться-" * 12
    feeds.bodies["reviews"] = rss([("1", "AcmeBank не працює", NOW)]).replace(
        "https://reviews.example.com/r/1", f"https://www.pravda.com.ua/news/{path}"
    )
    assert (await bot.runtime.poller.poll("reviews")).stored == 1
    [stored] = await _mentions(bot)
    assert (stored.text, stored.url) == ("AcmeBank не працює & meer", None)


async def test_a_feed_that_errors_or_hangs_fails_with_the_reason_and_is_read_afterwards(
    bot: BotUnderTest, feeds: FeedServer
) -> None:
    feed = _feed(bot, "reviews")
    feeds.status["reviews"] = 503
    with pytest.raises(PollFailed, match="HTTP 503"):
        await bot.runtime.poller.poll(feed)
    del feeds.status["reviews"]
    feeds.bodies["reviews"] = rss([("a", "Eindelijk", NOW - timedelta(minutes=1))])
    feeds.delay = 2  # longer than the feed's 1 s timeout
    with pytest.raises(PollFailed) as failed:
        await bot.runtime.poller.poll(feed)
    # says what timed out and after how long (it read "TimeoutError: .")
    assert str(failed.value).startswith("no answer from http://")
    assert str(failed.value).endswith(" within 1 s")
    feeds.delay = 0
    assert (await bot.runtime.poller.poll(feed)).stored == 1


async def test_a_feeds_secret_key_never_shows_in_errors(
    bot: BotUnderTest, feeds: FeedServer
) -> None:
    from bot.core.config.sources import FeedSource

    base = feeds.url.removesuffix("/feeds")
    private = FeedSource(name="private", url=f"{base}/loop?apikey=SECRET123")  # type: ignore[arg-type]
    bot.runtime.poller.sources["private"] = RssFeed(private)
    with pytest.raises(PollFailed) as failed:
        await bot.runtime.poller.poll("private")
    assert "TooManyRedirects" in str(failed.value) and "SECRET123" not in str(failed.value)
    async with bot.runtime.engine.connect() as conn:
        from storage.models import SourceCursor

        stored = (await conn.execute(select(SourceCursor.last_error))).scalar_one()
    assert "SECRET123" not in stored and "/loop" not in stored and "127.0.0.1" in stored


async def _case_rows(bot: BotUnderTest) -> list[Any]:
    from storage.models import Case

    async with bot.runtime.engine.connect() as conn:
        return list(await conn.execute(select(Case).order_by(Case.id)))


async def test_news_articles_from_one_site_are_a_case_each_a_named_poster_is_one_customer(
    bot: BotUnderTest, feeds: FeedServer
) -> None:
    feeds.bodies["reviews"] = rss(
        [
            ("1", "Acme Bank verhoogt rente", NOW - timedelta(hours=3)),
            ("2", "Storing bij Acme Bank", NOW - timedelta(hours=2)),
        ]
    )
    feeds.bodies["alerts"] = google_alerts([("a1", "Acme Bank in het nieuws", NOW)])
    await bot.runtime.poller.poll("reviews")
    await bot.runtime.poller.poll("alerts")
    feeds.bodies["reviews"] = rss(
        [
            ("1", "Acme Bank verhoogt rente", NOW - timedelta(hours=3)),
            ("2", "Storing bij Acme Bank", NOW - timedelta(hours=2)),
            ("3", "Acme Bank opent kantoor", NOW - timedelta(hours=1)),
        ]
    )
    await bot.runtime.poller.poll("reviews")
    cases = await _case_rows(bot)
    # Three articles of one news site, one alert: four cases, none "written again".
    assert [c.mention_count for c in cases] == [1, 1, 1, 1]
    assert [c.author_name for c in cases].count("reviews.example.com") == 3

    signed = "".join(
        f"""<item><title>{title}</title><link>https://forum.example.nl/t/{n}</link>
        <dc:creator>Jan Jansen</dc:creator><pubDate>{NOW.strftime("%a, %d %b %Y %H:%M:%S +0000")}
        </pubDate></item>"""
        for n, title in (("9", "Mijn pas van Acme Bank"), ("10", "Nog steeds geen pas"))
    )
    feeds.bodies["reviews"] = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>Forum</title><link>https://forum.example.nl/</link>{signed}"
        "</channel></rss>"
    )
    await bot.runtime.poller.poll("reviews")
    cases = await _case_rows(bot)
    assert len(cases) == 5 and cases[-1].author_handle == "jan jansen"
    assert cases[-1].mention_count == 2  # the poster wrote again: one customer, one case


async def test_plain_text_titles_keep_what_looks_like_a_tag(
    bot: BotUnderTest, feeds: FeedServer, slack: FakeSlack
) -> None:
    """A title the feed marks as plain text is text: "<Plus>" is the name of an account, not a
    tag to strip (read as HTML the question lost its subject); an HTML title is still made
    readable, and either is shown literally on the card."""
    entries = [
        ("plain", "text", "Waarom kost &lt;Plus&gt; nu €5? &lt;!channel&gt;"),
        ("html", "html", "Waarom kost &lt;b&gt;Plus&lt;/b&gt; nu &amp;euro;5?"),
    ]
    feeds.bodies["alerts"] = (
        f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:forum</id><title>Forum</title>
<updated>{_rfc3339(NOW)}</updated>"""
        + "".join(
            f"""<entry><id>urn:forum:{ident}</id><title type="{kind}">{title}</title>
        <link href="https://forum.example.nl/t/{ident}"/><updated>{_rfc3339(NOW)}</updated>
        </entry>"""
            for ident, kind, title in entries
        )
        + "</feed>"
    )
    assert (await bot.runtime.poller.poll(_feed(bot, "alerts"))).stored == 2
    assert [m.text for m in await _mentions(bot)] == [
        "Waarom kost <Plus> nu €5? <!channel>",
        "Waarom kost Plus nu €5?",
    ]
    await bot.deliver()
    card = next(p for p in slack.posts("CWEBCARE1") if "/t/plain" in str(p["blocks"]))
    assert quoted(card) == "Waarom kost <Plus> nu €5? <!channel>"  # shown literally
    assert all("<!channel>" not in text for text in texts(card))
