"""What an administrator sees on the admin pages: users with their roles and lock state, sites,
and who holds each role. Read-only; administrators only (study-wide role ``admin``).

Unlocking an account is :func:`cartrial.services.unlock_user`; tokens are revoked by their owner
(:func:`cartrial.services.revoke_token`), so the listing shows how many each user has active.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from sqlalchemy import func, select

from cartrial.services.base import ServiceResult
from cartrial.services.context import ServiceContext, use_case
from cartrial.services.lockout import is_locked
from cartrial.store import AccessToken, RoleAssignment, Site, Subject, User, live
from cartrial.vocab import ROLES

__all__ = ["AdminLists", "RoleListing", "SiteListing", "UserListing", "admin_lists"]


class UserListing(ServiceResult):
    """One account: name, whether it is active and locked, its roles (``role@site`` or
    ``role`` for study-wide) and its active personal access tokens."""

    username: str
    full_name: str
    active: bool
    locked: bool
    roles: tuple[str, ...]
    active_tokens: int


class SiteListing(ServiceResult):
    """One site of the study with its subjects and the staff holding a role there."""

    code: str
    name: str
    country: str | None
    subjects: int
    staff: int


class RoleListing(ServiceResult):
    """One role and who holds it (``username`` or ``username@site``)."""

    role: str
    holders: tuple[str, ...]


class AdminLists(ServiceResult):
    """Users, sites and roles of the study."""

    users: tuple[UserListing, ...]
    sites: tuple[SiteListing, ...]
    roles: tuple[RoleListing, ...]


def admin_lists(ctx: ServiceContext, *, today: dt.date | None = None) -> AdminLists:
    """The users, sites and roles (administrators only; a token expiring before ``today`` (UTC
    date, default now) is not counted as active)."""
    day = today or dt.datetime.now(dt.UTC).date()
    with use_case(ctx, "admin", read_only=True) as uc:
        session = uc.session
        sites = list(
            session.scalars(
                select(Site).where(Site.study_id == uc.study.id, live(Site)).order_by(Site.code)
            )
        )
        code = {site.id: site.code for site in sites}
        users = list(session.scalars(select(User).where(live(User)).order_by(User.username)))
        held: dict[int, list[str]] = defaultdict(list)
        holders: dict[str, list[str]] = defaultdict(list)
        staff: Counter[int] = Counter()
        names = {user.id: user.username for user in users}
        for role, user_id, site_id in session.execute(
            select(RoleAssignment.role, RoleAssignment.user_id, RoleAssignment.site_id)
            .where(live(RoleAssignment))
            .order_by(RoleAssignment.role, RoleAssignment.site_id)
        ).tuples():
            if site_id is not None and site_id not in code:
                continue  # a role at another study's site
            where = f"@{code[site_id]}" if site_id is not None else ""
            held[user_id].append(f"{role}{where}")
            holders[role].append(f"{names.get(user_id, user_id)}{where}")
            if site_id is not None:
                staff[site_id] += 1
        tokens = Counter(
            session.scalars(
                select(AccessToken.user_id).where(
                    AccessToken.revoked_at.is_(None),
                    AccessToken.expires_on >= day,
                    live(AccessToken),
                )
            )
        )
        subjects = {
            site_id: count
            for site_id, count in session.execute(
                select(Subject.site_id, func.count(Subject.id))
                .where(Subject.study_id == uc.study.id, live(Subject))
                .group_by(Subject.site_id)
            ).tuples()
        }
        return AdminLists(
            users=tuple(
                UserListing(
                    username=user.username,
                    full_name=user.full_name,
                    active=user.is_active,
                    locked=is_locked(session, user.id),
                    roles=tuple(held[user.id]),
                    active_tokens=tokens[user.id],
                )
                for user in users
            ),
            sites=tuple(
                SiteListing(
                    code=site.code,
                    name=site.name,
                    country=site.country,
                    subjects=subjects.get(site.id, 0),
                    staff=staff[site.id],
                )
                for site in sites
            ),
            roles=tuple(RoleListing(role=role, holders=tuple(holders[role])) for role in ROLES),
        )
