"""Study set-up: load a protocol as a study, add sites and users with their roles.

:func:`create_study` bootstraps an empty database: the first call also creates the first
administrator (there is nobody yet to authorise it). Later calls (a protocol amendment, a second
study) need an administrator.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, SkipValidation
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from cartrial.errors import InputFileError, PermissionDenied, ProtocolError, ValidationFailed
from cartrial.protocol import Protocol, default_protocol_path, parse_protocol
from cartrial.protocol.loader import LIMITS
from cartrial.services.base import ServiceInput, ServiceResult
from cartrial.services.context import (
    ServiceContext,
    load_user,
    protocol_sha256,
    use_case,
)
from cartrial.store import AuditedSession, RoleAssignment, Site, Study, User, live, unit_of_work
from cartrial.store.auth import MIN_PASSWORD_LENGTH, assign_role, create_user
from cartrial.textio import read_text
from cartrial.vocab import ROLES, Role

__all__ = [
    "AddSite",
    "AddUser",
    "CreateStudy",
    "Role",
    "SiteAdded",
    "StudyCreated",
    "StudyLoaded",
    "UserAdded",
    "add_site",
    "add_user",
    "create_study",
    "load_study",
]


class CreateStudy(ServiceInput):
    """Load a protocol (YAML text, or a file path) as a study.

    ``admin_*`` create the first administrator of an empty database and are refused otherwise.
    """

    protocol_yaml: str | None = Field(default=None, description="protocol YAML text")
    protocol_path: Path | None = Field(
        default=None, description="protocol file (packaged if both None)"
    )
    admin_username: str | None = Field(default=None, min_length=1, max_length=64)
    admin_full_name: str | None = Field(default=None, min_length=1, max_length=200)
    admin_password: SecretStr | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH)


class StudyCreated(ServiceResult):
    """The stored study: code, protocol version and the SHA-256 of its protocol text."""

    study_id: str
    protocol_version: str
    protocol_sha256: str
    admin_created: bool


def create_study(
    session_factory: sessionmaker[AuditedSession], data: CreateStudy, *, user: str | None = None
) -> StudyCreated:
    """Store a protocol version as a study (its YAML text and hash are kept verbatim).

    Parameters
    ----------
    session_factory
        The trial database.
    data
        The protocol, and the first administrator when the database has no user yet.
    user
        The acting administrator (``None`` only for the bootstrap call on an empty database).

    Raises
    ------
    ValidationFailed
        ``protocol_yaml`` invalid (every protocol error listed), the same study and protocol
        version already stored, or admin fields missing on an empty database.
    PermissionDenied
        The database already has users and ``user`` is not an administrator.
    """
    if data.protocol_yaml is not None:
        text = data.protocol_yaml
    else:
        path = data.protocol_path
        try:
            text = read_text(
                path or default_protocol_path(), max_bytes=LIMITS.max_bytes, utf8_only=True
            )
        except InputFileError as exc:
            raise ValidationFailed("protocol_path", str(exc)) from None
    try:
        protocol = parse_protocol(text, source=str(data.protocol_path or "protocol"))
    except ProtocolError as exc:
        raise ValidationFailed("protocol_yaml", str(exc)) from exc
    bootstrap_user = data.admin_username
    with unit_of_work(session_factory, user or bootstrap_user or "system") as session:
        n_users = session.scalar(select(func.count(User.id))) or 0
        admin_created = False
        if n_users == 0:
            if not (data.admin_username and data.admin_full_name and data.admin_password):
                raise ValidationFailed(
                    "admin_username", "an empty database needs its first administrator"
                )
            create_user(
                session,
                data.admin_username,
                data.admin_full_name,
                data.admin_password.get_secret_value(),
                ["admin"],
            )
            admin_created = True
        else:
            if data.admin_username is not None:
                raise ValidationFailed("admin_username", "the database already has users")
            if user is None:
                raise PermissionDenied("creating a study needs an administrator")
            acting = load_user(session, user)
            is_admin = session.scalar(
                select(RoleAssignment.id).where(
                    RoleAssignment.user_id == acting.id,
                    RoleAssignment.role == "admin",
                    RoleAssignment.site_id.is_(None),
                    live(RoleAssignment),
                )
            )
            if is_admin is None:
                raise PermissionDenied(f"user {user!r} is not an administrator")
        exists = session.scalar(
            select(Study.id).where(
                Study.study_code == protocol.study_id,
                Study.protocol_version == protocol.version,
            )
        )
        if exists is not None:
            raise ValidationFailed(
                "protocol_yaml",
                f"study {protocol.study_id} protocol version {protocol.version} is already stored",
            )
        sha = protocol_sha256(text)
        session.add(
            Study(
                study_code=protocol.study_id,
                title=protocol.title,
                protocol_version=protocol.version,
                protocol_yaml=text,
                protocol_sha256=sha,
                phase="escalation",
            )
        )
    return StudyCreated(
        study_id=protocol.study_id,
        protocol_version=protocol.version,
        protocol_sha256=sha,
        admin_created=admin_created,
    )


class StudyLoaded(ServiceResult):
    """The stored study: its protocol (validated), version, hash and current phase."""

    study_id: str
    protocol_version: str
    protocol_sha256: str
    phase: str
    # validated once per protocol hash (services.context.protocol_of), not again with each
    # result: its consistency checks would cost more than the rest of a page
    protocol: SkipValidation[Protocol]
    sites: tuple[str, ...]


def load_study(ctx: ServiceContext) -> StudyLoaded:
    """The study as stored (latest protocol version), for any user holding a role in it."""
    with use_case(ctx, *ROLES, site_scoped=True, read_only=True) as uc:
        sites = uc.session.scalars(
            select(Site.code).where(Site.study_id == uc.study.id, live(Site)).order_by(Site.code)
        )
        return StudyLoaded(
            study_id=uc.study.study_code,
            protocol_version=uc.study.protocol_version,
            protocol_sha256=uc.study.protocol_sha256,
            phase=uc.study.phase,
            protocol=uc.protocol,
            sites=tuple(sites),
        )


class AddSite(ServiceInput):
    """A clinical site: short code (e.g. ``"S01"``), name and ISO country code."""

    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")


class SiteAdded(ServiceResult):
    """The stored site."""

    code: str
    name: str


def add_site(ctx: ServiceContext, data: AddSite) -> SiteAdded:
    """Add a site to the study (administrators only); a duplicate code is refused."""
    with use_case(ctx, "admin") as uc:
        taken = uc.session.scalar(
            select(Site.id).where(Site.study_id == uc.study.id, Site.code == data.code)
        )
        if taken is not None:
            raise ValidationFailed("code", f"site {data.code!r} already exists")
        uc.session.add(
            Site(study_id=uc.study.id, code=data.code, name=data.name, country=data.country)
        )
        return SiteAdded(code=data.code, name=data.name)


class AddUser(ServiceInput):
    """A user with one role, held at one site (``site``) or study-wide (``site`` None)."""

    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    full_name: str = Field(min_length=1, max_length=200)
    password: SecretStr = Field(min_length=MIN_PASSWORD_LENGTH)
    role: Role
    site: str | None = None
    email: str | None = Field(default=None, max_length=254)


class UserAdded(ServiceResult):
    """The stored user and role."""

    username: str
    role: str
    site: str | None


def add_user(ctx: ServiceContext, data: AddUser) -> UserAdded:
    """Add a user with a role, or a further role to an existing user (administrators only).

    The password is stored as an argon2 hash only (never in the audit trail); for an existing
    user only the role is added.
    """
    with use_case(ctx, "admin") as uc:
        site_id = uc.site(data.site).id if data.site is not None else None
        user = uc.session.scalar(select(User).where(User.username == data.username))
        if user is None:
            user = create_user(
                uc.session,
                data.username,
                data.full_name,
                data.password.get_secret_value(),
                email=data.email,
            )
        held = uc.session.scalar(
            select(RoleAssignment.id).where(
                RoleAssignment.user_id == user.id,
                RoleAssignment.role == data.role,
                (RoleAssignment.site_id.is_(None))
                if site_id is None
                else (RoleAssignment.site_id == site_id),
                live(RoleAssignment),
            )
        )
        if held is not None:
            raise ValidationFailed("role", f"{data.username} already holds {data.role} there")
        assign_role(uc.session, user, data.role, site_id)
        return UserAdded(username=data.username, role=data.role, site=data.site)
