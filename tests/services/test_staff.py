"""Staff changes: revoking a role, deactivating and reactivating an account.

Runs on SQLite and PostgreSQL (``migrated_db_url``). Expected outcomes follow the use cases'
documented rules (study-wide administrators only, never the last administrator, never oneself)
and the test trial's staff (``service_support.STAFF``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from service_support import PASSWORD, Trial, build_trial
from sqlalchemy import select

from cartrial.errors import AuthenticationFailed, NotFound, PermissionDenied, ValidationFailed
from cartrial.services import (
    AddUser,
    CreateToken,
    DeactivateUser,
    LogIn,
    ReactivateUser,
    RevokeRole,
    add_user,
    authenticate,
    create_token,
    deactivate_user,
    login,
    reactivate_user,
    revoke_role,
)
from cartrial.store import AuditLog, RoleAssignment

SOON = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)  # tokens live at most a year


@pytest.fixture
def staffed(migrated_db_url: str) -> Iterator[Trial]:
    trial = build_trial(migrated_db_url)
    yield trial
    trial.engine.dispose()


def test_a_revoked_role_no_longer_opens_the_use_cases(staffed: Trial) -> None:
    admin = staffed.as_("admin")
    revoked = revoke_role(
        admin, RevokeRole(username="coord1", role="site_coordinator", site="S01", reason="left")
    )
    assert revoked.remaining == []
    with pytest.raises(PermissionDenied):
        create_token(staffed.as_("coord1"), CreateToken(name="x", expires_on=SOON))
    with pytest.raises(NotFound, match="holds no site_coordinator role at S01"):
        revoke_role(
            admin, RevokeRole(username="coord1", role="site_coordinator", site="S01", reason="x")
        )
    with staffed.factory() as session:
        row = session.scalars(
            select(RoleAssignment).where(RoleAssignment.deleted_reason == "left")
        ).one()
        assert row.deleted_by == "admin" and row.deleted_at is not None
        logged = session.scalars(
            select(AuditLog).where(AuditLog.table_name == "role_assignments")
        ).all()
        assert any(e.reason == "left" for e in logged)


def test_the_last_study_wide_administrator_stays(staffed: Trial) -> None:
    admin = staffed.as_("admin")
    with pytest.raises(ValidationFailed, match="no study-wide administrator left"):
        revoke_role(admin, RevokeRole(username="admin", role="admin", reason="x"))
    add_user(
        admin,
        AddUser(username="admin2", full_name="Second Admin", password=PASSWORD, role="admin"),
    )
    revoke_role(admin, RevokeRole(username="admin", role="admin", reason="handed over"))
    with pytest.raises(PermissionDenied):  # the former administrator has no admin role now
        revoke_role(admin, RevokeRole(username="admin2", role="admin", reason="x"))
    deactivate_user(staffed.as_("admin2"), DeactivateUser(username="admin", reason="left"))
    with pytest.raises(ValidationFailed, match="your own account"):
        deactivate_user(staffed.as_("admin2"), DeactivateUser(username="admin2", reason="x"))


def test_deactivation_ends_sessions_and_tokens_and_reactivation_restores_login(
    staffed: Trial,
) -> None:
    session_token = login(
        staffed.factory, LogIn(username="mon", password=PASSWORD, source="10.0.0.1")
    ).token
    secret = create_token(staffed.as_("mon"), CreateToken(name="script", expires_on=SOON)).token
    assert authenticate(staffed.factory, session_token, source="x").username == "mon"
    off = deactivate_user(staffed.as_("admin"), DeactivateUser(username="mon", reason="left"))
    assert (off.active, off.sessions_ended, off.tokens_revoked) == (False, 1, 1)
    for credential in (session_token, secret):
        with pytest.raises(AuthenticationFailed):
            authenticate(staffed.factory, credential, source="x")
    with pytest.raises(AuthenticationFailed):
        login(staffed.factory, LogIn(username="mon", password=PASSWORD, source="10.0.0.1"))
    with pytest.raises(PermissionDenied):
        deactivate_user(staffed.as_("dm"), DeactivateUser(username="inv", reason="x"))
    on = reactivate_user(staffed.as_("admin"), ReactivateUser(username="mon", reason="back"))
    assert on.active
    with pytest.raises(AuthenticationFailed):  # a revoked token stays revoked
        authenticate(staffed.factory, secret, source="x")
    assert login(staffed.factory, LogIn(username="mon", password=PASSWORD, source="x")).token
    with pytest.raises(ValidationFailed, match="already active"):
        reactivate_user(staffed.as_("admin"), ReactivateUser(username="mon", reason="x"))
