"""Password checks with a memory: every failure recorded, accounts locked after too many.

Every password a person types (a login, an e-signature, a password change) is checked by
:func:`check_password`. A wrong password, an unknown or inactive account, or a locked account
raises :class:`PasswordRejected`; whoever catches it OUTSIDE the rolled-back transaction calls
:func:`record_failure`, which writes the failure (who, when, from where, what for) in a
transaction of its own and locks the account once it has failed
:attr:`~cartrial.services.auth_settings.AuthSettings.max_failures` times in a row (counted since
its last successful login or signature, or its last unlock). ``use_case`` does this for every
use case, so a signature refused inside a use case still leaves its trace.

The lock (:class:`~cartrial.store.AccountLock`) and each failure
(:class:`~cartrial.store.AuthFailure`) are regulated records: both are in the audit trail.
"""

from __future__ import annotations

import functools

from sqlalchemy import ColumnElement, Exists, exists, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from cartrial.errors import AuthenticationFailed
from cartrial.services.auth_settings import AuthSettings, auth_settings
from cartrial.store import (
    AccountLock,
    AuditedSession,
    AuthFailure,
    LoginSession,
    Signature,
    User,
    live,
    unit_of_work,
)
from cartrial.store.auth import hash_password, verify_password

__all__ = [
    "AUTH_SYSTEM_USER",
    "PasswordRejected",
    "account_locked",
    "check_password",
    "is_locked",
    "record_failure",
]

#: Audit-trail author of failure and lock records (nobody is authenticated when they are made).
AUTH_SYSTEM_USER = "system:auth"
_REJECTED = "unknown user, wrong password or inactive account"
_LOCKED = (
    "the account is locked after repeated failed password checks; an administrator must unlock it"
)


class PasswordRejected(AuthenticationFailed):
    """A password check failed; carries what :func:`record_failure` records.

    Parameters
    ----------
    username
        The account name given.
    kind
        ``"login"``, ``"signature"`` or ``"password_change"``.
    source
        Where the attempt came from (client address, ``cli:host/user``, ...).
    message
        What the person is told.
    """

    def __init__(self, username: str, kind: str, source: str, message: str = _REJECTED) -> None:
        self.username = username
        self.kind = kind
        self.source = source
        super().__init__(message)


@functools.cache
def _decoy_hash() -> str:
    """A hash checked for unknown accounts, so that they take as long as a wrong password."""
    return hash_password("no account has this password")


def account_locked(user_id: ColumnElement[int] | InstrumentedAttribute[int] | int) -> Exists:
    """The SQL condition that account ``user_id`` has a lock not yet released by an administrator
    (to read with other columns in one query)."""
    return exists().where(
        AccountLock.user_id == user_id, AccountLock.unlocked_at.is_(None), live(AccountLock)
    )


def is_locked(session: Session, user_id: int) -> bool:
    """Whether the account ``user_id`` has a lock not yet released by an administrator."""
    return bool(session.scalar(select(account_locked(user_id))))


def check_password(
    session: Session, username: str, password: str, *, kind: str, source: str
) -> User:
    """The active, unlocked user ``username`` whose password is ``password``.

    Raises
    ------
    PasswordRejected
        Unknown or inactive account or wrong password (one message for the three), or a locked
        account (whatever the password).
    """
    name = username.strip()
    user = session.scalar(select(User).where(User.username == name, live(User)))
    if user is None:
        verify_password(_decoy_hash(), password)
        raise PasswordRejected(name, kind, source)
    if is_locked(session, user.id):
        raise PasswordRejected(name, kind, source, _LOCKED)
    if not verify_password(user.password_hash, password) or not user.is_active:
        raise PasswordRejected(name, kind, source)
    return user


def _failures_in_a_row(session: Session, user_id: int) -> int:
    """Failures of ``user_id`` since its last successful login or signature, or last unlock."""
    last_times = (
        session.scalar(
            select(func.max(LoginSession.started_at)).where(LoginSession.user_id == user_id)
        ),
        session.scalar(select(func.max(Signature.signed_at)).where(Signature.user_id == user_id)),
        session.scalar(
            select(func.max(AccountLock.unlocked_at)).where(AccountLock.user_id == user_id)
        ),
    )
    times = [t for t in last_times if t is not None]
    query = select(func.count(AuthFailure.id)).where(
        AuthFailure.user_id == user_id, live(AuthFailure)
    )
    if times:
        query = query.where(AuthFailure.occurred_at >= max(times))  # a tie counts: cautious
    return int(session.scalar(query) or 0)


def record_failure(
    session_factory: sessionmaker[AuditedSession],
    rejected: PasswordRejected,
    settings: AuthSettings | None = None,
) -> AuthenticationFailed:
    """Record a failed password check (its own transaction) and lock the account if due.

    Returns
    -------
    AuthenticationFailed
        The error to raise: ``rejected`` itself, or one saying that the account is now locked.
    """
    s = settings or auth_settings()
    now = s.clock()
    with unit_of_work(session_factory, AUTH_SYSTEM_USER) as session:
        user = session.scalar(select(User).where(User.username == rejected.username, live(User)))
        session.add(
            AuthFailure(
                username=rejected.username[:64],
                user_id=None if user is None else user.id,
                kind=rejected.kind,
                source=rejected.source[:200],
                occurred_at=now,
            )
        )
        session.flush()
        if user is None or is_locked(session, user.id):
            return rejected
        failures = _failures_in_a_row(session, user.id)
        if failures < s.max_failures:
            return rejected
        session.add(
            AccountLock(
                user_id=user.id,
                locked_at=now,
                lock_reason=f"{failures} failed password checks in a row "
                f"(the last: {rejected.kind} from {rejected.source[:100]})",
            )
        )
    return AuthenticationFailed(
        f"{rejected}; after {failures} failures in a row the account is now locked: "
        "an administrator must unlock it"
    )
