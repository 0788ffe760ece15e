"""case owner and outbox notes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 02:32:14.488024
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("owner_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("owner_name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True)
        )
        batch_op.add_column(
            sa.Column("claimed_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("resolved_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("payload")

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("resolved_at")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("owner_name")
        batch_op.drop_column("owner_id")
