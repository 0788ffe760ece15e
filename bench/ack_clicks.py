"""The clicks bench.ack sends: a claim on a card as Slack would post it, signed, and the plan of
a round (one click per fresh card, the rest on a card clicked a moment before)."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bench.ack_servers import (
    SIGNING_SECRET,
)
from tests.conftest import click_payload

AGENTS = 50  # people clicking; a loser is never the click's winner


# -- the clicks ------------------------------------------------------------------------------


def case_of(card: dict[str, Any]) -> int:
    """The case id in a card's claim button."""
    return int(claim_button(card)[1]["value"])


def has_claim_button(message: dict[str, Any]) -> bool:
    blocks = [b for b in message.get("blocks", []) if b["type"] == "actions"]
    return any(el["action_id"] == "case_claim" for b in blocks for el in b["elements"])


def claim_button(card: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    return next(
        (block, el)
        for block in card["blocks"]
        if block["type"] == "actions"
        for el in block["elements"]
        if el["action_id"] == "case_claim"
    )


def click_body(card: dict[str, Any], user: str) -> str:
    """The form body of a claim click on `card` by `user`, as Slack sends it."""
    payload = click_payload(card, "case_claim", user=user, name=f"Agent {user[-2:]}")
    return urlencode({"payload": json.dumps(payload)})


@dataclass
class Plan:
    """One round's clicks in sending order: (case id, form body); `losers` of them lose."""

    clicks: list[tuple[int, str]]
    losers: int


def plan_round(cards: list[dict[str, Any]], clicks: int, rng: random.Random) -> Plan:
    """One click per card, plus `clicks - len(cards)` more on cards clicked shortly before."""
    extra = clicks - len(cards)
    keyed: list[tuple[float, int, str]] = []
    for i, card in enumerate(cards):
        agent = i % AGENTS
        keyed.append((float(i), case_of(card), click_body(card, f"U0AGENT{agent:02d}")))
    for i in sorted(rng.sample(range(len(cards)), extra)):
        other = (i % AGENTS + 1 + rng.randrange(AGENTS - 1)) % AGENTS
        # some arrive while the first click is still in flight, some just after
        key = i + rng.uniform(0.5, 100.0)
        keyed.append((key, case_of(cards[i]), click_body(cards[i], f"U0AGENT{other:02d}")))
    keyed.sort(key=lambda k: k[0])
    return Plan([(case, body) for _key, case, body in keyed], extra)


def signed(body: str) -> dict[str, str]:
    """Slack's headers for a form body, signed now (Bolt rejects signatures over 5 min old)."""
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
