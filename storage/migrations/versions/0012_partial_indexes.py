"""partial indexes

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 03:59:09.642909
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Indexes on columns that new cases leave empty become partial: ingest no longer pays for them.
PARTIAL = {
    "ix_cases_owner_status": (["owner_id", "status"], "owner_id IS NOT NULL"),
    "ix_cases_first_response_at": (["first_response_at"], "first_response_at IS NOT NULL"),
    "ix_cases_resolved_at": (["resolved_at"], "resolved_at IS NOT NULL"),
}


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_status_opened_at")
        for name, (columns, where) in PARTIAL.items():
            batch_op.drop_index(name)
            batch_op.create_index(
                name,
                columns,
                unique=False,
                sqlite_where=sa.text(where),
                postgresql_where=sa.text(where),
            )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for name, (columns, _where) in PARTIAL.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False)
        batch_op.create_index("ix_cases_status_opened_at", ["status", "opened_at"], unique=False)
