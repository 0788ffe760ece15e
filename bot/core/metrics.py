"""Prometheus metrics, served at /metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

MENTIONS_RECEIVED = Counter(
    "webcare_mentions_received_total",
    "Mentions accepted for storage",
    ["source"],
    registry=REGISTRY,
)
MENTIONS_DUPLICATE = Counter(
    "webcare_mentions_duplicate_total", "Mentions dropped as already stored", registry=REGISTRY
)
WEBHOOK_REJECTED = Counter(
    "webcare_webhook_rejected_total", "Webhook requests refused", ["status"], registry=REGISTRY
)
INGEST_BATCH = Histogram(
    "webcare_ingest_batch_size",
    "Mentions written per database transaction",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
    registry=REGISTRY,
)
DELIVERED = Counter(
    "webcare_slack_delivered_total", "Outbox jobs Slack accepted", ["kind"], registry=REGISTRY
)
DELIVERY_RETRIES = Counter(
    "webcare_slack_retries_total",
    "Outbox jobs put back for a retry",
    ["reason"],
    registry=REGISTRY,
)
DELIVERY_DEAD = Counter(
    "webcare_slack_dead_total", "Outbox jobs Slack refused for good", registry=REGISTRY
)
RATE_LIMITED = Counter(
    "webcare_slack_ratelimited_total", "429 answers from Slack", ["channel"], registry=REGISTRY
)
RATE_LIMITED_BY_METHOD = Counter(
    "webcare_slack_method_ratelimited_total",
    "429 answers from Slack, per Web API method",
    ["method"],
    registry=REGISTRY,
)
SLACK_BUDGET_WAITS = Counter(
    "webcare_slack_budget_waits_total",
    "Calls that found the shared per-tier Slack budget short (refreshes are put back)",
    ["tier", "refresh"],
    registry=REGISTRY,
)
DATABASE_UP = Gauge(
    "webcare_database_up", "1 while the database answers, 0 during an outage", registry=REGISTRY
)
DATABASE_UP.set(1)
OUTBOX_DEAD = Gauge(
    "webcare_outbox_dead",
    "Messages Slack refused for good, parked until `webcare outbox retry`",
    registry=REGISTRY,
)
OUTBOX_WAITING = Gauge(
    "webcare_outbox_waiting", "Outbox jobs not yet accepted by Slack", registry=REGISTRY
)
OUTBOX_CHANNEL_DEPTH = Gauge(
    "webcare_outbox_channel_waiting",
    "Outbox jobs not yet accepted by Slack, per channel",
    ["channel"],
    registry=REGISTRY,
)
OUTBOX_CHANNEL_OLDEST = Gauge(
    "webcare_outbox_channel_oldest_seconds",
    "Age of the oldest job waiting for a channel",
    ["channel"],
    registry=REGISTRY,
)

_SOURCE = ["source", "type"]
SOURCE_LAST_SUCCESS = Gauge(
    "webcare_source_last_success_timestamp_seconds",
    "When the source was last read without error (unix time)",
    _SOURCE,
    registry=REGISTRY,
)
SOURCE_LAST_ERROR = Gauge(
    "webcare_source_last_error_timestamp_seconds",
    "When the source last failed, while it is failing (unix time; 0 when it works)",
    _SOURCE,
    registry=REGISTRY,
)
SOURCE_FAILURES = Gauge(
    "webcare_source_failures_in_a_row",
    "Failed polls since the last success",
    _SOURCE,
    registry=REGISTRY,
)
SOURCE_ITEMS = Gauge(
    "webcare_source_items_seen",
    "Mentions the source brought in, in all",
    _SOURCE,
    registry=REGISTRY,
)
SOURCE_LAG = Gauge(
    "webcare_source_lag_seconds",
    "Age of the newest item the source brought",
    _SOURCE,
    registry=REGISTRY,
)
SOURCE_DOWN = Gauge(
    "webcare_source_down",
    "1 while the source counts as down (failing or too quiet)",
    _SOURCE,
    registry=REGISTRY,
)


def show_sources(report: dict[str, Any]) -> None:
    """Set the per-source gauges from the health report (sources.health.source_report)."""
    for name, state in report.items():
        labels = (name, state["type"])
        SOURCE_LAST_SUCCESS.labels(*labels).set(_stamp(state["last_success"]))
        SOURCE_LAST_ERROR.labels(*labels).set(_stamp(state["last_error_at"]))
        SOURCE_FAILURES.labels(*labels).set(state["failures_in_a_row"])
        SOURCE_ITEMS.labels(*labels).set(state["items_seen"])
        if state["lag_seconds"] is not None:
            SOURCE_LAG.labels(*labels).set(state["lag_seconds"])
        SOURCE_DOWN.labels(*labels).set(1 if state["down"] else 0)


def _stamp(iso: str | None) -> float:
    return datetime.fromisoformat(iso).timestamp() if iso else 0.0
