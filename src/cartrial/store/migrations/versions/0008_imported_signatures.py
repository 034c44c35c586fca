"""Signatures of imported records: the source system's signature kept as data.

A governance record moved in from another EDC (``cartrial import odm`` / ``import study``) is
signed in cartrial by the importing user (meaning ``imported_copy``: "this record is a true copy
of the record signed in the source system"); the original decision maker's signature cannot be
re-made and is never forged: its system, signer, printed name, meaning and time are kept in
``signatures.source_*`` (all empty for a signature made in cartrial).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMNS = (
    ("source_system", sa.String(length=200)),
    ("source_signer", sa.String(length=64)),
    ("source_signer_name", sa.String(length=200)),
    ("source_meaning", sa.String(length=64)),
    ("source_signed_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    """Add the nullable ``source_*`` columns to ``signatures``."""
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        for name, kind in _COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    """Drop the ``source_*`` columns."""
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        for name, _ in reversed(_COLUMNS):
            batch_op.drop_column(name)
