"""Which Slack message is each case's card, remembered in memory for the click path.

A case button must act only on its own card (handlers.payloads.on_its_card). Reading the card
from the database on every click costs a click a fifth of its CPU time; the outbox knows the
card the moment Slack accepts it, so it tells this index. Only a match is trusted: anything
else (another replica posted the card, the case moved) is read from the database before a
click is refused, so a stale entry can cost a read but never a wrong answer.
"""

from __future__ import annotations

from collections import OrderedDict

Card = tuple[str | None, str | None]  # (channel, ts)
SIZE = 20_000  # cards remembered; an older one is read from the database when clicked


class CardIndex:
    def __init__(self, size: int = SIZE) -> None:
        self._cards: OrderedDict[int, Card] = OrderedDict()
        self._size = size

    def remember(self, case_id: int, card: Card) -> None:
        self._cards[case_id] = card
        self._cards.move_to_end(case_id)
        if len(self._cards) > self._size:
            self._cards.popitem(last=False)

    def matches(self, case_id: int, clicked: Card) -> bool:
        return self._cards.get(case_id) == clicked
