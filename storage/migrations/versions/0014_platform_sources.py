"""platform sources: cursor state, source-down alerts, reply targets

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("source_cursors") as batch:
        batch.add_column(sa.Column("state", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(
            sa.Column("failing_since", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("down_alert_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("source_cursors") as batch:
        batch.alter_column("state", server_default=None)
    op.create_table(
        "reply_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("source_name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("ref", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id", name="uq_reply_targets_source_external_id"),
    )


def downgrade() -> None:
    op.drop_table("reply_targets")
    with op.batch_alter_table("source_cursors") as batch:
        batch.drop_column("down_alert_at")
        batch.drop_column("failing_since")
        batch.drop_column("state")
