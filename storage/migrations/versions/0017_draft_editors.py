"""drafts: everyone who wrote or edited the text (none of them may approve it)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("drafts") as batch:
        batch.add_column(sa.Column("editor_ids", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("drafts") as batch:
        batch.alter_column("editor_ids", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("drafts") as batch:
        batch.drop_column("editor_ids")
