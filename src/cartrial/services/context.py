"""Who acts, on which study, in which transaction: the one policy layer of the services.

Every use case opens :func:`use_case`: one audited transaction (``cartrial.store.unit_of_work``;
a read-only session for use cases that only read), the acting user with their roles, the study and
its active data lock read in one query, the protocol parsed once per protocol hash
(:func:`protocol_of`), and the user's role checked (:meth:`UseCase.require`). Site scoping is
checked when a subject is fetched (:meth:`UseCase.subject`): a role held at one site reaches only
that site's subjects; a role held study-wide (``site_id`` NULL) reaches all. Anything raised
inside the block rolls everything back.

The data lock holds here, once for every use case: while a lock is active, every flush of the
use case's session is checked (:func:`_guard_locked_data`), and any insert, update or soft
delete of a record whose data date (:attr:`~cartrial.store.base.Regulated.__data_date__`, old or
new value) falls on or before the cut-off is refused, whatever the use case (DLT overrides,
re-derivation, grade changes, deletions, imports). Times are read in the study's declared time
zone (``study.time_zone`` of the protocol), never in the caller's offset.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session, UOWTransaction, aliased, defer, sessionmaker
from sqlalchemy.orm.attributes import instance_state

from cartrial.errors import NotFound, PermissionDenied, ValidationFailed
from cartrial.protocol import Protocol, parse_protocol
from cartrial.services.lockout import PasswordRejected, record_failure
from cartrial.services.study_calendar import study_date, study_today
from cartrial.store import (
    AuditContext,
    AuditedSession,
    DataLock,
    Enrolment,
    Infusion,
    Regulated,
    RoleAssignment,
    Site,
    Study,
    Subject,
    User,
    live,
    unit_of_work,
)
from cartrial.store import read_only as read_only_session
from cartrial.store.audit import AUDIT_CONTEXT_KEY

__all__ = ["ServiceContext", "SessionFactory", "UseCase", "protocol_of", "use_case"]

#: The trial database as the services take it (from :func:`cartrial.store.session_factory`).
SessionFactory = sessionmaker[AuditedSession]


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
    source
        Where the person acts from (client address, ``cli:host/user``), recorded with a failed
        e-signature password.
    credential
        What vouched for the user: a login ``"session"``, a personal access ``"token"``, or
        ``"trusted"`` (an in-process client; see below).

    A person's context comes from a credential: :func:`cartrial.services.auth.context_for`
    (session or personal access token). In-process clients that act for virtual or already
    authenticated users (the demo, tests) use :func:`cartrial.services.auth.trusted_context`.
    """

    session_factory: sessionmaker[AuditedSession]
    user: str
    study_id: str
    source: str = "in-process"
    credential: Literal["session", "token", "trusted"] = "trusted"


#: Parsed protocols by the SHA-256 of their YAML text (at most :data:`_PROTOCOL_CACHE_SIZE`).
_PROTOCOLS: dict[str, Protocol] = {}
_PROTOCOL_CACHE_SIZE = 16
_PROTOCOLS_LOCK = threading.Lock()


def protocol_of(study: Study) -> Protocol:
    """The validated protocol stored with ``study``, parsed once per protocol hash.

    The YAML text is read (and parsed) only for a hash not seen before in this process, so a
    study loaded without its ``protocol_yaml`` column costs no text transfer on later use cases.
    """
    sha = study.protocol_sha256
    protocol = _PROTOCOLS.get(sha)
    if protocol is None:
        protocol = parse_protocol(study.protocol_yaml, source=f"stored protocol {sha[:12]}")
        with _PROTOCOLS_LOCK:
            if len(_PROTOCOLS) >= _PROTOCOL_CACHE_SIZE:
                del _PROTOCOLS[next(iter(_PROTOCOLS))]
            _PROTOCOLS[sha] = protocol
    return protocol


def protocol_sha256(text: str) -> str:
    """SHA-256 of a protocol's YAML text, as stored with the study."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: The newest protocol version (row) of the study coded ``:study_code``.
_LATEST_STUDY = aliased(Study)
#: One query per use case: the user ``:username`` with one row per role (site) and per active
#: data lock, joined with the newest version of study ``:study_code`` (NULL when there is none)
#: loaded without its protocol text (see :func:`protocol_of`).
_USER_STUDY_LOCKS = (
    select(
        User,
        RoleAssignment.role,
        RoleAssignment.site_id,
        Study,
        DataLock.data_cutoff,
        DataLock.name,
    )
    .outerjoin(
        RoleAssignment,
        (RoleAssignment.user_id == User.id) & live(RoleAssignment),
    )
    .outerjoin(
        Study,
        Study.id
        == select(_LATEST_STUDY.id)
        .where(
            _LATEST_STUDY.study_code == bindparam("study_code"),
            live(_LATEST_STUDY),
        )
        .order_by(_LATEST_STUDY.id.desc())
        .limit(1)
        .scalar_subquery(),
    )
    .outerjoin(
        DataLock,
        (DataLock.study_id == Study.id) & DataLock.released_at.is_(None) & live(DataLock),
    )
    .where(User.username == bindparam("username"), live(User))
    .options(defer(Study.protocol_yaml))
)
#: :data:`_USER_STUDY_LOCKS` with, on each row, one of the study's subjects among ``:codes``
#: (with enrolment date and infusion time): a use case that names its subjects up front reads
#: them in the same query.
_USER_STUDY_LOCKS_SUBJECTS = (
    _USER_STUDY_LOCKS.add_columns(Subject, Enrolment.enrolled_date, Infusion.infused_at)
    .outerjoin(
        Subject,
        (Subject.study_id == Study.id)
        & Subject.subject_code.in_(bindparam("codes", expanding=True))
        & live(Subject),
    )
    .outerjoin(Enrolment, (Enrolment.subject_id == Subject.id) & live(Enrolment))
    .outerjoin(Infusion, (Infusion.subject_id == Subject.id) & live(Infusion))
)
#: The subjects of study ``:study_id`` among ``:codes``, with enrolment date and infusion time.
_SUBJECTS = (
    select(Subject, Enrolment.enrolled_date, Infusion.infused_at)
    .outerjoin(Enrolment, (Enrolment.subject_id == Subject.id) & live(Enrolment))
    .outerjoin(Infusion, (Infusion.subject_id == Subject.id) & live(Infusion))
    .where(
        Subject.study_id == bindparam("study_id"),
        Subject.subject_code.in_(bindparam("codes", expanding=True)),
        live(Subject),
    )
)


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
    #: Where the person acts from (:attr:`ServiceContext.source`).
    source: str = "in-process"
    _sites: dict[int, str] = field(default_factory=dict)
    _lock: tuple[dt.date, str] | None = None  # active data lock: (cut-off, name)
    #: Subjects read with the use case (by code; codes asked for and not found map to None).
    _prefetched: dict[str, tuple[Subject, dt.date | None, dt.datetime | None] | None] = field(
        default_factory=dict
    )

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
            select(Site).where(Site.study_id == self.study.id, Site.code == code, live(Site))
        )
        if site is None:
            raise ValidationFailed("site_id", f"no site {code!r} in study {self.study.study_code}")
        return site

    def account(self, username: str) -> User:
        """The account ``username``, active or not; :class:`NotFound` on ``username`` if none."""
        user = self.session.scalar(select(User).where(User.username == username, live(User)))
        if user is None:
            raise NotFound(f"username: no account {username!r}")
        return user

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
        wanted = sorted(set(codes))
        rows: Sequence[tuple[Subject, dt.date | None, dt.datetime | None]]
        if wanted and all(code in self._prefetched for code in wanted):
            # Read with the use case, so as they were when it began; used once, as a query
            # at that point would have been (a later fetch reads the current rows).
            rows = [row for code in wanted if (row := self._prefetched.pop(code)) is not None]
        else:
            rows = (
                self.session.execute(_SUBJECTS, {"study_id": self.study.id, "codes": wanted})
                .tuples()
                .all()
            )
        found: dict[str, Subject] = {}
        for subject, enrolled, infused_at in rows:
            self.require(*roles, site_id=subject.site_id)
            self.dates[subject.id] = SubjectDates(enrolled, infused_at)
            found[subject.subject_code] = subject
        return found

    def because(self, reason: str) -> None:
        """Set the reason for change of the writes that follow in this transaction."""
        self.session.info[AUDIT_CONTEXT_KEY] = AuditContext(self.user.username, reason)

    def study_date(self, when: dt.date | dt.datetime) -> dt.date:
        """The calendar day of ``when`` in the study's time zone (a date is already one).

        A timezone-aware time is converted to the protocol's ``study.time_zone`` whatever offset
        it was given in (``2025-11-10T00:30+10:00`` is 2025-11-09 in Asia/Shanghai); a naive
        time is refused.
        """
        if not isinstance(when, dt.datetime):
            return when
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValidationFailed("time", f"{when.isoformat()} has no time zone offset")
        return study_date(when, self._zone_name)

    @property
    def today(self) -> dt.date:
        """Today's date in the study's time zone (the default ``as_of`` of the decisions)."""
        return study_today(self._zone_name)

    def study_time(self, when: dt.date | dt.datetime) -> dt.datetime:
        """The stored (UTC-comparable) time of ``when``: a date is that day in the study's zone.

        A date without a time (an AE onset, a lab without ``time``) means that calendar day in
        the protocol's ``study.time_zone``, so it is stored as 12:00 local time there, converted
        to UTC: the data lock and the date rules (:meth:`study_date`) read it back as the same
        day. Noon is never in a daylight-saving gap, and for every offset within ±12 h it falls
        on the same UTC calendar date; readers take the day in the study's zone
        (:mod:`cartrial.services.study_calendar`), so the date reads back as typed in every
        zone. A timezone-aware time is returned unchanged; a naive one is refused (as by
        :meth:`study_date`).
        """
        if isinstance(when, dt.datetime):
            self.study_date(when)  # refuses a naive time
            return when
        noon = dt.datetime.combine(when, dt.time(12, 0), tzinfo=ZoneInfo(self._zone_name))
        return noon.astimezone(dt.UTC)

    def check_unlocked(self, when: dt.date | dt.datetime, field_name: str) -> None:
        """Refuse a write dated on or before the cut-off of an active (unreleased) data lock.

        ``when`` is a study date, or a time read in the study's time zone (:meth:`study_date`).
        """
        if self._lock is None:
            return
        day = self.study_date(when)
        if day <= self._lock[0]:
            cutoff, name = self._lock
            shown = day if day == when else f"{when.isoformat()} ({day} in {self._zone_name})"
            raise ValidationFailed(
                field_name,
                f"{shown} is on or before the cut-off {cutoff} of data lock {name!r}: "
                "locked data cannot change",
            )

    @property
    def _zone_name(self) -> str:
        return self.protocol.study.time_zone


def _guard_locked_data(uc: UseCase) -> None:
    """Check every flush of ``uc``'s session against the active data lock (the one place)."""

    def before_flush(
        session: Session, _context: UOWTransaction, _instances: Iterable[object] | None
    ) -> None:
        changed = [*session.new, *(o for o in session.dirty if session.is_modified(o))]
        for record in changed:
            if not isinstance(record, Regulated):
                continue
            column = type(record).__data_date__
            if column is None:
                continue
            state = instance_state(record)
            values = [getattr(record, column), state.committed_state.get(column)]
            for value in values:
                if isinstance(value, dt.date):
                    table = record.__table__.name  # type: ignore[attr-defined]
                    what = f"{table} {record.id or '(new)'} {column}"
                    uc.check_unlocked(value, what)

    event.listen(uc.session, "before_flush", before_flush)


def load_user(session: AuditedSession, username: str) -> User:
    """The active user ``username``; :class:`PermissionDenied` when unknown or inactive."""
    user = session.scalar(select(User).where(User.username == username, live(User)))
    if user is None or not user.is_active:
        raise PermissionDenied(f"no active user {username!r}")
    return user


def find_study(session: AuditedSession, study_id: str) -> Study:
    """The latest protocol version of study ``study_id``; :class:`NotFound` when absent."""
    study = session.scalar(
        select(Study)
        .where(Study.study_code == study_id, live(Study))
        .order_by(Study.id.desc())
        .limit(1)
        .options(defer(Study.protocol_yaml))
    )
    if study is None:
        raise NotFound(f"study_id: no study {study_id!r} in this database")
    return study


@contextmanager
def use_case(
    ctx: ServiceContext,
    *roles: str,
    reason: str | None = None,
    site_scoped: bool = False,
    read_only: bool = False,
    subjects: Iterable[str] = (),
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
    read_only
        Run in a read-only session (:func:`cartrial.store.read_only`: never blocks writers, any
        write raises :class:`PermissionDenied`) instead of an audited write transaction.
    subjects
        Codes of the subjects the use case will fetch (:meth:`UseCase.subjects`), read in the
        same query as the user and the study; their role checks still happen when fetched.

    A password refused inside the block (an e-signature) is recorded after the rollback, in a
    transaction of its own (:func:`cartrial.services.lockout.record_failure`).
    """
    try:
        with _use_case(
            ctx, *roles, reason=reason, site_scoped=site_scoped, read_only=read_only,
            subjects=subjects,
        ) as uc:  # fmt: skip
            yield uc
    except PasswordRejected as rejected:
        raise record_failure(ctx.session_factory, rejected) from None


@contextmanager
def _use_case(
    ctx: ServiceContext,
    *roles: str,
    reason: str | None,
    site_scoped: bool,
    read_only: bool,
    subjects: Iterable[str],
) -> Iterator[UseCase]:
    opened = (
        read_only_session(ctx.session_factory)
        if read_only
        else unit_of_work(ctx.session_factory, ctx.user, reason)
    )
    with opened as session:
        codes = sorted(set(subjects))
        parameters: dict[str, object] = {"username": ctx.user, "study_code": ctx.study_id}
        if codes:
            parameters["codes"] = codes
        rows = session.execute(
            _USER_STUDY_LOCKS_SUBJECTS if codes else _USER_STUDY_LOCKS, parameters
        ).all()
        if not rows or not rows[0].User.is_active:
            raise PermissionDenied(f"no active user {ctx.user!r}")
        study = rows[0].Study
        if study is None:
            raise NotFound(f"study_id: no study {ctx.study_id!r} in this database")
        locks = [(row.data_cutoff, row.name) for row in rows if row.data_cutoff is not None]
        uc = UseCase(
            session=session,
            user=rows[0].User,
            study=study,
            protocol=protocol_of(study),
            roles=tuple(dict.fromkeys((row.role, row.site_id) for row in rows if row.role)),
            source=ctx.source,
            _lock=max(locks, key=lambda lock: lock[0]) if locks else None,
        )
        if codes:
            uc._prefetched = dict.fromkeys(codes)
            for row in rows:
                if row.Subject is not None:
                    uc._prefetched[row.Subject.subject_code] = (
                        row.Subject,
                        row.enrolled_date,
                        row.infused_at,
                    )
        if uc._lock is not None and not read_only:
            _guard_locked_data(uc)
        if site_scoped:
            if not any(role in roles for role, _ in uc.roles):
                raise PermissionDenied(
                    f"user {uc.user.username!r} needs one of the roles {', '.join(roles)}"
                )
        else:
            uc.require(*roles)
        yield uc
