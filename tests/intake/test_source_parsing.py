"""Whatever a platform sends, a source never crashes on it and never lets markup through: each
item becomes a valid mention object, or is skipped."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.config import parse_config
from bot.intake.markup import plain_text
from bot.intake.mentions import parse_mentions
from bot.intake.sources.bluesky import _item as bluesky_item
from bot.intake.sources.mastodon import Mastodon
from tests.conftest import CONFIG, MENTION_AT

MASTODON = Mastodon(
    parse_config(
        {
            **CONFIG,
            "sources": [
                {
                    "name": "m",
                    "type": "mastodon",
                    "instance": "https://social.example",
                    "access_token": "token-1234567890",
                }
            ],
        },
        source="test.yml",
    ).sources[0]  # type: ignore[arg-type]
)
TAGS = st.sampled_from(["p", "b", "a", "span", "script", "style", "br", "div", "img"])
# Text between tags never holds a bare "<": HTML itself reads "<?…>" or "<!…>" as markup, so
# what follows would be text by the HTML rules, not by any fault of ours.
FRAGMENT = st.recursive(
    st.text(alphabet=st.characters(blacklist_characters="<"), max_size=20),
    lambda inner: (
        st.builds(lambda tag, body: f"<{tag} class='x'>{body}</{tag}>", TAGS, inner)
        | st.builds(lambda a, b: a + b, inner, inner)
    ),
    max_leaves=8,
)
XML_TEXT = st.characters(blacklist_categories=("Cs",))  # a feed is bytes: no lone surrogates
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=10,
)


@given(FRAGMENT)
def test_html_becomes_text_without_tags_or_scripts(fragment: str) -> None:
    text = plain_text(fragment + "<script>alert(1)</script>")
    assert "alert(1)" not in text
    assert "<script" not in text and "class='x'" not in text
    assert text == text.strip() and "  " not in text


def _valid_or_none(item: Any) -> None:
    if item is None:
        return
    parse_mentions(item.mention)  # a source hands on only what the webhook would accept


@settings(max_examples=200)
@given(
    content=FRAGMENT,
    visibility=st.sampled_from(["public", "unlisted", "private", "direct", "odd"]),
    acct=st.text(min_size=0, max_size=30),
    language=st.one_of(st.none(), st.text(max_size=8)),
    created=st.one_of(st.just("2026-11-27T10:00:00.000Z"), st.text(max_size=25)),
    extra=JSON,
)
def test_any_mastodon_status_is_a_mention_or_skipped(
    content: str, visibility: str, acct: str, language: str | None, created: str, extra: Any
) -> None:
    status = {
        "id": "110000000000000001",
        "uri": "https://social.example/users/x/statuses/1",
        "url": "https://social.example/@x/1",
        "created_at": created,
        "content": content,
        "visibility": visibility,
        "language": language,
        "account": {"acct": acct, "display_name": extra, "followers_count": extra},
        "spoiler_text": extra if isinstance(extra, str) else "",
    }
    _valid_or_none(MASTODON._item(status, addressed=True))
    _valid_or_none(MASTODON._item({"type": "mention", "status": status}, addressed=True))
    MASTODON._item({"type": "mention", "status": extra}, addressed=True)  # must not raise


@settings(max_examples=200)
@given(text=st.text(max_size=400), handle=st.text(max_size=40), record=JSON, langs=JSON)
def test_any_bluesky_post_is_a_mention_or_skipped(
    text: str, handle: str, record: Any, langs: Any
) -> None:
    post = {
        "uri": "at://did:plc:x/app.bsky.feed.post/3l1",
        "cid": "bafy",
        "author": {"did": "did:plc:x", "handle": handle},
        "record": {
            "text": text,
            "createdAt": "2026-11-27T10:00:00Z",
            "langs": langs,
            "reply": record,
        },
        "indexedAt": "2026-11-27T10:00:01Z",
    }
    _valid_or_none(bluesky_item(post, addressed=False, published=MENTION_AT))


@settings(max_examples=150)
@given(
    title=st.text(alphabet=XML_TEXT, max_size=200),
    summary=FRAGMENT.filter(lambda f: not any("\ud800" <= c <= "\udfff" for c in f)),
    author=st.text(alphabet=XML_TEXT, max_size=40),
    link=st.one_of(st.just("https://forum.example/t/1"), st.text(alphabet=XML_TEXT, max_size=40)),
)
def test_any_feed_entry_is_a_mention_or_skipped(
    title: str, summary: str, author: str, link: str
) -> None:
    from xml.sax.saxutils import escape

    from bot.intake.sources.feeds import parse_feed

    feed = parse_config(
        {
            **CONFIG,
            "sources": [{"name": "f", "url": "https://forum.example/feed", "language": "nl"}],
        },
        source="test.yml",
    ).sources[0]
    body = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<description>{escape(summary)}</description><author>{escape(author)}</author>"
        "</item></channel></rss>"
    )
    for item in parse_feed(body.encode(), feed=feed, fetched_at=MENTION_AT):  # type: ignore[arg-type]
        parse_mentions(item.mention)
