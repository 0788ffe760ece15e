"""outbox: the rank of jobs that may go before older ones (crisis, urgent and high new cards),
with partial indexes finding them and waiting thread lines without reading the whole backlog;
cases: threading finds a customer's recently resolved case through a partial index of resolved
cases (open ones have theirs), so a new case no longer costs an entry in ix_cases_source_author

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in storage.models (frozen here: a migration describes the schema of its day).
_JUMPER = "status = 'pending' AND rank IS NOT NULL"
_THREAD_LINE = (
    "status = 'pending' AND kind IN ('post_mention', 'post_note', 'post_draft', 'update_card')"
)
_RESOLVED = "status = 'resolved'"


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("rank", sa.SmallInteger(), nullable=True))
    # Jobs not sent yet (a dead one may be sent again) get the rank they would get today.
    op.execute("UPDATE outbox SET rank = 0 WHERE kind = 'post_crisis' AND status != 'sent'")
    op.execute(
        "UPDATE outbox SET rank = CASE"
        " (SELECT priority FROM cases WHERE cases.id = outbox.case_id)"
        " WHEN 'urgent' THEN 1 WHEN 'high' THEN 2 END"
        " WHERE kind = 'post_card' AND status != 'sent'"
    )
    op.create_index(
        "ix_outbox_jumpers",
        "outbox",
        ["channel", "rank", "id"],
        sqlite_where=sa.text(_JUMPER),
        postgresql_where=sa.text(_JUMPER),
    )
    op.create_index(
        "ix_outbox_thread_lines",
        "outbox",
        ["channel", "id"],
        sqlite_where=sa.text(_THREAD_LINE),
        postgresql_where=sa.text(_THREAD_LINE),
    )
    op.create_index(
        "ix_cases_resolved_author",
        "cases",
        ["source", "author_handle"],
        sqlite_where=sa.text(_RESOLVED),
        postgresql_where=sa.text(_RESOLVED),
    )
    op.drop_index("ix_cases_source_author", "cases")


def downgrade() -> None:
    op.create_index("ix_cases_source_author", "cases", ["source", "author_handle"])
    op.drop_index("ix_cases_resolved_author", "cases")
    op.drop_index("ix_outbox_thread_lines", "outbox")
    op.drop_index("ix_outbox_jumpers", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("rank")
