"""Personal access tokens: for scripts and API clients, named, expiring, revocable.

A token is ``ctp_`` followed by 256 random bits (URL-safe base64); only its SHA-256 is stored, so
it is shown once, by :func:`create_token`, and can never be retrieved again. It is valid until
00:00 UTC of its ``expires_on`` day, unless revoked (by its owner or an administrator).
Authentication with a token is :func:`cartrial.services.auth.authenticate`.
"""

from __future__ import annotations

import datetime as dt
import secrets

from pydantic import Field
from sqlalchemy import select

from cartrial.errors import NotFound, PermissionDenied, ValidationFailed
from cartrial.services.auth_settings import AuthSettings, auth_settings
from cartrial.services.base import Reason, ServiceInput, ServiceResult
from cartrial.services.context import ServiceContext, use_case
from cartrial.store import AccessToken, live, secret_sha256
from cartrial.vocab import ROLES

__all__ = [
    "SESSION_PREFIX",
    "TOKEN_PREFIX",
    "CreateToken",
    "RevokeToken",
    "TokenCreated",
    "TokenInfo",
    "TokenRevoked",
    "create_token",
    "list_tokens",
    "new_secret",
    "revoke_token",
]

#: First characters of a session token (:func:`cartrial.services.auth.login`).
SESSION_PREFIX = "cts_"
#: First characters of a personal access token.
TOKEN_PREFIX = "ctp_"


def new_secret(prefix: str) -> str:
    """A fresh secret: ``prefix`` and 32 random bytes (256 bits) in URL-safe base64."""
    return prefix + secrets.token_urlsafe(32)


class CreateToken(ServiceInput):
    """A token's name (what it is for, e.g. ``"nightly lab import"``) and its expiry day."""

    name: str = Field(min_length=1, max_length=100)
    expires_on: dt.date


class TokenCreated(ServiceResult):
    """The new token: ``token`` is shown this once and cannot be retrieved later."""

    token_id: int
    token: str
    name: str
    expires_on: dt.date


class TokenInfo(ServiceResult):
    """A token as listed (never its value): name, dates, and whether it can still be used."""

    token_id: int
    name: str
    username: str
    created_at: dt.datetime
    expires_on: dt.date
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    active: bool


class RevokeToken(ServiceInput):
    """The token to revoke, and why."""

    token_id: int = Field(gt=0)
    reason: Reason = "revoked by its owner"


class TokenRevoked(ServiceResult):
    """The revoked token."""

    token_id: int
    name: str
    revoked_at: dt.datetime


def create_token(
    ctx: ServiceContext, data: CreateToken, *, settings: AuthSettings | None = None
) -> TokenCreated:
    """Create a personal access token for the acting user (any role in the study).

    A token cannot create tokens (``ctx.credential == "token"``): a leaked token must not be able
    to outlive its revocation through tokens it made.

    Raises
    ------
    ValidationFailed
        ``expires_on`` not after today (UTC) or beyond :attr:`AuthSettings.token_max_days`.
    PermissionDenied
        The context comes from an access token.
    """
    if ctx.credential == "token":
        raise PermissionDenied(
            "an access token cannot create access tokens: log in with a password"
        )
    s = settings or auth_settings()
    today = s.clock().date()
    if data.expires_on <= today:
        raise ValidationFailed("expires_on", f"must be after today ({today})")
    longest = today + dt.timedelta(days=s.token_max_days)
    if data.expires_on > longest:
        raise ValidationFailed(
            "expires_on", f"a token lives at most {s.token_max_days} days (until {longest})"
        )
    token = new_secret(TOKEN_PREFIX)
    with use_case(ctx, *ROLES, site_scoped=True) as uc:
        row = AccessToken(
            user_id=uc.user.id,
            name=data.name,
            token_sha256=secret_sha256(token),
            expires_on=data.expires_on,
        )
        uc.session.add(row)
        uc.session.flush()
        return TokenCreated(token_id=row.id, token=token, name=row.name, expires_on=row.expires_on)


def list_tokens(
    ctx: ServiceContext, *, settings: AuthSettings | None = None
) -> tuple[TokenInfo, ...]:
    """The acting user's tokens, newest first (their values are never shown again)."""
    today = (settings or auth_settings()).clock().date()
    with use_case(ctx, *ROLES, site_scoped=True, read_only=True) as uc:
        rows = uc.session.scalars(
            select(AccessToken)
            .where(AccessToken.user_id == uc.user.id, live(AccessToken))
            .order_by(AccessToken.id.desc())
        ).all()
        return tuple(
            TokenInfo(
                token_id=row.id,
                name=row.name,
                username=uc.user.username,
                created_at=row.created_at,
                expires_on=row.expires_on,
                last_used_at=row.last_used_at,
                revoked_at=row.revoked_at,
                active=row.revoked_at is None and today < row.expires_on,
            )
            for row in rows
        )


def revoke_token(
    ctx: ServiceContext, data: RevokeToken, *, settings: AuthSettings | None = None
) -> TokenRevoked:
    """Revoke a token: the owner's own, or anyone's by a study-wide administrator.

    Raises
    ------
    NotFound
        ``token_id``: no such token of the user (administrators: no such token).
    ValidationFailed
        ``token_id``: already revoked.
    """
    now = (settings or auth_settings()).clock()
    with use_case(ctx, *ROLES, site_scoped=True, reason=data.reason) as uc:
        row = uc.session.get(AccessToken, data.token_id)
        if (
            row is None
            or row.deleted_at is not None
            or (row.user_id != uc.user.id and not uc.has_role("admin"))
        ):
            raise NotFound(f"token_id: no access token {data.token_id}")
        if row.revoked_at is not None:
            raise ValidationFailed("token_id", f"token {row.name!r} is already revoked")
        row.revoked_at, row.revoked_by, row.revoked_reason = now, uc.user.username, data.reason
        return TokenRevoked(token_id=row.id, name=row.name, revoked_at=now)
