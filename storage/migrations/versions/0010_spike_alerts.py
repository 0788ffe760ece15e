"""spike alerts

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 03:29:19.875904
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "spike_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("detected_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("spike_alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_spike_alerts_scope_detected_at", ["scope", "detected_at"], unique=False
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.INTEGER(), nullable=True)


def downgrade() -> None:

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.INTEGER(), nullable=False)

    with op.batch_alter_table("spike_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_spike_alerts_scope_detected_at")

    op.drop_table("spike_alerts")
