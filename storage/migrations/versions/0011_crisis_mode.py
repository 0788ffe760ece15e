"""crisis mode

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 03:33:35.620865
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "crisis_modes",
        sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("topic", sa.JSON(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("started_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("started_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("slack_channel", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("slack_ts", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["spike_alerts.id"],
        ),
        sa.PrimaryKeyConstraint("department"),
    )
    with op.batch_alter_table("spike_alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("slack_channel", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
        )
        batch_op.add_column(
            sa.Column("slack_ts", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
        )


def downgrade() -> None:

    with op.batch_alter_table("spike_alerts", schema=None) as batch_op:
        batch_op.drop_column("slack_ts")
        batch_op.drop_column("slack_channel")

    op.drop_table("crisis_modes")
