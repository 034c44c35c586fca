"""The audit chain is keyed: HMAC-SHA256 under a key kept outside the database; backup records.

What it does
------------
* ``audit_chain_head.key_id``: the public fingerprint of the key the chain is MAC'd under
  (:func:`cartrial.store.keys.key_id`); a writer holding another key is refused.
* ``database_events``: backups and restores, recorded (and audited) in the database itself.
* An existing trail is converted: the old plain SHA-256 chain is verified first (a broken chain
  is NOT converted: the migration fails and names the rows), a fresh key is created where
  :func:`cartrial.store.keys.audit_key_path` says (``$CARTRIAL_AUDIT_KEY_FILE``, else
  ``<database file>.audit-key``; an existing key file is used as it is), and every row is
  re-chained with HMAC-SHA256 under it, oldest first. Only this migration ever rewrites
  ``audit_log``: the append-only trigger is lifted for the re-chaining and restored in the same
  transaction.

An empty trail (a new database, or the offline SQL script) needs no key: the first write records
the key id.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from cartrial.errors import AuditIntegrityError
from cartrial.store.chain import GENESIS_SHA256, row_mac, row_sha256
from cartrial.store.keys import create_audit_key, key_id, load_audit_key
from cartrial.store.models import AuditLog

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_APPEND_ONLY = "audit_log is append-only: rows are never updated or deleted"


def upgrade() -> None:
    """Add the key id and the events table; re-chain an existing trail under the key."""
    op.add_column("audit_chain_head", sa.Column("key_id", sa.String(length=16), nullable=True))
    op.create_table(
        "database_events",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("audit_rows", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('backup', 'restore')", name=op.f("ck_database_events_kind_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_database_events")),
    )
    if context.is_offline_mode():
        return  # a script for a new database: nothing to re-chain
    _rechain(op.get_bind())


def _rechain(bind: sa.Connection) -> None:
    log = AuditLog.__table__
    rows = [dict(r._mapping) for r in bind.execute(sa.select(*log.c).order_by(log.c.id))]
    if not rows:
        return
    prev = GENESIS_SHA256
    for row in rows:
        if row["prev_sha256"] != prev or row_sha256(row) != row["row_sha256"]:
            raise AuditIntegrityError(
                f"audit row {row['id']} does not verify under the old SHA-256 chain: the trail is "
                "not converted (restore a verified backup first)"
            )
        prev = row["row_sha256"]
    url = bind.engine.url.render_as_string(hide_password=False)
    create_audit_key(url)
    key = load_audit_key(url)
    assert key is not None
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        bind.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete"))
    else:
        bind.execute(sa.text("DROP TRIGGER audit_log_no_update"))
    prev = GENESIS_SHA256
    update = sa.text("UPDATE audit_log SET prev_sha256 = :prev, row_sha256 = :mac WHERE id = :id")
    for row in rows:
        row["prev_sha256"] = prev
        prev = row_mac(row, key)
        bind.execute(update, {"prev": row["prev_sha256"], "mac": prev, "id": row["id"]})
    if postgres:
        bind.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete"))
    else:
        bind.execute(
            sa.text(
                "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
            )
        )
    bind.execute(
        sa.text("UPDATE audit_chain_head SET last_sha256 = :mac, key_id = :kid WHERE id = 1"),
        {"mac": prev, "kid": key_id(key)},
    )


def downgrade() -> None:
    """Drop the events table and the key id (a keyed chain stays keyed: it no longer verifies
    under revision 0003's plain SHA-256)."""
    op.drop_table("database_events")
    op.drop_column("audit_chain_head", "key_id")  # SQLite >= 3.35: no table rebuild
