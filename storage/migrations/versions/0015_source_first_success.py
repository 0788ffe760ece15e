"""source cursors: when the source first worked (to learn its usual pace)

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


def downgrade() -> None:
    with op.batch_alter_table("source_cursors") as batch:
        batch.drop_column("first_success_at")
