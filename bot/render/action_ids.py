"""Every action id a listener answers: the same value in the Block Kit that shows the button and
in the handler that listens for it (handlers/)."""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    # The case card's buttons
    CLAIM = "case_claim"
    UNCLAIM = "case_unclaim"
    TAKE_OVER = "case_take_over"
    REOPEN = "case_reopen"
    FORWARD = "case_forward"
    DRAFT = "case_draft_reply"
    FOLLOW_UP = "case_follow_up"
    RESOLVE = "case_resolve"
    # A forwarded case, in the DM of the person it was forwarded to
    FORWARD_TAKE = "forward_take"
    FORWARD_SEND_BACK = "forward_send_back"
    # "Is the customer's problem solved?", in the owner's DM (bot.cases.state_machine has the
    # same values as the actions they lead to)
    FOLLOW_UP_SOLVED = "follow_up_solved"
    FOLLOW_UP_STILL_OPEN = "follow_up_still_open"
    FOLLOW_UP_REOPEN = "follow_up_reopen"
    # A draft reply in the card's thread, and the template picker of the draft modal
    DRAFT_EDIT = "draft_edit"
    DRAFT_APPROVE = "draft_approve"
    DRAFT_MARK_SENT = "draft_mark_sent"
    DRAFT_SEND = "draft_send"
    DRAFT_TEMPLATE = "template"
    # A spike alert
    CRISIS_START = "crisis_start"
    CRISIS_END = "crisis_end"


FOLLOW_UP_ANSWERS = (
    ActionId.FOLLOW_UP_SOLVED,
    ActionId.FOLLOW_UP_STILL_OPEN,
    ActionId.FOLLOW_UP_REOPEN,
)
