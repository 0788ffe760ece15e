"""cases: the storm digest showing a case until its card is posted; crisis_modes: its digest

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("digest_channel", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("digest_ts", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("card_through", sa.Integer(), nullable=True))
    with op.batch_alter_table("crisis_modes") as batch:
        batch.add_column(sa.Column("digest_ts", sa.String(length=40), nullable=True))
    # A digest is refreshed by reading its rows back.
    op.create_index(
        "ix_cases_digest",
        "cases",
        ["digest_channel", "digest_ts"],
        sqlite_where=sa.text("digest_ts IS NOT NULL"),
        postgresql_where=sa.text("digest_ts IS NOT NULL"),
    )


def downgrade() -> None:
    with op.batch_alter_table("crisis_modes") as batch:
        batch.drop_column("digest_ts")
    op.drop_index("ix_cases_digest", "cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("card_through")
        batch.drop_column("digest_ts")
        batch.drop_column("digest_channel")
