"""slack_budgets: one token bucket per Slack method tier, shared by the replicas

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_budgets",
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tier"),
    )


def downgrade() -> None:
    op.drop_table("slack_budgets")
