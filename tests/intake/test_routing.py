"""Routing rules: first match wins, keywords ignore case and accents but respect word edges."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.core.config import WebcareConfig, parse_config
from bot.core.folding import fold
from bot.intake.mentions import MentionIn
from bot.intake.routing import Router
from tests.conftest import CONFIG, MENTION_AT


def _mention(text: str, **extra: Any) -> MentionIn:
    return MentionIn.model_validate(
        {
            "source": "x",
            "external_id": "1",
            "text": text,
            "created_at": MENTION_AT,
            "author": {"handle": "anna", "followers": extra.pop("followers", 10)},
            **extra,
        }
    )


def _router(rules: list[dict[str, Any]]) -> Router:
    config: WebcareConfig = parse_config({**CONFIG, "rules": rules}, source="t.yml")
    return Router(config)


def test_keywords_match_whole_words_in_any_case_or_accent() -> None:
    router = _router(
        [{"name": "cafe", "match": {"keywords": ["café", "direct debit"]}, "department": "billing"}]
    )
    assert router.route(_mention("Het CAFE was dicht")).department == "billing"
    assert router.route(_mention("cafés")).department == "webcare"  # another word
    assert router.route(_mention("my Direct\n  Debit failed")).department == "billing"
    assert router.route(_mention("decafe")).department == "webcare"


def test_first_matching_rule_wins_and_says_why() -> None:
    router = _router(
        [
            {
                "name": "VIP",
                "match": {"min_followers": 10000, "addressed": True},
                "department": "outages",
                "priority": "high",
                "tags": ["vip"],
            },
            {"name": "Billing", "match": {"keywords": ["factuur"]}, "department": "billing"},
        ]
    )
    vip = router.route(_mention("factuur!", followers=50_000, addressed=True))
    assert (vip.department, vip.priority, vip.tags, vip.rule) == (
        "outages",
        "high",
        ("vip",),
        "VIP",
    )
    assert vip.reason == "addressed, 50000 followers ≥ 10000"
    quiet = router.route(_mention("factuur!", followers=50_000, addressed=False))
    assert (quiet.department, quiet.reason) == ("billing", 'keyword "factuur"')
    none = router.route(_mention("hallo"))
    assert (none.department, none.rule, none.priority) == ("webcare", None, "normal")


def test_source_language_private_and_regex_conditions() -> None:
    router = _router(
        [
            {
                "name": "NL reviews",
                "match": {"sources": ["review"], "languages": ["nl"]},
                "department": "billing",
            },
            {"name": "DMs", "match": {"private": True}, "department": "outages"},
            {"name": "Orders", "match": {"regex": r"\bORD-\d{6}\b"}, "department": "billing"},
        ]
    )
    assert router.route(_mention("slecht", source="review", language="nl-NL")).rule == "NL reviews"
    assert router.route(_mention("bad", source="review", language="en")).rule is None
    assert router.route(_mention("help", private=True)).rule == "DMs"
    assert router.route(_mention("waar is ord-123456?")).rule == "Orders"
    assert router.route(_mention("ord-12345")).rule is None


@given(
    keyword=st.text(alphabet="abcdeéèëfghijklmnoöpqrstuüvwxyz", min_size=2, max_size=12),
    before=st.sampled_from(["", "Hoi ", "(", "#", "@", "... "]),
    after=st.sampled_from(["", "!", " toch?", ")", ".", "\n"]),
    upper=st.booleans(),
)
def test_a_keyword_always_matches_itself_in_any_case_or_accent(
    keyword: str, before: str, after: str, upper: bool
) -> None:
    router = _router([{"name": "k", "match": {"keywords": [keyword]}, "department": "billing"}])
    written = keyword.upper() if upper else fold(keyword)
    assert router.route(_mention(f"{before}{written}{after}")).department == "billing"
    # Glued to another letter it is another word.
    assert router.route(_mention(f"x{written}x")).department == "webcare"
