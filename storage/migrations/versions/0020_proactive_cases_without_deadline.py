"""cases: a proactive case (a news hit, a hashtag or search hit) has no response deadline unless
a routing rule gives it one, so sla_due_at may be empty

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 19:00:00

Cases stored before keep the deadline they have: which of them a rule would give one to is
known only to the config, not here.
"""

from collections.abc import Sequence

from alembic import op

import storage.types

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.alter_column(
            "sla_due_at", existing_type=storage.types.UTCDateTime(timezone=True), nullable=True
        )


def downgrade() -> None:
    # The old schema needs a deadline on every case: an empty one becomes the case's opening,
    # marked as warned and breached already so the old sweep sends no burst of breach notes.
    op.execute(
        "UPDATE cases SET sla_due_at = opened_at, sla_warn_at = opened_at,"
        " sla_warned_at = coalesce(sla_warned_at, opened_at),"
        " sla_breached_at = coalesce(sla_breached_at, opened_at)"
        " WHERE sla_due_at IS NULL"
    )
    with op.batch_alter_table("cases") as batch:
        batch.alter_column(
            "sla_due_at", existing_type=storage.types.UTCDateTime(timezone=True), nullable=False
        )
