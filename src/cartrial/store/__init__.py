"""The trial database: typed SQLAlchemy 2.0 models, audit trail, signatures and migrations.

Public API
----------
Engine and sessions
    :func:`database_url` (``--db`` > ``$CARTRIAL_DATABASE_URL`` > ``./cartrial.db``, read at call
    time), :func:`make_engine`, :func:`session_factory`, :func:`unit_of_work` (one transaction per
    use case, audited as a user with a reason), :func:`read_only` (a read-only session that never
    blocks writers).
Audit trail
    :class:`AuditContext`, :class:`AuditedSession`, :func:`soft_delete` (no hard deletes),
    :func:`verify_chain` / :func:`verify_database` -> :class:`ChainReport`, :func:`read_log` /
    :func:`read_database_log` -> :class:`AuditEntry`.
Optimistic locking
    :func:`check_version`; a stale edit raises :class:`cartrial.errors.Conflict` naming both
    versions (also when two transactions race: ``unit_of_work`` converts ``StaleDataError``).
Users and signatures (:mod:`cartrial.store.auth`)
    :func:`create_user`, :func:`assign_role`, :func:`has_role`, :func:`add_signature`,
    :func:`signatures_for`, :func:`signature_is_valid`, :func:`record_sha256`.
Credentials (:mod:`cartrial.store.credentials`; the rules live in ``cartrial.services.auth``)
    :class:`LoginSession`, :class:`AccessToken`, :class:`AuthFailure`, :class:`AccountLock`,
    :func:`secret_sha256`.
Schema and files
    :func:`upgrade`, :func:`head_revision` (Alembic), :func:`backup`, :func:`restore`,
    :func:`display_url` (a URL without its password, for messages).
Models
    every table class of :mod:`cartrial.store.models`; vocabularies in :mod:`cartrial.vocab`.

Conventions: timestamps are timezone-aware UTC (naive datetimes are refused at flush); filter
soft-deleted rows with :func:`live` (``select(Model).where(live(Model))``); writes go through an
audited session.

Example
-------
>>> from cartrial.store import database_url, make_engine, session_factory, unit_of_work
>>> factory = session_factory(make_engine(database_url("trial.db")))  # doctest: +SKIP
>>> with unit_of_work(factory, "alice", "site added at initiation") as session:  # doctest: +SKIP
...     session.add(Site(study_id=1, code="S01", name="Site 1"))
"""

from __future__ import annotations

from cartrial.store.audit import AuditContext, AuditedSession, soft_delete
from cartrial.store.auth import (
    add_signature,
    assign_role,
    create_user,
    has_role,
    record_sha256,
    signature_is_valid,
    signatures_for,
)
from cartrial.store.backup import backup
from cartrial.store.base import Base, Regulated, UTCDateTime, live, utcnow
from cartrial.store.chain import ChainReport, verify_chain
from cartrial.store.credentials import (
    AccessToken,
    AccountLock,
    AuthFailure,
    LoginSession,
    secret_sha256,
)
from cartrial.store.engine import (
    database_url,
    display_url,
    make_engine,
    open_engine,
    session_factory,
)
from cartrial.store.history import AuditEntry, read_database_log, read_log, verify_database
from cartrial.store.locking import check_version
from cartrial.store.migrate import head_revision, upgrade
from cartrial.store.models import (
    AdaResult,
    AdverseEvent,
    AeGradeChange,
    AuditChainHead,
    AuditLog,
    CrsIcansObservation,
    DatabaseEvent,
    DataLock,
    DataQuery,
    DoseAssignment,
    DoseDecision,
    EligibilityAssessment,
    EligibilityCriterion,
    Enrolment,
    GovernanceRecord,
    Infusion,
    KineticsSample,
    LabResult,
    LesionMeasurement,
    Lymphodepletion,
    PhenotypePanel,
    PhenotypeValue,
    RoleAssignment,
    Signature,
    Site,
    Study,
    Subject,
    SubsequentTherapy,
    SurvivalFollowUp,
    TimepointResponse,
    TumourLesion,
    User,
)
from cartrial.store.restore import restore
from cartrial.store.transaction import read_only, unit_of_work

__all__ = [
    "AccessToken",
    "AccountLock",
    "AdaResult",
    "AdverseEvent",
    "AeGradeChange",
    "AuditChainHead",
    "AuditContext",
    "AuditEntry",
    "AuditLog",
    "AuditedSession",
    "AuthFailure",
    "Base",
    "ChainReport",
    "CrsIcansObservation",
    "DataLock",
    "DataQuery",
    "DatabaseEvent",
    "DoseAssignment",
    "DoseDecision",
    "EligibilityAssessment",
    "EligibilityCriterion",
    "Enrolment",
    "GovernanceRecord",
    "Infusion",
    "KineticsSample",
    "LabResult",
    "LesionMeasurement",
    "LoginSession",
    "Lymphodepletion",
    "PhenotypePanel",
    "PhenotypeValue",
    "Regulated",
    "RoleAssignment",
    "Signature",
    "Site",
    "Study",
    "Subject",
    "SubsequentTherapy",
    "SurvivalFollowUp",
    "TimepointResponse",
    "TumourLesion",
    "UTCDateTime",
    "User",
    "add_signature",
    "assign_role",
    "backup",
    "check_version",
    "create_user",
    "database_url",
    "display_url",
    "has_role",
    "head_revision",
    "live",
    "make_engine",
    "open_engine",
    "read_database_log",
    "read_log",
    "read_only",
    "record_sha256",
    "restore",
    "secret_sha256",
    "session_factory",
    "signature_is_valid",
    "signatures_for",
    "soft_delete",
    "unit_of_work",
    "upgrade",
    "utcnow",
    "verify_chain",
    "verify_database",
]
