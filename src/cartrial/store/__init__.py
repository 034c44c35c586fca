"""The trial database: typed SQLAlchemy 2.0 models, audit trail, signatures and migrations.

Public API
----------
Engine and sessions
    :func:`database_url`, :func:`make_engine`, :func:`session_factory`, :func:`unit_of_work`
Audit trail
    :class:`AuditContext`, :class:`AuditedSession`, :func:`soft_delete`, :func:`verify_chain`
Optimistic locking
    :func:`check_version` (a stale edit raises :class:`cartrial.errors.Conflict`)
Models
    every table class of :mod:`cartrial.store.models`; vocabularies in :mod:`cartrial.store.vocab`

Example
-------
>>> from cartrial.store import database_url, make_engine, session_factory, unit_of_work
>>> factory = session_factory(make_engine(database_url("trial.db")))  # doctest: +SKIP
>>> with unit_of_work(factory, "alice") as session:  # doctest: +SKIP
...     session.add(Site(study_id=1, code="S01", name="Site 1"))
"""

from __future__ import annotations

from cartrial.store.audit import (
    AuditContext,
    AuditedSession,
    ChainReport,
    soft_delete,
    verify_chain,
)
from cartrial.store.base import Base, Regulated, UTCDateTime, utcnow
from cartrial.store.engine import database_url, make_engine, session_factory
from cartrial.store.locking import check_version
from cartrial.store.models import (
    AdaResult,
    AdverseEvent,
    AeGradeChange,
    AuditChainHead,
    AuditLog,
    CrsIcansObservation,
    DataLock,
    DataQuery,
    DoseAssignment,
    DoseDecision,
    EligibilityAssessment,
    EligibilityCriterion,
    Enrolment,
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
from cartrial.store.transaction import unit_of_work

__all__ = [
    "AdaResult",
    "AdverseEvent",
    "AeGradeChange",
    "AuditChainHead",
    "AuditContext",
    "AuditLog",
    "AuditedSession",
    "Base",
    "ChainReport",
    "CrsIcansObservation",
    "DataLock",
    "DataQuery",
    "DoseAssignment",
    "DoseDecision",
    "EligibilityAssessment",
    "EligibilityCriterion",
    "Enrolment",
    "Infusion",
    "KineticsSample",
    "LabResult",
    "LesionMeasurement",
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
    "check_version",
    "database_url",
    "make_engine",
    "session_factory",
    "soft_delete",
    "unit_of_work",
    "utcnow",
    "verify_chain",
]
