"""sla warnings

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 03:23:25.541345
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sla_warn_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("sla_warned_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("sla_breached_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_cases_status_sla_warn_at", ["status", "sla_warn_at"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_status_sla_warn_at")
        batch_op.drop_column("sla_breached_at")
        batch_op.drop_column("sla_warned_at")
        batch_op.drop_column("sla_warn_at")
