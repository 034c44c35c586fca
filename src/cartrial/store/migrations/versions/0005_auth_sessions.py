"""Credentials: login sessions, personal access tokens, failed password checks, account locks.

Four regulated tables (see :mod:`cartrial.store.credentials`); existing databases gain them empty
(users keep their passwords; nobody is locked).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_TABLES = ("login_sessions", "access_tokens", "auth_failures", "account_locks")


def _when(name: str, nullable: bool = False) -> sa.Column[dt.datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _regulated(table: str) -> list[SchemaItem]:
    """The columns of :class:`cartrial.store.base.Regulated`, and the primary key."""
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _when("created_at"),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        _when("deleted_at", nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users")
    )


def upgrade() -> None:
    """Create the four tables and their indexes."""
    op.create_table(
        "login_sessions",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        _when("started_at"),
        _when("last_seen_at"),
        sa.Column("last_seen_from", sa.String(length=200), nullable=False),
        _when("expires_at"),
        _when("ended_at", nullable=True),
        sa.Column("ended_reason", sa.Text(), nullable=True),
        *_regulated("login_sessions"),
        _user_fk("login_sessions"),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_login_sessions_token_sha256")),
    )
    op.create_table(
        "access_tokens",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        _when("last_used_at", nullable=True),
        sa.Column("last_used_from", sa.String(length=200), nullable=True),
        _when("revoked_at", nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        *_regulated("access_tokens"),
        _user_fk("access_tokens"),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_access_tokens_token_sha256")),
    )
    op.create_table(
        "auth_failures",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        _when("occurred_at"),
        *_regulated("auth_failures"),
        _user_fk("auth_failures"),
        sa.CheckConstraint(
            "kind IN ('login', 'signature', 'password_change')",
            name=op.f("ck_auth_failures_kind_valid"),
        ),
    )
    op.create_table(
        "account_locks",
        sa.Column("user_id", sa.Integer(), nullable=False),
        _when("locked_at"),
        sa.Column("lock_reason", sa.Text(), nullable=False),
        _when("unlocked_at", nullable=True),
        sa.Column("unlocked_by", sa.String(length=64), nullable=True),
        sa.Column("unlock_reason", sa.Text(), nullable=True),
        *_regulated("account_locks"),
        _user_fk("account_locks"),
    )
    for table, column in (
        ("login_sessions", "user_id"),
        ("access_tokens", "user_id"),
        ("auth_failures", "username"),
        ("account_locks", "user_id"),
    ):
        with op.batch_alter_table(table) as batch:
            batch.create_index(op.f(f"ix_{table}_{column}"), [column], unique=False)


def downgrade() -> None:
    """Drop the four tables (sessions and tokens end; the failures and locks are lost)."""
    for table in reversed(_TABLES):
        op.drop_table(table)
