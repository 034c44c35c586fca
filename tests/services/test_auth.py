"""Authentication: sessions (idle and absolute expiry), access tokens, lockout, unlock, passwords.

Runs on SQLite and PostgreSQL (``migrated_db_url``). Time is a fake clock (:class:`Clock`) passed
in :class:`AuthSettings`; nothing sleeps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from service_support import PASSWORD, Trial, build_trial
from sqlalchemy import func, select

from cartrial.errors import AuthenticationFailed, NotFound, PermissionDenied, ValidationFailed
from cartrial.services import (
    AuthSettings,
    ChangePassword,
    CreateToken,
    LogIn,
    RevokeToken,
    ServiceContext,
    UnlockUser,
    auth_settings,
    authenticate,
    change_password,
    context_for,
    create_token,
    list_tokens,
    login,
    logout,
    revoke_token,
    unlock_user,
)
from cartrial.store import AccessToken, AccountLock, AuditLog, AuthFailure, LoginSession

STUDY = "CLDN18-PDL1-CART-01"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Clock:
    """A settable UTC clock."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def staffed(migrated_db_url: str) -> Iterator[Trial]:
    """The study with sites S01/S02 and one user per role (service_support.STAFF)."""
    trial = build_trial(migrated_db_url)
    yield trial
    trial.engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def settings(clock: Clock) -> AuthSettings:
    return AuthSettings(
        max_failures=3,
        idle_timeout=dt.timedelta(minutes=30),
        absolute_timeout=dt.timedelta(hours=8),
        clock=clock,
    )


def _login(trial: Trial, user: str, settings: AuthSettings, password: str = PASSWORD) -> str:
    return login(
        trial.factory, LogIn(username=user, password=password, source="10.0.0.9"), settings=settings
    ).token


def _count(trial: Trial, model: type, **where: object) -> int:
    with trial.factory() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(session.scalar(query) or 0)


def test_login_opens_a_session_that_names_the_user(
    staffed: Trial, settings: AuthSettings, clock: Clock
) -> None:
    opened = login(
        staffed.factory,
        LogIn(username="dm", password=PASSWORD, source="cli:h/u"),
        settings=settings,
    )
    assert opened.token.startswith("cts_") and len(opened.token) == 4 + 43  # 32 bytes, base64
    assert opened.expires_at == T0 + dt.timedelta(hours=8)
    assert opened.idle_expires_at == T0 + dt.timedelta(minutes=30)
    who = authenticate(staffed.factory, opened.token, source="cli:h/u", settings=settings)
    assert (who.username, who.via, who.expires_at) == ("dm", "session", opened.idle_expires_at)
    ctx = context_for(staffed.factory, opened.token, STUDY, source="cli:h/u", settings=settings)
    assert (ctx.user, ctx.study_id, ctx.source) == ("dm", STUDY, "cli:h/u")
    with staffed.factory() as session:
        stored = session.scalars(select(LoginSession.token_sha256)).all()
    assert opened.token not in stored  # only the digest is kept
    with staffed.factory() as session:
        logged = session.scalar(select(func.count()).where(AuditLog.table_name == "login_sessions"))
    assert logged == 1  # the session is an audited record


def test_session_expires_when_idle(staffed: Trial, settings: AuthSettings, clock: Clock) -> None:
    token = _login(staffed, "dm", settings)
    clock.advance(minutes=29)
    authenticate(staffed.factory, token, source="x", settings=settings)  # use moves the idle end
    clock.advance(minutes=29)
    authenticate(staffed.factory, token, source="x", settings=settings)
    clock.advance(minutes=30)
    with pytest.raises(AuthenticationFailed, match="expired"):
        authenticate(staffed.factory, token, source="x", settings=settings)


def test_session_expires_at_its_absolute_end_however_used(
    staffed: Trial, settings: AuthSettings, clock: Clock
) -> None:
    token = _login(staffed, "dm", settings)
    for _ in range(19):  # used every 25 min (idle limit 30) until 7 h 55 min after the login
        clock.advance(minutes=25)
        authenticate(staffed.factory, token, source="x", settings=settings)
    clock.now = T0 + dt.timedelta(hours=8) - dt.timedelta(seconds=1)
    authenticate(staffed.factory, token, source="x", settings=settings)
    clock.now = T0 + dt.timedelta(hours=8)
    with pytest.raises(AuthenticationFailed, match="expired"):
        authenticate(staffed.factory, token, source="x", settings=settings)


def test_logout_ends_the_session(staffed: Trial, settings: AuthSettings) -> None:
    token = _login(staffed, "dm", settings)
    logout(staffed.factory, token, source="x", settings=settings)
    with pytest.raises(AuthenticationFailed, match="ended"):
        authenticate(staffed.factory, token, source="x", settings=settings)
    with pytest.raises(AuthenticationFailed):
        logout(staffed.factory, token, source="x", settings=settings)


def test_made_up_credentials_are_refused(staffed: Trial, settings: AuthSettings) -> None:
    for token in ("", "dm", "cts_" + "A" * 43, "ctp_" + "A" * 43):
        with pytest.raises(AuthenticationFailed):
            authenticate(staffed.factory, token, source="x", settings=settings)


def test_login_failures_are_recorded_and_lock_the_account(
    staffed: Trial, settings: AuthSettings
) -> None:
    token = _login(staffed, "dm", settings)
    for _ in range(2):
        with pytest.raises(AuthenticationFailed, match="wrong password"):
            _login(staffed, "dm", settings, password="guess-guess")
    assert _count(staffed, AccountLock) == 0
    with pytest.raises(AuthenticationFailed, match="now locked"):
        _login(staffed, "dm", settings, password="guess-guess")  # the 3rd (max_failures=3)
    assert _count(staffed, AccountLock) == 1
    with staffed.factory() as session:
        failures = session.execute(
            select(AuthFailure.username, AuthFailure.kind, AuthFailure.source)
        ).all()
    assert failures == [("dm", "login", "10.0.0.9")] * 3
    # locked: the right password is refused, and so is the session opened before
    with pytest.raises(AuthenticationFailed, match="locked"):
        _login(staffed, "dm", settings)
    with pytest.raises(AuthenticationFailed, match="locked"):
        authenticate(staffed.factory, token, source="x", settings=settings)


def test_a_successful_login_starts_the_count_again(
    staffed: Trial, settings: AuthSettings, clock: Clock
) -> None:
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            _login(staffed, "dm", settings, password="guess-guess")
        clock.advance(seconds=1)
    _login(staffed, "dm", settings)
    clock.advance(seconds=1)
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            _login(staffed, "dm", settings, password="guess-guess")
        clock.advance(seconds=1)
    assert _count(staffed, AccountLock) == 0  # 2 + 2 failures, never 3 in a row


def test_unknown_accounts_are_recorded_but_nothing_is_locked(
    staffed: Trial, settings: AuthSettings
) -> None:
    for _ in range(4):
        with pytest.raises(AuthenticationFailed, match="unknown user, wrong password"):
            _login(staffed, "mallory", settings)
    assert _count(staffed, AuthFailure, username="mallory") == 4
    assert _count(staffed, AccountLock) == 0


def test_only_an_administrator_unlocks_and_the_unlock_is_audited(
    staffed: Trial, settings: AuthSettings
) -> None:
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            _login(staffed, "coord1", settings, password="guess-guess")
    admin = _login(staffed, "admin", settings)
    dm = _login(staffed, "dm", settings)
    request = UnlockUser(username="coord1", reason="identity confirmed by phone")
    with pytest.raises(PermissionDenied, match="admin"):
        unlock_user(context_for(staffed.factory, dm, STUDY, source="x", settings=settings), request)
    admin_ctx = context_for(staffed.factory, admin, STUDY, source="x", settings=settings)
    with pytest.raises(ValidationFailed, match="not locked"):
        unlock_user(admin_ctx, UnlockUser(username="dm", reason="x"), settings=settings)
    with pytest.raises(NotFound):
        unlock_user(admin_ctx, UnlockUser(username="nobody", reason="x"), settings=settings)
    unlocked = unlock_user(admin_ctx, request, settings=settings)
    assert (unlocked.username, unlocked.locks_released) == ("coord1", 1)
    _login(staffed, "coord1", settings)
    with staffed.factory() as session:
        trail = session.execute(
            select(AuditLog.username, AuditLog.field, AuditLog.new_value, AuditLog.reason).where(
                AuditLog.table_name == "account_locks", AuditLog.action == "update"
            )
        ).all()
    assert ("admin", "unlocked_by", "admin", "identity confirmed by phone") in trail


def test_access_token_is_shown_once_used_and_revoked(
    staffed: Trial, settings: AuthSettings, clock: Clock
) -> None:
    session_token = _login(staffed, "stat", settings)
    ctx = context_for(staffed.factory, session_token, STUDY, source="x", settings=settings)
    created = create_token(
        ctx, CreateToken(name="nightly export", expires_on=dt.date(2026, 6, 1)), settings=settings
    )
    assert created.token.startswith("ctp_")
    listed = list_tokens(ctx, settings=settings)
    assert [(t.token_id, t.name, t.active) for t in listed] == [
        (created.token_id, "nightly export", True)
    ]
    assert created.token not in repr(listed)  # never retrievable again
    with staffed.factory() as session:
        stored = session.scalars(select(AccessToken.token_sha256)).one()
        trail = " ".join(v or "" for v in session.scalars(select(AuditLog.new_value)).all())
    assert created.token not in stored and created.token not in trail
    who = authenticate(staffed.factory, created.token, source="script", settings=settings)
    assert (who.username, who.via) == ("stat", "token")
    by_token = context_for(staffed.factory, created.token, STUDY, source="x", settings=settings)
    assert (ctx.credential, by_token.credential) == ("session", "token")
    with pytest.raises(PermissionDenied, match="cannot create access tokens"):
        create_token(by_token, CreateToken(name="child", expires_on=dt.date(2026, 5, 1)))
    revoke_token(
        ctx, RevokeToken(token_id=created.token_id, reason="laptop lost"), settings=settings
    )
    with pytest.raises(AuthenticationFailed, match="revoked"):
        authenticate(staffed.factory, created.token, source="script", settings=settings)
    with pytest.raises(ValidationFailed, match="already revoked"):
        revoke_token(ctx, RevokeToken(token_id=created.token_id), settings=settings)


def test_token_expiry_and_limits(staffed: Trial, settings: AuthSettings, clock: Clock) -> None:
    ctx = context_for(
        staffed.factory, _login(staffed, "stat", settings), STUDY, source="x", settings=settings
    )
    with pytest.raises(ValidationFailed) as info:
        create_token(ctx, CreateToken(name="t", expires_on=T0.date()), settings=settings)
    assert info.value.field == "expires_on"
    with pytest.raises(ValidationFailed, match="at most 366 days"):
        create_token(ctx, CreateToken(name="t", expires_on=dt.date(2027, 3, 4)), settings=settings)
    created = create_token(
        ctx, CreateToken(name="t", expires_on=dt.date(2026, 3, 5)), settings=settings
    )
    clock.now = dt.datetime(2026, 3, 4, 23, 59, tzinfo=dt.UTC)
    who = authenticate(staffed.factory, created.token, source="x", settings=settings)
    assert who.expires_at == dt.datetime(2026, 3, 5, tzinfo=dt.UTC)
    clock.now = dt.datetime(2026, 3, 5, 0, 0, tzinfo=dt.UTC)
    with pytest.raises(AuthenticationFailed, match="expired on 2026-03-05"):
        authenticate(staffed.factory, created.token, source="x", settings=settings)


def test_only_the_owner_or_an_administrator_revokes_a_token(
    staffed: Trial, settings: AuthSettings
) -> None:
    def ctx(user: str) -> ServiceContext:
        token = _login(staffed, user, settings)
        return context_for(staffed.factory, token, STUDY, source="x", settings=settings)

    stat, mon, admin = ctx("stat"), ctx("mon"), ctx("admin")
    created = create_token(
        stat, CreateToken(name="t", expires_on=dt.date(2026, 4, 1)), settings=settings
    )
    with pytest.raises(NotFound):
        revoke_token(mon, RevokeToken(token_id=created.token_id), settings=settings)
    revoked = revoke_token(
        admin, RevokeToken(token_id=created.token_id, reason="offboarding"), settings=settings
    )
    assert revoked.name == "t"


def test_change_password_ends_sessions_and_wrong_current_counts(
    staffed: Trial, settings: AuthSettings
) -> None:
    token = _login(staffed, "mon", settings)
    other = _login(staffed, "mon", settings)
    ctx = context_for(staffed.factory, token, STUDY, source="x", settings=settings)
    with pytest.raises(AuthenticationFailed):
        change_password(ctx, ChangePassword(current="nope-nope-nope", new="a new long password"))
    assert _count(staffed, AuthFailure, kind="password_change") == 1
    with pytest.raises(ValidationFailed) as info:
        change_password(ctx, ChangePassword(current=PASSWORD, new=PASSWORD))
    assert info.value.field == "new"
    changed = change_password(
        ctx, ChangePassword(current=PASSWORD, new="a new long password"), settings=settings
    )
    assert (changed.username, changed.sessions_ended) == ("mon", 2)
    for ended in (token, other):
        with pytest.raises(AuthenticationFailed, match="password changed"):
            authenticate(staffed.factory, ended, source="x", settings=settings)
    with pytest.raises(AuthenticationFailed):
        _login(staffed, "mon", settings)
    _login(staffed, "mon", settings, password="a new long password")


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTRIAL_AUTH_MAX_FAILURES", "7")
    monkeypatch.setenv("CARTRIAL_SESSION_IDLE_MINUTES", "15")
    monkeypatch.setenv("CARTRIAL_SESSION_MAX_HOURS", "4")
    read = auth_settings()
    assert (read.max_failures, read.idle_timeout, read.absolute_timeout) == (
        7,
        dt.timedelta(minutes=15),
        dt.timedelta(hours=4),
    )
    monkeypatch.setenv("CARTRIAL_AUTH_MAX_FAILURES", "zero")
    with pytest.raises(ValidationFailed) as info:
        auth_settings()
    assert info.value.field == "CARTRIAL_AUTH_MAX_FAILURES"
    monkeypatch.delenv("CARTRIAL_AUTH_MAX_FAILURES")
    assert auth_settings().max_failures == 5  # the default
