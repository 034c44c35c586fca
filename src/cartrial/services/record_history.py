"""Per-record audit trail: a subject's records and each one's history (who, when, what, why).

:func:`subject_records` lists every record of one subject (live or soft-deleted) by table and
id; :func:`record_history` returns one record's audit rows from the hash-chained audit log
(``cartrial.store.read_log``). Both are read-only use cases for any role of the study, and a
site role reaches only its own site's subjects (the subject's site is checked like in any use
case). A record that belongs to a subject through another record (a grade change through its
AE, a lesion measurement through its lesion, a phenotype value through its panel, a screening
criterion through its assessment) is reached through that parent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from pydantic import Field
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    bindparam,
    func,
    literal,
    select,
    union_all,
)

from cartrial.errors import NotFound, ValidationFailed
from cartrial.services.base import ServiceInput, ServiceResult, SubjectId
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.signing import manifestation_of
from cartrial.store import (
    AdaResult,
    AdverseEvent,
    AeGradeChange,
    CrsIcansObservation,
    DoseAssignment,
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
    Regulated,
    Signature,
    Subject,
    SubsequentTherapy,
    SurvivalFollowUp,
    TimepointResponse,
    TumourLesion,
    live,
    read_log,
)
from cartrial.vocab import ROLES

__all__ = [
    "RECORD_KINDS",
    "AuditChange",
    "RecordHistory",
    "RecordRef",
    "ShowRecordHistory",
    "SubjectRecords",
    "record_history",
    "subject_records",
]

#: Tables holding a subject's records, in the order of the trial, with what each record is.
_DIRECT: tuple[tuple[type[Regulated], str], ...] = (
    (EligibilityAssessment, "screening"),
    (Enrolment, "enrolment"),
    (DoseAssignment, "dose assignment"),
    (Lymphodepletion, "lymphodepletion"),
    (Infusion, "infusion"),
    (AdverseEvent, "adverse event"),
    (LabResult, "laboratory value"),
    (CrsIcansObservation, "CRS/ICANS day"),
    (TumourLesion, "tumour lesion"),
    (TimepointResponse, "tumour time-point response"),
    (KineticsSample, "kinetics sample"),
    (AdaResult, "anti-drug antibodies"),
    (PhenotypePanel, "phenotype panel"),
    (SurvivalFollowUp, "survival follow-up"),
    (SubsequentTherapy, "subsequent therapy"),
)
#: Records reached through a parent record: (table, what, parent table, foreign key).
_CHILDREN: tuple[tuple[type[Regulated], str, type[Regulated], str], ...] = (
    (EligibilityCriterion, "screening criterion", EligibilityAssessment, "assessment_id"),
    (AeGradeChange, "AE grade change", AdverseEvent, "adverse_event_id"),
    (LesionMeasurement, "lesion measurement", TumourLesion, "lesion_id"),
    (PhenotypeValue, "phenotype value", PhenotypePanel, "panel_id"),
)
#: Table name -> what one of its records is (every table this module reads).
RECORD_KINDS: dict[str, str] = {
    "subjects": "subject",
    **{model.__tablename__: kind for model, kind in _DIRECT},  # type: ignore[attr-defined]
    **{model.__tablename__: kind for model, kind, _, _ in _CHILDREN},  # type: ignore[attr-defined]
}
_MODELS: dict[str, type[Regulated]] = {
    "subjects": Subject,
    **{model.__tablename__: model for model, _ in _DIRECT},  # type: ignore[attr-defined]
    **{model.__tablename__: model for model, _, _, _ in _CHILDREN},  # type: ignore[attr-defined]
}
_PARENT: dict[str, tuple[type[Regulated], str]] = {
    model.__tablename__: (parent, key)  # type: ignore[attr-defined]
    for model, _, parent, key in _CHILDREN
}
#: Attributes that name a record in a listing, first found wins.
_NAMING = (
    "term",
    "lbtestcd",
    "agent",
    "dose_level",
    "lesion_code",
    "criterion_code",
    "marker",
    "panel",
    "analyte",
    "therapy",
    "overall_response",
    "status",
    "phase",
)


class RecordRef(ServiceResult):
    """One record of a subject: table, id, what it is, its data date, a short description and
    the manifestation of each of its e-signatures (name, meaning, UTC and study time, version)."""

    table: str
    record_id: int
    kind: str
    data_date: str | None
    summary: str
    deleted: bool
    signatures: tuple[str, ...] = ()


class SubjectRecords(ServiceResult):
    """Records of one subject, the subject's own first, then in the order of the trial: all of
    them, or the page from ``offset`` (0-based) of the ``total`` records."""

    subject_id: str
    records: tuple[RecordRef, ...]
    offset: int = 0
    total: int


class AuditChange(ServiceResult):
    """One audited change of one field: who, when (UTC), what (old -> new) and why."""

    occurred_at: dt.datetime
    username: str
    action: str
    field: str
    old_value: str | None
    new_value: str | None
    reason: str | None


class ShowRecordHistory(ServiceInput):
    """Which record: its table (one of :data:`RECORD_KINDS`) and database id."""

    table: str = Field(min_length=1, max_length=64)
    record_id: int = Field(ge=1)


class RecordHistory(ServiceResult):
    """The audit trail of one record, oldest change first, and its e-signatures' manifestations."""

    table: str
    record_id: int
    kind: str
    subject_id: str
    summary: str
    deleted: bool
    signatures: tuple[str, ...]
    changes: tuple[AuditChange, ...]


def _ref(table: str, record: Any) -> RecordRef:
    column = type(record).__data_date__
    when = getattr(record, column) if column else None
    named = next(
        (f"{name} {getattr(record, name)}" for name in _NAMING if getattr(record, name, None)),
        "",
    )
    return RecordRef(
        table=table,
        record_id=record.id,
        kind=RECORD_KINDS[table],
        data_date=when.isoformat() if when is not None else None,
        summary=named,
        deleted=record.deleted_at is not None,
    )


def _signatures(
    uc: UseCase, records: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], tuple[str, ...]]:
    """The manifestations of the live signatures of ``records`` ((table, id) pairs), oldest first,
    read in one query."""
    wanted = set(records)
    if not wanted:
        return {}
    zone = uc.protocol.study.time_zone
    found: dict[tuple[str, int], list[str]] = {}
    for sig in uc.session.scalars(
        select(Signature)
        .where(
            Signature.record_table.in_({table for table, _ in wanted}),
            Signature.record_id.in_({record_id for _, record_id in wanted}),
            live(Signature),
        )
        .order_by(Signature.signed_at, Signature.id)
    ):
        key = (sig.record_table, sig.record_id)
        if key in wanted:  # not a record of another table with the same id
            found.setdefault(key, []).append(manifestation_of(sig, zone))
    return {key: tuple(shown) for key, shown in found.items()}


def _with_signatures(uc: UseCase, refs: list[RecordRef]) -> list[RecordRef]:
    signed = _signatures(uc, ((ref.table, ref.record_id) for ref in refs))
    return [
        ref.model_copy(update={"signatures": signed[(ref.table, ref.record_id)]})
        if (ref.table, ref.record_id) in signed
        else ref
        for ref in refs
    ]


#: The database id of the subject whose records :data:`_SOURCES` select.
_SUBJECT_PK: BindParameter[int] = bindparam("subject_pk", type_=Integer)
#: Each table of a subject's records, in listing order, with the condition that picks them
#: (children through their parent); built once, executed with ``subject_pk``.
_SOURCES: tuple[tuple[type[Any], ColumnElement[bool]], ...] = (
    (Subject, Subject.id == _SUBJECT_PK),
    *((model, model.subject_id == _SUBJECT_PK) for model, _ in _DIRECT),  # type: ignore[attr-defined]
    *(
        (model, getattr(model, key).in_(select(parent.id).where(parent.subject_id == _SUBJECT_PK)))  # type: ignore[attr-defined]
        for model, _, parent, key in _CHILDREN
    ),
)
#: How many records each of :data:`_SOURCES` holds for one subject (its index, the count).
_COUNTS = union_all(
    *(
        select(literal(i).label("source"), func.count().label("n")).select_from(model).where(cond)
        for i, (model, cond) in enumerate(_SOURCES)
    )
)
#: Every table's records of one subject, in listing order.
_EVERY = tuple(select(model).where(cond).order_by(model.id) for model, cond in _SOURCES)


def subject_records(
    ctx: ServiceContext, subject_id: SubjectId, *, offset: int = 0, limit: int | None = None
) -> SubjectRecords:
    """The records of ``subject_id`` (soft-deleted ones too, flagged), for its audit trail.

    Every record by default; ``offset`` and ``limit`` ask for one page of the listing (the
    subject's own record first, then table by table in the order of the trial, by id), read
    alone: a page costs the same for a subject with ten records or ten thousand. ``total`` is
    the number of records in the whole listing.

    Raises
    ------
    NotFound
        No such subject in the study.
    PermissionDenied
        The user holds no role at the subject's site.
    ValidationFailed
        A negative ``offset`` or a ``limit`` below 1.
    """
    if offset < 0:
        raise ValidationFailed("offset", "must be 0 or more")
    if limit is not None and limit < 1:
        raise ValidationFailed("limit", "must be 1 or more")
    with use_case(ctx, *ROLES, site_scoped=True, read_only=True, subjects=[subject_id]) as uc:
        subject = uc.subject(subject_id, *ROLES)
        at = {"subject_pk": subject.id}
        if limit is None:
            refs = [
                _ref(model.__tablename__, record)
                for (model, _), statement in zip(_SOURCES, _EVERY, strict=True)
                for record in uc.session.scalars(statement, at)
            ]
            return SubjectRecords(
                subject_id=subject_id, records=tuple(_with_signatures(uc, refs)), total=len(refs)
            )
        counts = dict(uc.session.execute(_COUNTS, at).tuples().all())
        refs = []
        skip = offset  # records still to pass over before the page begins
        for i, statement in enumerate(_EVERY):
            count, wanted = int(counts.get(i, 0)), limit - len(refs)
            if skip >= count or wanted <= 0:
                skip = max(skip - count, 0)
                continue
            page = statement.offset(skip).limit(wanted)
            refs += [_ref(_SOURCES[i][0].__tablename__, r) for r in uc.session.scalars(page, at)]
            skip = 0
        return SubjectRecords(
            subject_id=subject_id,
            records=tuple(_with_signatures(uc, refs)),
            offset=offset,
            total=sum(int(n) for n in counts.values()),
        )


def _subject_of(uc: UseCase, table: str, record: Any) -> Subject:
    """The subject ``record`` belongs to (through its parent for a child record)."""
    if table == "subjects":
        subject: Subject = record
        return subject
    if table in _PARENT:
        parent_model, key = _PARENT[table]
        record = uc.session.get(parent_model, getattr(record, key))
    found = uc.session.get(Subject, record.subject_id)
    assert found is not None  # a foreign key
    return found


def record_history(ctx: ServiceContext, data: ShowRecordHistory) -> RecordHistory:
    """The audit trail of one subject record: every change, who made it, when and why.

    Raises
    ------
    NotFound
        An unknown table, no such record, or a record of another study.
    PermissionDenied
        The user holds no role at the record's subject's site.
    """
    model = _MODELS.get(data.table)
    if model is None:
        raise NotFound(f"table: no subject records in {data.table!r}")
    with use_case(ctx, *ROLES, site_scoped=True, read_only=True) as uc:
        record = uc.session.get(model, data.record_id)
        subject = _subject_of(uc, data.table, record) if record is not None else None
        if record is None or subject is None or subject.study_id != uc.study.id:
            raise NotFound(f"record_id: no {RECORD_KINDS[data.table]} {data.record_id}")
        uc.subject(subject.subject_code, *ROLES)  # the site check of any use case
        entries = read_log(uc.session.connection(), table_name=data.table, record_id=record.id)
        ref = _ref(data.table, record)
        return RecordHistory(
            table=data.table,
            record_id=record.id,
            kind=ref.kind,
            subject_id=subject.subject_code,
            summary=ref.summary,
            deleted=ref.deleted,
            signatures=_signatures(uc, [(data.table, record.id)]).get((data.table, record.id), ()),
            changes=tuple(
                AuditChange(
                    occurred_at=e.occurred_at,
                    username=e.username,
                    action=e.action,
                    field=e.field,
                    old_value=e.old_value,
                    new_value=e.new_value,
                    reason=e.reason,
                )
                for e in entries
            ),
        )
