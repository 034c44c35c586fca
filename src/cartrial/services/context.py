"""Who acts, on which study, in which transaction: the one policy layer of the services.

Every use case opens :func:`use_case`: one audited transaction (``cartrial.store.unit_of_work``),
the acting user loaded and checked active, the study and its protocol loaded, and the user's role
checked (:meth:`UseCase.require`). Site scoping is checked when a subject is fetched
(:meth:`UseCase.subject`): a role held at one site reaches only that site's subjects; a role held
study-wide (``site_id`` NULL) reaches all. Anything raised inside the block rolls everything back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from cartrial.errors import NotFound, PermissionDenied, ValidationFailed
from cartrial.protocol import Protocol, parse_protocol
from cartrial.store import (
    AuditContext,
    AuditedSession,
    DataLock,
    Enrolment,
    Infusion,
    RoleAssignment,
    Site,
    Study,
    Subject,
    User,
    unit_of_work,
)
from cartrial.store.audit import AUDIT_CONTEXT_KEY

__all__ = ["ServiceContext", "UseCase", "protocol_of", "use_case"]


@dataclass(frozen=True)
class ServiceContext:
    """The caller of a use case: the database, the acting user and the study (by its code).

    Parameters
    ----------
    session_factory
        From :func:`cartrial.store.session_factory`.
    user
        Username of the person acting (audited as the author of every change).
    study_id
        The sponsor's study identifier (``Protocol.study_id``, e.g. ``"CLDN18-PDL1-CART-01"``).
    """

    session_factory: sessionmaker[AuditedSession]
    user: str
    study_id: str


@lru_cache(maxsize=16)
def _parse_cached(sha256: str, text: str) -> Protocol:
    return parse_protocol(text, source=f"stored protocol {sha256[:12]}")


def protocol_of(study: Study) -> Protocol:
    """The validated protocol stored with ``study`` (parsed once per protocol text)."""
    return _parse_cached(study.protocol_sha256, study.protocol_yaml)


def protocol_sha256(text: str) -> str:
    """SHA-256 of a protocol's YAML text, as stored with the study."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SubjectDates:
    """A subject's enrolment date and infusion time, read with the subject (``None``: not yet)."""

    enrolled: dt.date | None
    infused_at: dt.datetime | None


@dataclass
class UseCase:
    """The live state of one use case inside its transaction.

    ``dates`` holds, per subject fetched with :meth:`subject`, its enrolment date and infusion
    time as they were when fetched.
    """

    session: AuditedSession
    user: User
    study: Study
    protocol: Protocol
    roles: tuple[tuple[str, int | None], ...]
    dates: dict[int, SubjectDates] = field(default_factory=dict)
    _sites: dict[int, str] = field(default_factory=dict)
    _lock: tuple[dt.date, str] | None = None  # active data lock: (cut-off, name)

    def has_role(self, *roles: str, site_id: int | None = None) -> bool:
        """Whether the user holds one of ``roles`` study-wide or at ``site_id``."""
        return any(
            role in roles and (scope is None or (site_id is not None and scope == site_id))
            for role, scope in self.roles
        )

    def require(self, *roles: str, site_id: int | None = None) -> None:
        """Raise :class:`PermissionDenied` unless the user holds one of ``roles``.

        With ``site_id`` None the action concerns the whole study and needs a study-wide role;
        otherwise a role at that site (or study-wide) suffices.
        """
        if not self.has_role(*roles, site_id=site_id):
            where = "study-wide" if site_id is None else f"at site {self.site_code(site_id)}"
            raise PermissionDenied(
                f"user {self.user.username!r} needs one of the roles {', '.join(roles)} {where}"
            )

    def site_code(self, site_id: int) -> str:
        """The code of the site with database id ``site_id``."""
        if site_id not in self._sites:
            site = self.session.get(Site, site_id)
            self._sites[site_id] = site.code if site is not None else str(site_id)
        return self._sites[site_id]

    def site(self, code: str) -> Site:
        """The study's site called ``code``; :class:`ValidationFailed` on ``site_id`` if unknown."""
        site = self.session.scalar(
            select(Site).where(
                Site.study_id == self.study.id, Site.code == code, Site.deleted_at.is_(None)
            )
        )
        if site is None:
            raise ValidationFailed("site_id", f"no site {code!r} in study {self.study.study_code}")
        return site

    def subject(self, code: str, *roles: str) -> Subject:
        """The subject ``code`` of this study, checking the user's role at the subject's site.

        Raises
        ------
        NotFound
            No such subject in the study.
        PermissionDenied
            The user holds none of ``roles`` at the subject's site.
        """
        found = self.subjects([code], *roles)
        if code not in found:
            raise NotFound(f"subject_id: no subject {code!r} in study {self.study.study_code}")
        return found[code]

    def subjects(self, codes: Iterable[str], *roles: str) -> dict[str, Subject]:
        """The study's subjects among ``codes`` (unknown codes are left out), in one query.

        Each is read with its enrolment date and infusion time (:attr:`dates`); the user's role
        is checked at each subject's site (:class:`PermissionDenied` otherwise).
        """
        rows = self.session.execute(
            select(Subject, Enrolment.enrolled_date, Infusion.infused_at)
            .outerjoin(
                Enrolment,
                (Enrolment.subject_id == Subject.id) & Enrolment.deleted_at.is_(None),
            )
            .outerjoin(
                Infusion, (Infusion.subject_id == Subject.id) & Infusion.deleted_at.is_(None)
            )
            .where(
                Subject.study_id == self.study.id,
                Subject.subject_code.in_(sorted(set(codes))),
                Subject.deleted_at.is_(None),
            )
        ).all()
        found: dict[str, Subject] = {}
        for subject, enrolled, infused_at in rows:
            self.require(*roles, site_id=subject.site_id)
            self.dates[subject.id] = SubjectDates(enrolled, infused_at)
            found[subject.subject_code] = subject
        return found

    def because(self, reason: str) -> None:
        """Set the reason for change of the writes that follow in this transaction."""
        self.session.info[AUDIT_CONTEXT_KEY] = AuditContext(self.user.username, reason)

    def check_unlocked(self, when: dt.date, field_name: str) -> None:
        """Refuse a write dated on or before the cut-off of an active (unreleased) data lock."""
        if self._lock is not None and when <= self._lock[0]:
            cutoff, name = self._lock
            raise ValidationFailed(
                field_name,
                f"{when} is on or before the cut-off {cutoff} of data lock {name!r}: "
                "locked data cannot change",
            )


def load_user(session: AuditedSession, username: str) -> User:
    """The active user ``username``; :class:`PermissionDenied` when unknown or inactive."""
    user = session.scalar(select(User).where(User.username == username, User.deleted_at.is_(None)))
    if user is None or not user.is_active:
        raise PermissionDenied(f"no active user {username!r}")
    return user


def find_study_and_lock(
    session: AuditedSession, study_id: str
) -> tuple[Study, tuple[dt.date, str] | None]:
    """The latest protocol version of the study and its active data lock (latest cut-off)."""
    latest = (
        select(Study.id)
        .where(Study.study_code == study_id, Study.deleted_at.is_(None))
        .order_by(Study.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Study, DataLock.data_cutoff, DataLock.name)
        .outerjoin(
            DataLock,
            (DataLock.study_id == Study.id)
            & DataLock.released_at.is_(None)
            & DataLock.deleted_at.is_(None),
        )
        .where(Study.id == latest)
        .order_by(DataLock.data_cutoff.desc())
    ).all()
    if not rows:
        raise NotFound(f"study_id: no study {study_id!r} in this database")
    study, cutoff, name = rows[0]
    return study, ((cutoff, name) if cutoff is not None else None)


def find_study(session: AuditedSession, study_id: str) -> Study:
    """The latest protocol version of study ``study_id``; :class:`NotFound` when absent."""
    study = session.scalar(
        select(Study)
        .where(Study.study_code == study_id, Study.deleted_at.is_(None))
        .order_by(Study.id.desc())
        .limit(1)
    )
    if study is None:
        raise NotFound(f"study_id: no study {study_id!r} in this database")
    return study


@contextmanager
def use_case(
    ctx: ServiceContext, *roles: str, reason: str | None = None, site_scoped: bool = False
) -> Iterator[UseCase]:
    """Open one use case: an audited transaction with user, study, protocol and role checked.

    Parameters
    ----------
    ctx
        Who acts on which study.
    *roles
        Roles allowed to run the use case.
    reason
        Reason for change of the writes (required by the audit trail for updates).
    site_scoped
        When true the role may be held at any site (the subject's site is checked later by
        :meth:`UseCase.subject`); otherwise a study-wide role is required.
    """
    with unit_of_work(ctx.session_factory, ctx.user, reason) as session:
        rows = session.execute(
            select(User, RoleAssignment.role, RoleAssignment.site_id)
            .outerjoin(
                RoleAssignment,
                (RoleAssignment.user_id == User.id) & RoleAssignment.deleted_at.is_(None),
            )
            .where(User.username == ctx.user, User.deleted_at.is_(None))
        ).all()
        if not rows or not rows[0][0].is_active:
            raise PermissionDenied(f"no active user {ctx.user!r}")
        study, lock = find_study_and_lock(session, ctx.study_id)
        uc = UseCase(
            session=session,
            user=rows[0][0],
            study=study,
            protocol=protocol_of(study),
            roles=tuple((str(role), site) for _, role, site in rows if role is not None),
            _lock=lock,
        )
        if site_scoped:
            if not any(role in roles for role, _ in uc.roles):
                raise PermissionDenied(
                    f"user {uc.user.username!r} needs one of the roles {', '.join(roles)}"
                )
        else:
            uc.require(*roles)
        yield uc
