"""cases: when the customer's latest message reached us (what "the customer replied" is judged by)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column("last_received_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    # Cases from before: the latest message's arrival is the best we know.
    op.execute(
        "UPDATE cases SET last_received_at ="
        " (SELECT max(received_at) FROM mentions WHERE mentions.case_id = cases.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("last_received_at")
