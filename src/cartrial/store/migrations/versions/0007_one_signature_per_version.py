"""One signature per signer and meaning per record version, enforced by the database.

A unique index on ``signatures (user_id, meaning, record_table, record_id, record_version)``:
the services already refuse a second signature (:func:`cartrial.services.signing.sign`); the
index refuses it from any writer, including a direct ``INSERT``. A changed record has a new
``version`` and can be signed again. A database that already holds such duplicates is refused
with their count (nothing is changed): resolve them first.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_INDEX = "uq_signatures_signer_meaning_record_version"
_COLUMNS = ["user_id", "meaning", "record_table", "record_id", "record_version"]


def upgrade() -> None:
    """Refuse existing duplicates (online; an offline script has none to see), create the index."""
    if not context.is_offline_mode():
        _refuse_duplicates()
    op.create_index(_INDEX, "signatures", _COLUMNS, unique=True)


def _refuse_duplicates() -> None:
    keys = ", ".join(_COLUMNS)
    duplicates = op.get_bind().scalar(
        sa.text(
            f"SELECT count(*) FROM (SELECT {keys} FROM signatures "
            f"GROUP BY {keys} HAVING count(*) > 1) AS d"
        )
    )
    if duplicates:
        raise RuntimeError(
            f"{duplicates} record versions carry the same signer's signature with the same "
            "meaning more than once: resolve them before upgrading to revision 0007"
        )


def downgrade() -> None:
    """Drop the unique index."""
    op.drop_index(_INDEX, table_name="signatures")
