"""A draft whose case moves to another department: that department's rules apply to it."""

from __future__ import annotations

import copy

import pytest

from bot.core.config import WebcareConfig, parse_config
from tests.cases.test_drafts import (
    ANNA,
    BRAM,
    _buttons,
    _card,
    _click,
    _draft_message,
    _message_of_draft,
    _open_draft,
    _submit,
)
from tests.cases.test_forward import _submission
from tests.conftest import CONFIG, BotUnderTest
from tests.fake_slack import FakeSlack


@pytest.fixture
def config() -> WebcareConfig:
    """The test config with billing wanting approval too (as outages does)."""
    raw = copy.deepcopy(CONFIG)
    for department in raw["departments"]:
        if department["key"] == "billing":
            department["requires_approval"] = True
    return parse_config(raw, source="test.yml")


async def test_an_approved_draft_moved_to_another_department_is_approved_there_again(
    bot: BotUnderTest, slack: FakeSlack
) -> None:
    """Bram approved the draft in outages; the case moves to billing, which wants approval
    too: billing approves it for itself (it came with outages' approval, ready to send)."""
    await _open_draft(bot, slack, "Storing bij het inloggen", "COUTAGES1")
    await _submit(bot, slack, "We zoeken het uit!")
    await _click(bot, slack, "draft_approve", BRAM, card=_draft_message(slack, "COUTAGES1"))
    await _click(bot, slack, "case_forward", ANNA, card=_card(slack, "COUTAGES1"))
    moved = _submission(slack, mode="department", department="billing")
    assert await bot.submit_view(moved, user=ANNA[0], name=ANNA[1]) == {}
    await bot.deliver()
    reposted = _message_of_draft(slack, "We zoeken het uit!", "CBILLING1")
    assert _buttons(reposted) == ["draft_edit", "draft_approve"]
