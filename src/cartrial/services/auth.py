"""Who is writing: logins, sessions, personal access tokens, password changes and unlocks.

One implementation for every client (the CLI, the web application, scripts):

* :func:`login` checks a password (a failure is recorded and counts towards the account lock,
  :mod:`cartrial.services.lockout`) and opens a session; its token is returned once;
* :func:`authenticate` accepts a session token (``cts_...``; expires after
  :attr:`AuthSettings.idle_timeout` unused and :attr:`AuthSettings.absolute_timeout` after the
  login) or a personal access token (``ctp_...``; from :func:`create_token`, expires on its
  ``expires_on`` day, revocable) and names the person;
* :func:`context_for` turns a credential into the :class:`ServiceContext` every use case takes;
  :func:`trusted_context` is for in-process clients that act for users they vouch for (the demo's
  virtual staff, tests) and is never used by the CLI or the web application;
* :func:`change_password` (ends the person's sessions) and :func:`unlock_user` (administrators).

Secrets are 256-bit random values (:func:`secrets.token_urlsafe`) stored only as their SHA-256;
passwords are argon2id hashes. Sessions, tokens, failures and locks are audited records.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, SecretStr
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from cartrial.errors import AuthenticationFailed, Conflict, ValidationFailed
from cartrial.services.auth_settings import AuthSettings, auth_settings
from cartrial.services.base import Reason, ServiceInput, ServiceResult
from cartrial.services.context import ServiceContext, use_case
from cartrial.services.lockout import (
    PasswordRejected,
    account_locked,
    check_password,
    is_locked,
    record_failure,
)
from cartrial.services.tokens import (
    SESSION_PREFIX,
    TOKEN_PREFIX,
    CreateToken,
    RevokeToken,
    TokenCreated,
    TokenInfo,
    TokenRevoked,
    create_token,
    list_tokens,
    new_secret,
    revoke_token,
)
from cartrial.store import (
    AccessToken,
    AccountLock,
    AuditedSession,
    LoginSession,
    User,
    live,
    read_only,
    secret_sha256,
    unit_of_work,
)
from cartrial.store.auth import MIN_PASSWORD_LENGTH, hash_password
from cartrial.vocab import ROLES

__all__ = [
    "AuthSettings",
    "Authenticated",
    "ChangePassword",
    "CreateToken",
    "LogIn",
    "LoggedIn",
    "PasswordChanged",
    "RevokeToken",
    "TokenCreated",
    "TokenInfo",
    "TokenRevoked",
    "UnlockUser",
    "UserUnlocked",
    "auth_settings",
    "authenticate",
    "change_password",
    "context_for",
    "create_token",
    "end_sessions",
    "list_tokens",
    "login",
    "logout",
    "revoke_token",
    "trusted_context",
    "unlock_user",
]

_EXPIRED = "the session has expired: log in again"


class LogIn(ServiceInput):
    """A login: account name, password and where it comes from (client address, CLI host)."""

    username: str = Field(min_length=1, max_length=64)
    password: SecretStr
    source: str = Field(default="unknown", min_length=1, max_length=200)


class LoggedIn(ServiceResult):
    """An open session: its token (shown once, keep it secret) and when it expires (UTC).

    ``idle_expires_at`` moves forward each time the session is used; ``expires_at`` never does.
    """

    token: str
    username: str
    expires_at: dt.datetime
    idle_expires_at: dt.datetime


class Authenticated(ServiceResult):
    """The person a credential stands for, the kind of credential, and when it expires if unused
    (UTC; a session: the earlier of its idle and absolute ends, from now; a token: 00:00 UTC of
    its ``expires_on`` day)."""

    username: str
    via: Literal["session", "token"]
    expires_at: dt.datetime


def login(
    session_factory: sessionmaker[AuditedSession],
    data: LogIn,
    *,
    settings: AuthSettings | None = None,
) -> LoggedIn:
    """Check the password and open a session.

    The password is checked outside any write transaction (argon2 takes about a second and
    must not hold the database's write lock); the session is then written if the account is
    still active and unlocked.

    Raises
    ------
    AuthenticationFailed
        Unknown or inactive account or wrong password (one message for the three; recorded, and
        the account is locked after :attr:`AuthSettings.max_failures` failures in a row), or a
        locked account.
    """
    s = settings or auth_settings()
    password = data.password.get_secret_value()
    try:
        with read_only(session_factory) as session:
            user_id = check_password(
                session, data.username, password, kind="login", source=data.source
            ).id
        now = s.clock()
        token = new_secret(SESSION_PREFIX)
        with unit_of_work(session_factory, data.username) as session:
            user = session.get(User, user_id)
            if user is None or not user.is_active or is_locked(session, user_id):
                raise PasswordRejected(data.username, "login", data.source)
            session.add(
                LoginSession(
                    user_id=user_id,
                    token_sha256=secret_sha256(token),
                    source=data.source,
                    started_at=now,
                    last_seen_at=now,
                    last_seen_from=data.source,
                    expires_at=now + s.absolute_timeout,
                )
            )
    except PasswordRejected as rejected:
        raise record_failure(session_factory, rejected, s) from None
    return LoggedIn(
        token=token,
        username=data.username,
        expires_at=now + s.absolute_timeout,
        idle_expires_at=min(now + s.idle_timeout, now + s.absolute_timeout),
    )


def _session_problem(row: LoginSession, now: dt.datetime, s: AuthSettings) -> str | None:
    if row.ended_at is not None:
        return f"the session has ended ({row.ended_reason}): log in again"
    if now >= row.expires_at or now >= row.last_seen_at + s.idle_timeout:
        return _EXPIRED
    return None


def _token_problem(row: AccessToken, now: dt.datetime) -> str | None:
    if row.revoked_at is not None:
        return f"the access token {row.name!r} was revoked"
    if now.date() >= row.expires_on:
        return f"the access token {row.name!r} expired on {row.expires_on}"
    return None


def _touch(
    session_factory: sessionmaker[AuditedSession],
    model: type[LoginSession] | type[AccessToken],
    row_id: int,
    username: str,
    now: dt.datetime,
    source: str,
) -> None:
    """Write the credential's last use (an audited update); a concurrent touch wins quietly."""
    try:
        with unit_of_work(session_factory, username, "credential used") as session:
            row = session.get(model, row_id)
            if row is None:
                return
            if isinstance(row, LoginSession):
                row.last_seen_at, row.last_seen_from = now, source[:200]
            elif isinstance(row, AccessToken):
                row.last_used_at, row.last_used_from = now, source[:200]
    except Conflict:
        return  # another request recorded a use at the same moment


def authenticate(
    session_factory: sessionmaker[AuditedSession],
    token: str,
    *,
    source: str,
    settings: AuthSettings | None = None,
) -> Authenticated:
    """The person a session or personal access token stands for.

    Parameters
    ----------
    session_factory
        The trial database.
    token
        A session token from :func:`login` or a personal access token from
        :func:`create_token`.
    source
        Where the request comes from; kept as the credential's last place of use.
    settings
        Timeouts and the clock (default: :func:`auth_settings`).

    Raises
    ------
    AuthenticationFailed
        Unknown, ended, expired or revoked credential; inactive or locked account.
    """
    s = settings or auth_settings()
    now = s.clock()
    text = token.strip()
    model: type[LoginSession] | type[AccessToken]
    if text.startswith(SESSION_PREFIX):
        model = LoginSession
    elif text.startswith(TOKEN_PREFIX):
        model = AccessToken
    else:
        raise AuthenticationFailed("not a cartrial session or access token")
    with read_only(session_factory) as session:
        found = session.execute(
            select(model, User, account_locked(User.id))  # one query per request
            .join(User, User.id == model.user_id)
            .where(model.token_sha256 == secret_sha256(text), live(model))
        ).first()
        if found is None:
            raise AuthenticationFailed("unknown session or access token: log in again")
        row, user, locked = found._tuple()
        problem: str | None
        last_use: dt.datetime | None
        if isinstance(row, LoginSession):
            problem, last_use = _session_problem(row, now, s), row.last_seen_at
            expires_at = min(row.expires_at, now + s.idle_timeout)
        elif isinstance(row, AccessToken):
            problem, last_use = _token_problem(row, now), row.last_used_at
            expires_at = dt.datetime.combine(row.expires_on, dt.time(), tzinfo=dt.UTC)
        else:  # pragma: no cover - the query selects one of the two models
            raise AuthenticationFailed("unknown credential")
        if problem is None and (not user.is_active or user.deleted_at is not None):
            problem = f"the account {user.username!r} is inactive"
        if problem is None and locked:
            problem = f"the account {user.username!r} is locked; an administrator must unlock it"
        if problem is not None:
            raise AuthenticationFailed(problem)
        row_id, username = row.id, user.username
    if last_use is None or now - last_use >= s.touch_interval:
        _touch(session_factory, model, row_id, username, now, source)
    return Authenticated(
        username=username,
        via="session" if model is LoginSession else "token",
        expires_at=expires_at,
    )


def logout(
    session_factory: sessionmaker[AuditedSession],
    token: str,
    *,
    source: str,
    settings: AuthSettings | None = None,
) -> None:
    """End the session ``token`` (an ended or expired session stays ended; nothing to do).

    Raises
    ------
    AuthenticationFailed
        ``token`` is no session of this database.
    ValidationFailed
        ``token`` is a personal access token (revoke it with :func:`revoke_token`).
    """
    s = settings or auth_settings()
    text = token.strip()
    if text.startswith(TOKEN_PREFIX):
        raise ValidationFailed("token", "an access token is revoked (token revoke), not logged out")
    digest = secret_sha256(text)
    with read_only(session_factory) as session:
        found = session.execute(
            select(LoginSession.id, User.username)
            .join(User, User.id == LoginSession.user_id)
            .where(LoginSession.token_sha256 == digest, LoginSession.ended_at.is_(None))
        ).first()
    if found is None:
        raise AuthenticationFailed("no open session with this token")
    with unit_of_work(session_factory, found.username, f"logout from {source[:150]}") as session:
        row = session.get(LoginSession, found.id)
        if row is not None and row.ended_at is None:
            row.ended_at, row.ended_reason = s.clock(), "logout"


def context_for(
    session_factory: sessionmaker[AuditedSession],
    token: str,
    study_id: str,
    *,
    source: str,
    settings: AuthSettings | None = None,
) -> ServiceContext:
    """The context of the person ``token`` stands for, acting on study ``study_id``.

    Raises
    ------
    AuthenticationFailed
        See :func:`authenticate`.
    """
    who = authenticate(session_factory, token, source=source, settings=settings)
    return ServiceContext(
        session_factory, who.username, study_id, source=source, credential=who.via
    )


def trusted_context(
    session_factory: sessionmaker[AuditedSession],
    user: str,
    study_id: str,
    *,
    source: str = "in-process",
) -> ServiceContext:
    """A context for ``user`` WITHOUT a credential: for trusted in-process clients only.

    The demo (its virtual staff), tests and benchmarks act in the same process as the services
    for users they created themselves. The CLI and the web application never call this: they use
    :func:`context_for` with the person's session or access token. Signatures still need the
    user's password.
    """
    return ServiceContext(session_factory, user, study_id, source=source)


class ChangePassword(ServiceInput):
    """The current password (re-entered) and the new one."""

    current: SecretStr
    new: SecretStr = Field(min_length=MIN_PASSWORD_LENGTH)


class PasswordChanged(ServiceResult):
    """The account whose password changed, and how many of its sessions were ended."""

    username: str
    sessions_ended: int


def change_password(
    ctx: ServiceContext, data: ChangePassword, *, settings: AuthSettings | None = None
) -> PasswordChanged:
    """Change the acting user's password; every open session of the user is ended.

    Raises
    ------
    AuthenticationFailed
        ``current`` is wrong (recorded; counts towards the account lock) or the account is
        locked.
    ValidationFailed
        ``new``: too short, or the same as the current password.
    """
    s = settings or auth_settings()
    current, new = data.current.get_secret_value(), data.new.get_secret_value()
    if current == new:
        raise ValidationFailed("new", "the new password must differ from the current one")
    with use_case(ctx, *ROLES, site_scoped=True, reason="password changed by its owner") as uc:
        check_password(uc.session, ctx.user, current, kind="password_change", source=ctx.source)
        uc.user.password_hash = hash_password(new)
        ended = end_sessions(uc.session, uc.user.id, s.clock(), "password changed")
        return PasswordChanged(username=uc.user.username, sessions_ended=ended)


def end_sessions(session: AuditedSession, user_id: int, now: dt.datetime, reason: str) -> int:
    """End every open login session of the account ``user_id`` now; how many were open."""
    rows = session.scalars(
        select(LoginSession).where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
    ).all()
    for row in rows:
        row.ended_at, row.ended_reason = now, reason
    return len(rows)


class UnlockUser(ServiceInput):
    """Unlock the account ``username``, saying why (e.g. "identity confirmed by phone")."""

    username: str = Field(min_length=1, max_length=64)
    reason: Reason


class UserUnlocked(ServiceResult):
    """The account unlocked and the number of locks released."""

    username: str
    locks_released: int


def unlock_user(
    ctx: ServiceContext, data: UnlockUser, *, settings: AuthSettings | None = None
) -> UserUnlocked:
    """Release the lock of an account (study-wide administrators only; audited with the reason).

    Raises
    ------
    NotFound
        ``username``: no such account.
    ValidationFailed
        ``username``: the account is not locked.
    PermissionDenied
        The acting user is not a study-wide administrator.
    """
    s = settings or auth_settings()
    with use_case(ctx, "admin", reason=data.reason) as uc:
        user = uc.account(data.username)
        locks = uc.session.scalars(
            select(AccountLock).where(
                AccountLock.user_id == user.id,
                AccountLock.unlocked_at.is_(None),
                live(AccountLock),
            )
        ).all()
        if not locks:
            raise ValidationFailed("username", f"the account {data.username!r} is not locked")
        now = s.clock()
        for lock in locks:
            lock.unlocked_at, lock.unlocked_by = now, uc.user.username
            lock.unlock_reason = data.reason
        return UserUnlocked(username=user.username, locks_released=len(locks))
