"""Dose decisions record the study date whose data they counted (``data_cutoff_date``).

A decision made in a back-filled or in-silico study is dated by its data, not by the wall clock,
so that an analysis with a data cut-off sees exactly the decisions made on data up to it. Existing
rows take the date part of ``decided_at``.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the column, fill it from ``decided_at``, then make it required."""
    op.add_column("dose_decisions", sa.Column("data_cutoff_date", sa.Date(), nullable=True))
    op.execute("UPDATE dose_decisions SET data_cutoff_date = date(decided_at)")
    with op.batch_alter_table("dose_decisions") as batch:
        batch.alter_column("data_cutoff_date", existing_type=sa.Date(), nullable=False)


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("dose_decisions") as batch:
        batch.drop_column("data_cutoff_date")
