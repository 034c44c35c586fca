"""Staff changes after set-up: revoking a role, deactivating and reactivating an account.

People leave a site or the study; regulated systems never delete their accounts (the audit trail
names them), they take the access away. A revoked role is soft-deleted (time, administrator and
reason kept); a deactivated account keeps its history but cannot log in, its open sessions end and
its access tokens are revoked at once. Nobody deactivates their own account or revokes the last
study-wide administrator role, so the study always keeps an administrator.
"""

from __future__ import annotations

from pydantic import Field
from sqlalchemy import func, select

from cartrial.errors import NotFound, ValidationFailed
from cartrial.services.auth import end_sessions
from cartrial.services.auth_settings import AuthSettings, auth_settings
from cartrial.services.base import Reason, ServiceInput, ServiceResult
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.store import RoleAssignment, User, live, soft_delete
from cartrial.store.credentials import AccessToken
from cartrial.vocab import Role

__all__ = [
    "AccountActivity",
    "DeactivateUser",
    "ReactivateUser",
    "RevokeRole",
    "RoleRevoked",
    "deactivate_user",
    "reactivate_user",
    "revoke_role",
]


class RevokeRole(ServiceInput):
    """Take ``role`` away from ``username`` at ``site`` (None: the study-wide role), saying why."""

    username: str = Field(min_length=1, max_length=64)
    role: Role
    site: str | None = None
    reason: Reason


class RoleRevoked(ServiceResult):
    """The role taken away and the roles the user still holds (``role@site`` or ``role``)."""

    username: str
    role: str
    site: str | None
    remaining: list[str]


class DeactivateUser(ServiceInput):
    """Deactivate the account ``username`` (e.g. "left the study on 2026-05-31")."""

    username: str = Field(min_length=1, max_length=64)
    reason: Reason


class ReactivateUser(ServiceInput):
    """Reactivate the account ``username``, saying why."""

    username: str = Field(min_length=1, max_length=64)
    reason: Reason


class AccountActivity(ServiceResult):
    """The account's new state and what deactivation ended (zero on reactivation)."""

    username: str
    active: bool
    sessions_ended: int
    tokens_revoked: int


def _study_admins(uc: UseCase, *, other_than: int) -> int:
    """Active accounts other than ``other_than`` holding the study-wide administrator role."""
    return int(
        uc.session.scalar(
            select(func.count(func.distinct(RoleAssignment.user_id)))
            .join(User, User.id == RoleAssignment.user_id)
            .where(
                RoleAssignment.role == "admin",
                RoleAssignment.site_id.is_(None),
                RoleAssignment.user_id != other_than,
                User.is_active,
                live(RoleAssignment, User),
            )
        )
        or 0
    )


def _held(uc: UseCase, user: User) -> list[str]:
    rows = uc.session.scalars(
        select(RoleAssignment).where(RoleAssignment.user_id == user.id, live(RoleAssignment))
    ).all()
    return sorted(
        r.role if r.site_id is None else f"{r.role}@{uc.site_code(r.site_id)}" for r in rows
    )


def revoke_role(ctx: ServiceContext, data: RevokeRole) -> RoleRevoked:
    """Revoke one role of a user (study-wide administrators only; audited with the reason).

    Raises
    ------
    NotFound
        ``username``: no such account; ``role``: the user does not hold that role there.
    ValidationFailed
        ``role``: it is the last study-wide administrator role of an active account.
    """
    with use_case(ctx, "admin", reason=data.reason) as uc:
        user = uc.account(data.username)
        site_id = uc.site(data.site).id if data.site is not None else None
        row = uc.session.scalar(
            select(RoleAssignment).where(
                RoleAssignment.user_id == user.id,
                RoleAssignment.role == data.role,
                RoleAssignment.site_id.is_(None)
                if site_id is None
                else RoleAssignment.site_id == site_id,
                live(RoleAssignment),
            )
        )
        if row is None:
            where = f"at {data.site}" if data.site else "study-wide"
            raise NotFound(f"role: {data.username} holds no {data.role} role {where}")
        if data.role == "admin" and site_id is None and _study_admins(uc, other_than=user.id) == 0:
            raise ValidationFailed("role", "the study would have no study-wide administrator left")
        soft_delete(uc.session, row, data.reason)
        return RoleRevoked(
            username=user.username, role=data.role, site=data.site, remaining=_held(uc, user)
        )


def deactivate_user(
    ctx: ServiceContext, data: DeactivateUser, *, settings: AuthSettings | None = None
) -> AccountActivity:
    """Deactivate an account: no login, its sessions end and its tokens are revoked now.

    Study-wide administrators only; audited with the reason. Roles are kept (reactivation
    restores them); the account's records and signatures stay attributed to it.

    Raises
    ------
    NotFound
        ``username``: no such account.
    ValidationFailed
        ``username``: already inactive, or one's own account.
    """
    now = (settings or auth_settings()).clock()
    with use_case(ctx, "admin", reason=data.reason) as uc:
        user = uc.account(data.username)
        if user.id == uc.user.id:
            raise ValidationFailed("username", "you cannot deactivate your own account")
        if not user.is_active:
            raise ValidationFailed("username", f"the account {data.username!r} is not active")
        # the acting administrator stays, so the study keeps a study-wide administrator
        user.is_active = False
        sessions_ended = end_sessions(uc.session, user.id, now, "account deactivated")
        tokens = uc.session.scalars(
            select(AccessToken).where(
                AccessToken.user_id == user.id,
                AccessToken.revoked_at.is_(None),
                live(AccessToken),
            )
        ).all()
        for token in tokens:
            token.revoked_at, token.revoked_by = now, uc.user.username
            token.revoked_reason = f"account deactivated: {data.reason}"
        return AccountActivity(
            username=user.username,
            active=False,
            sessions_ended=sessions_ended,
            tokens_revoked=len(tokens),
        )


def reactivate_user(ctx: ServiceContext, data: ReactivateUser) -> AccountActivity:
    """Reactivate an inactive account (study-wide administrators only; audited with the reason).

    Its revoked tokens stay revoked and its ended sessions ended: the person logs in again.
    """
    with use_case(ctx, "admin", reason=data.reason) as uc:
        user = uc.account(data.username)
        if user.is_active:
            raise ValidationFailed("username", f"the account {data.username!r} is already active")
        user.is_active = True
        return AccountActivity(
            username=user.username, active=True, sessions_ended=0, tokens_revoked=0
        )
