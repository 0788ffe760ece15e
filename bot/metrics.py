"""Prometheus metrics, served at /metrics."""

from __future__ import annotations

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
OUTBOX_WAITING = Gauge(
    "webcare_outbox_waiting", "Outbox jobs not yet accepted by Slack", registry=REGISTRY
)
