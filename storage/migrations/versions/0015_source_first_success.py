"""source cursors: what a source's usual pace is learnt from

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("source_cursors") as batch:
        batch.add_column(
            sa.Column("first_success_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("last_item_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("items_learned", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("source_cursors") as batch:
        batch.alter_column("items_learned", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("source_cursors") as batch:
        batch.drop_column("items_learned")
        batch.drop_column("last_item_at")
        batch.drop_column("first_success_at")
