"""Mentions coming in: the mention model, reading HTML and repairing input, routing,
deadlines, the group-commit ingest, the signed webhook and the polled sources."""
