"""cases.answered_at: when the customer's latest wait for an answer was answered; empty while
they wait. A case reopened by the customer after an answer waits again: its new deadline is
watched (the SLA sweep looked at the first answer only, so such a case never warned or
breached). Cases answered before are answered as of their first answer, except one the
customer reopened since without an answer. cases.first_response_due_at: the deadline the first
answer was judged against, kept when a later wait gets a deadline of its own (reports).

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
        batch.add_column(
            sa.Column(
                "first_response_due_at", storage.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.execute(
        "UPDATE cases SET answered_at = first_response_at, first_response_due_at = sla_due_at"
        " WHERE first_response_at IS NOT NULL"
    )
    # Reopened by the customer (the ingest's reopen, by "system") after the first answer and
    # not answered since: they wait (a case reopened by a person keeps its old deadline).
    op.execute(
        "UPDATE cases SET answered_at = NULL WHERE status = 'reopened'"
        " AND first_response_at IS NOT NULL"
        " AND EXISTS (SELECT 1 FROM case_events o WHERE o.case_id = cases.id"
        "   AND o.kind = 'reopen' AND o.actor = 'system' AND o.at > cases.first_response_at)"
        " AND NOT EXISTS (SELECT 1 FROM case_events r WHERE r.case_id = cases.id"
        "   AND r.kind = 'reply_sent' AND r.at > (SELECT max(o.at) FROM case_events o"
        "   WHERE o.case_id = cases.id AND o.kind = 'reopen' AND o.actor = 'system'))"
    )


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("first_response_due_at")
        batch.drop_column("answered_at")
