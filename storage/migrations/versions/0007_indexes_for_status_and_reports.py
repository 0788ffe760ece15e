"""indexes for status and reports

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 03:21:24.916243
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_first_response_at", ["first_response_at"], unique=False)
        batch_op.create_index("ix_cases_owner_status", ["owner_id", "status"], unique=False)
        batch_op.create_index("ix_cases_status_opened_at", ["status", "opened_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_status_opened_at")
        batch_op.drop_index("ix_cases_owner_status")
        batch_op.drop_index("ix_cases_first_response_at")
