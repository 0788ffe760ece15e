"""cases.answered_at: when the customer's latest wait for an answer was answered; empty while
they wait. A case reopened by the customer after an answer waits again: its new deadline is
watched (the SLA sweep looked at the first answer only, so such a case never warned or
breached). Cases answered before are answered as of their first answer.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column("answered_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE cases SET answered_at = first_response_at")


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("answered_at")
