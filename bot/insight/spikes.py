"""Spike detection: a department's (or the brand's) mentions in the last hour against the same
hour in past weeks. A surge posts one alert, with what it is about, to the alert channel."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from bot.core.config import SpikeAlerts, WebcareConfig
from bot.core.folding import fold
from storage import schedule, spikes

WINDOW = timedelta(hours=1)
BRAND = "*"
# Words that say nothing about what a surge is about.
STOPWORDS = frozenset(
    [
        "that",
        "this",
        "with",
        "have",
        "from",
        "your",
        "what",
        "when",
        "they",
        "will",
        "would",
        "there",
        "their",
        "been",
        "were",
        "about",
        "which",
        "just",
        "like",
        "jullie",
        "niet",
        "maar",
        "voor",
        "zijn",
        "heeft",
        "hebben",
        "deze",
        "wordt",
        "worden",
        "door",
        "naar",
        "over",
        "omdat",
        "want",
        "alleen",
        "waarom",
        "wanneer",
        "weer",
        "even",
        "gewoon",
        "echt",
        "https",
        "http",
    ]
)
_WORD = re.compile(r"[^\W\d_]{4,}")


def detect(conn: Connection, *, now: datetime, config: WebcareConfig) -> list[int]:
    """Record and queue an alert for every scope that surges now; returns the alert ids."""
    settings = config.spike_alerts
    if settings is None:
        return []
    recent = spikes.mentions_per_department(conn, since=now - WINDOW, until=now)
    history: Counter[str] = Counter()
    for week in range(1, settings.history_weeks + 1):
        shift = timedelta(weeks=week)
        history.update(
            spikes.mentions_per_department(conn, since=now - shift - WINDOW, until=now - shift)
        )
    recent[BRAND] = sum(recent.values())
    history[BRAND] = sum(history.values())
    last = spikes.last_alerts(conn)
    alerts = []
    for scope, count in recent.items():
        baseline = history[scope] / settings.history_weeks
        if not _surges(count, baseline, settings):
            continue
        if scope == BRAND and any(
            _surges(n, history[d] / settings.history_weeks, settings)
            for d, n in recent.items()
            if d != BRAND
        ):
            continue  # the departments' own alerts say it better
        previous = last.get(scope)
        if previous and now - previous < timedelta(minutes=settings.cooldown_minutes):
            continue
        sample = spikes.mention_sample(
            conn, since=now - WINDOW, until=now, department=None if scope == BRAND else scope
        )
        details = {
            "sources": _top(Counter(m.source for m in sample), 3),
            "words": _top(_words(m.text for m in sample), 5),
        }
        alert_id = spikes.record_alert(
            conn, scope=scope, now=now, mentions=count, baseline=baseline, details=details
        )
        schedule.enqueue_alert(conn, channel=settings.channel, alert_id=alert_id, now=now)
        alerts.append(alert_id)
    return alerts


def _surges(count: int, baseline: float, settings: SpikeAlerts) -> bool:
    return count >= settings.min_mentions and count >= settings.factor * max(baseline, 1.0)


def _words(texts: Any) -> Counter[str]:
    words: Counter[str] = Counter()
    for text in texts:
        words.update({w for w in _WORD.findall(fold(text)) if w not in STOPWORDS})
    return words


def _top(counter: Counter[str], n: int) -> list[list[Any]]:
    return [[key, count] for key, count in counter.most_common(n)]
