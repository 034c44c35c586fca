"""Governance records: the signed end of escalation (MTD), RP2D and expansion decisions.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``governance_records``."""
    op.create_table(
        "governance_records",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("dose_level", sa.String(length=16), nullable=True),
        sa.Column("dose_index", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("n_evaluable", sa.Integer(), nullable=True),
        sa.Column("n_dlt", sa.Integer(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("decided_date", sa.Date(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('escalation_end', 'rp2d', 'expansion_open', 'expansion_review', "
            "'expansion_stop')",
            name=op.f("ck_governance_records_kind_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_governance_records_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_records")),
    )
    with op.batch_alter_table("governance_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_governance_records_study_id"), ["study_id"], unique=False
        )


def downgrade() -> None:
    """Drop ``governance_records``."""
    with op.batch_alter_table("governance_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_governance_records_study_id"))
    op.drop_table("governance_records")
