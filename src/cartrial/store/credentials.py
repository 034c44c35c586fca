"""Credentials of the people who write: login sessions, personal access tokens, failed attempts
and account locks (21 CFR Part 11 §11.10(d), §11.300).

The tables only hold state; :mod:`cartrial.services.auth` decides (expiry, lockout, revocation).
Every table is regulated like the trial data: inserts, updates (a session used or ended, a token
revoked, an account unlocked) and soft deletes write audit rows.

Secrets are never stored: a session or token is kept as the SHA-256 of its 256-bit random value
(:func:`secret_sha256`). Unlike a password hash, that digest cannot be reversed by guessing, so it
is kept in the audit trail in clear: a token digest swapped into the table by hand differs from
the trail and is found by ``cartrial audit verify``.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cartrial.store.base import Base, Regulated
from cartrial.store.vocab import choice

__all__ = [
    "AUTH_FAILURE_KINDS",
    "AccessToken",
    "AccountLock",
    "AuthFailure",
    "LoginSession",
    "secret_sha256",
]

#: What a failed attempt was: a login, an e-signature password, a password change.
AUTH_FAILURE_KINDS = ("login", "signature", "password_change")


def secret_sha256(secret: str) -> str:
    """Hex SHA-256 of a session or token value (UTF-8), the only form in which it is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class LoginSession(Regulated, Base):
    """A login: opened with a password, ended by logout, or expired (idle or absolute time).

    ``last_seen_at`` is advanced when the session is used (at most once per
    ``AuthSettings.touch_interval``, so that reading pages does not flood the audit trail).
    """

    __tablename__ = "login_sessions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(200))
    """Where the login came from (e.g. ``cli:host/user`` or a client IP address)."""
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    last_seen_from: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    """Absolute end of the session, whatever its use."""
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_reason: Mapped[str | None] = mapped_column(Text, default=None)


class AccessToken(Regulated, Base):
    """A personal access token for scripts: named, expiring, revocable; shown once, kept hashed."""

    __tablename__ = "access_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    expires_on: Mapped[date]
    """First UTC day on which the token is refused."""
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_from: Mapped[str | None] = mapped_column(String(200), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_by: Mapped[str | None] = mapped_column(String(64), default=None)
    revoked_reason: Mapped[str | None] = mapped_column(Text, default=None)


class AuthFailure(Regulated, Base):
    """A failed password check: who (the name given), when, from where, and what it was for."""

    __tablename__ = "auth_failures"
    __table_args__ = (choice("kind", AUTH_FAILURE_KINDS),)

    username: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    """The account named, when it exists."""
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime]


class AccountLock(Regulated, Base):
    """An account locked after repeated failures; it stays locked until an administrator unlocks
    it (``unlocked_*`` with the reason)."""

    __tablename__ = "account_locks"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    locked_at: Mapped[datetime]
    lock_reason: Mapped[str] = mapped_column(Text)
    unlocked_at: Mapped[datetime | None] = mapped_column(default=None)
    unlocked_by: Mapped[str | None] = mapped_column(String(64), default=None)
    unlock_reason: Mapped[str | None] = mapped_column(Text, default=None)
