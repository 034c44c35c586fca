"""Audit chain: the head row, the trigger that advances it, and append-only triggers.

Every INSERT into ``audit_log`` moves ``audit_chain_head`` to the new row (id and hash), inside the
same statement; UPDATE and DELETE (and TRUNCATE on PostgreSQL) on ``audit_log`` are rejected.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_MESSAGE = "audit_log is append-only: rows are never updated or deleted"
_GENESIS = "0" * 64


_ADVANCE = "UPDATE audit_chain_head SET last_id = NEW.id, last_sha256 = NEW.row_sha256 WHERE id = 1"


def upgrade() -> None:
    """Create the chain head (id 1, no rows yet), its trigger, and the append-only triggers."""
    op.execute(
        f"INSERT INTO audit_chain_head (id, last_id, last_sha256) VALUES (1, 0, '{_GENESIS}')"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_advance_head() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {_ADVANCE}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_advance_head AFTER INSERT ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_advance_head()"
        )
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{_MESSAGE}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
        return
    op.execute(
        f"CREATE TRIGGER audit_log_advance_head AFTER INSERT ON audit_log BEGIN {_ADVANCE}; END"
    )
    for statement in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{statement.lower()} BEFORE {statement} ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
        )


def downgrade() -> None:
    """Drop the triggers and the chain head row."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_no_update_delete ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
        op.execute("DROP TRIGGER audit_log_advance_head ON audit_log")
        op.execute("DROP FUNCTION audit_log_advance_head()")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")
        op.execute("DROP TRIGGER audit_log_advance_head")
    op.execute("DELETE FROM audit_chain_head WHERE id = 1")
