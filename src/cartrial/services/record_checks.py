"""The plausibility and duplicate checks of one record, shared by every write use case.

Every use case that writes a subject's record (a lab, an AE and its grade changes, a CRS/ICANS
day, a tumour assessment, a sample, a treatment, a follow-up contact, a withdrawal) calls
:func:`check_record` once the record is flushed, and the bulk imports use the same
:class:`DataChecks` and rule functions (:mod:`cartrial.services.plausibility`). One call applies:

* the subject's date rules to each date of the record (``date-in-future``, ``before-screening``,
  ``after-death``, ``after-withdrawal``), read as study dates in the protocol's time zone;
* the record's own findings (a lab's ``physiological-range`` and ``reference-limits``, a lesion's
  ``lesion-size``), computed by the caller with the rule functions;
* the duplicate rules: a live record of the same family with the same identity
  (:data:`IDENTITIES`: e.g. a lab's subject, test and time) and the same content is an exact
  duplicate (``duplicate-record``, always refused); the same identity with another content is a
  ``near-duplicate``, stored with a data query (families that allow one record per identity,
  such as one infusion or one CRS/ICANS day per date, refuse it in their own checks).

Findings of a rule listed in the protocol's ``data_checks.query_instead_of_refusal`` (and every
near-duplicate) open a data query on the stored record, which the site answers; any other finding
refuses the write (:class:`~cartrial.errors.ValidationFailed` naming the field and the rule), and
the use case's transaction rolls back.

:func:`refuse_duplicate` applies the exact-duplicate rule before a use case's own checks, where a
family's own refusal of a second record (one death, one infusion, ...) would otherwise speak
first: so that re-importing a file reports every line as ``duplicate-record``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, Select, and_, func, literal, select

from cartrial.errors import ValidationFailed
from cartrial.services.context import UseCase
from cartrial.services.plausibility import Finding, check_subject_dates, local_datetime
from cartrial.services.study_calendar import study_today
from cartrial.store import (
    AdaResult,
    AdverseEvent,
    AeGradeChange,
    CrsIcansObservation,
    DataQuery,
    DoseAssignment,
    Enrolment,
    Infusion,
    KineticsSample,
    LabResult,
    LesionMeasurement,
    Lymphodepletion,
    PhenotypePanel,
    Regulated,
    Subject,
    SubsequentTherapy,
    SurvivalFollowUp,
    live,
    utcnow,
)

__all__ = [
    "DUPLICATE",
    "IDENTITIES",
    "DataChecks",
    "Identity",
    "check_record",
    "died_on",
    "open_query",
    "refuse_duplicate",
]

#: How a refusal names the exact-duplicate rule (an import of nothing else is "already imported").
DUPLICATE = "(rule: duplicate-record)"
#: A stored date or time of a record, by the input field it came from.
Dates = Mapping[str, dt.date | dt.datetime | None]


@dataclass(frozen=True)
class Identity:
    """What makes two records of one family the same observation, and the same record.

    ``key``: columns equal in both (same subject, test and time: the same observation);
    ``content``: columns that must also be equal for an exact duplicate.
    """

    key: tuple[str, ...]
    content: tuple[str, ...]


#: The identity of every record family a subject's use cases write.
IDENTITIES: Mapping[type[Regulated], Identity] = {
    Subject: Identity(
        ("study_id", "subject_code"),
        ("site_id", "indication", "sex", "age_years", "ecog", "screened_date"),
    ),
    # one enrolment and one dose per subject: a second one is refused by their use cases
    Enrolment: Identity(("subject_id",), ("enrolled_date",)),
    DoseAssignment: Identity(("subject_id",), ("dose_level",)),
    LabResult: Identity(("subject_id", "lbtestcd", "collected_at"), ("value", "unit")),
    KineticsSample: Identity(("subject_id", "collected_at", "unit"), ("value", "lloq", "assay")),
    AdaResult: Identity(("subject_id", "sample_date"), ("screen", "confirmed", "titer")),
    # a panel is measured once per sample: another panel of the same name is the same record
    PhenotypePanel: Identity(("subject_id", "sample_date", "panel"), ()),
    # an AE is its term and onset; its grade, outcome and resolution change through grade
    # changes, so they are not compared
    AdverseEvent: Identity(
        ("subject_id", "term", "onset_at"),
        ("serious", "attribution", "alternative_cause", "verbatim"),
    ),
    AeGradeChange: Identity(("adverse_event_id", "changed_at"), ("grade",)),
    CrsIcansObservation: Identity(
        ("subject_id", "observed_date"),
        (
            "temperature_c",
            "hypotension",
            "vasopressors",
            "oxygen_device",
            "oxygen_flow_l_min",
            "ice_orientation",
            "ice_naming",
            "ice_commands",
            "ice_writing",
            "ice_attention",
            "consciousness",
            "seizure",
            "motor",
            "icp",
            "tocilizumab",
            "steroids",
        ),
    ),
    LesionMeasurement: Identity(("lesion_id", "assessment_date"), ("diameter_mm", "status")),
    Lymphodepletion: Identity(
        ("subject_id", "agent", "day"), ("dose", "unit", "administered_date")
    ),
    Infusion: Identity(("subject_id",), ("infused_at", "actual_cells", "product_lot")),
    SurvivalFollowUp: Identity(
        ("subject_id", "contact_date"), ("status", "death_date", "death_cause")
    ),
    SubsequentTherapy: Identity(("subject_id", "start_date"), ("therapy",)),
}


def _death(subject: Subject, besides: Regulated | None) -> Select[tuple[dt.date | None]]:
    query = select(func.min(SurvivalFollowUp.death_date)).where(
        SurvivalFollowUp.subject_id == subject.id,
        SurvivalFollowUp.death_date.is_not(None),
        live(SurvivalFollowUp),
    )
    if isinstance(besides, SurvivalFollowUp) and besides.id is not None:
        query = query.where(SurvivalFollowUp.id != besides.id)
    return query


def died_on(uc: UseCase, subject: Subject, *, besides: Regulated | None = None) -> dt.date | None:
    """The subject's recorded death date (``besides``: a record not to count, e.g. the new one)."""
    return uc.session.scalar(_death(subject, besides))


class DataChecks:
    """The plausibility policy of one use case: today's date, and which rules only query.

    Parameters
    ----------
    uc
        The use case: its protocol gives the time zone (today's date there is the latest date
        data can carry) and ``data_checks.query_instead_of_refusal``.
    """

    def __init__(self, uc: UseCase) -> None:
        self.uc = uc
        self.zone = uc.protocol.study.time_zone
        self.today = study_today(self.zone)
        self.queryable = set(uc.protocol.data_checks.query_instead_of_refusal)

    def dates(
        self, subject: Subject, day: dt.date, field: str, *, died: dt.date | None
    ) -> list[Finding]:
        """The subject's date rules on the study date ``day`` of ``field``."""
        return check_subject_dates(
            day,
            field,
            today=self.today,
            screened=subject.screened_date,
            died=died,
            withdrawn=subject.withdrawn_date,
        )

    def split(self, findings: Sequence[Finding]) -> tuple[list[Finding], list[Finding]]:
        """``(refused, queried)``: a near-duplicate and a rule the protocol allows only query."""
        queried = [f for f in findings if f.rule in self.queryable or f.rule == "near-duplicate"]
        return [f for f in findings if f not in queried], queried

    def collected_at(self, day: dt.date, time: dt.time | None) -> dt.datetime:
        """UTC time of a sample: local ``time`` in the study's zone, or ``day`` there (no time).

        A day without a time is stored as :meth:`UseCase.study_time` stores a date.
        """
        if time is None:
            return self.uc.study_time(day)
        return local_datetime(day, time, self.zone, "time")


def open_query(uc: UseCase, subject: Subject, record: Regulated, finding: Finding) -> DataQuery:
    """A data query on the stored ``record`` asking the site to confirm ``finding``."""
    return DataQuery(
        study_id=uc.study.id,
        subject_id=subject.id,
        record_table=record.__table__.name,  # type: ignore[attr-defined]
        record_id=record.id,
        field=finding.field,
        question=f"please confirm: {finding.text()}",
        status="open",
        raised_by=uc.user.username,
        raised_at=utcnow(),
    )


def _refusal(refused: Sequence[Finding]) -> ValidationFailed:
    first, *others = refused
    also = "".join(f"; {f.field}: {f.text()}" for f in others)
    return ValidationFailed(first.field, first.text() + also)


def _stored_like(
    uc: UseCase, subject: Subject | None, record: Regulated, own: int | None
) -> tuple[dt.date | None, list[tuple[Any, ...]]]:
    """The subject's death date and the live records with ``record``'s identity (one query).

    Each stored record is ``(id, *content)``; ``own`` is the id of the record itself (skipped).
    Without ``subject`` the death date is not read (``None``).
    """
    model = type(record)
    died = (
        _death(subject, record).scalar_subquery()
        if subject is not None
        else literal(None, type_=Date)
    )
    identity = IDENTITIES.get(model)
    if identity is None or any(getattr(record, name) is None for name in identity.key):
        return uc.session.scalar(select(died)), []
    same = [getattr(model, name) == getattr(record, name) for name in identity.key]
    if own is not None:
        same.append(model.id != own)
    one = select(literal(1).label("one")).subquery()
    columns = [getattr(model, name) for name in identity.content]
    rows = uc.session.execute(
        select(died, model.id, *columns).select_from(one).outerjoin(model, and_(*same, live(model)))
    ).all()
    return rows[0][0], [tuple(row[1:]) for row in rows if row[1] is not None]


def _duplicates(record: Regulated, stored: Sequence[tuple[Any, ...]], field: str) -> list[Finding]:
    """``duplicate-record`` or ``near-duplicate`` of ``record`` among ``stored`` (id, content)."""
    identity = IDENTITIES.get(type(record))
    if identity is None or not stored:
        return []
    table = record.__table__.name  # type: ignore[attr-defined]
    content = tuple(getattr(record, name) for name in identity.content)
    for row in stored:
        if row[1:] == content:
            return [Finding(field, "duplicate-record", f"exact duplicate of {table} {row[0]}")]
    differs = ", ".join(
        f"{name} {stored[0][i + 1]!r}"
        for i, name in enumerate(identity.content)
        if stored[0][i + 1] != content[i]
    )
    return [
        Finding(
            field,
            "near-duplicate",
            f"same {', '.join(identity.key)} as {table} {stored[0][0]} ({differs})",
        )
    ]


def refuse_duplicate(uc: UseCase, record: Regulated, field: str) -> None:
    """Refuse an exact duplicate of a stored record before a use case's own checks.

    ``record`` is the new record, built but not added to the session (its identity and content
    columns, :data:`IDENTITIES`, set).

    Raises
    ------
    ValidationFailed
        On ``field``, rule ``duplicate-record``, naming the stored record.
    """
    found = _duplicates(record, _stored_like(uc, None, record, None)[1], field)
    exact = [f for f in found if f.rule == "duplicate-record"]
    if exact:
        raise _refusal(exact)


def check_record(
    uc: UseCase,
    subject: Subject,
    record: Regulated,
    *,
    dates: Dates | None = None,
    findings: Sequence[Finding] = (),
) -> tuple[DataQuery, ...]:
    """Check a new ``record`` of ``subject`` (added to the session) and query what may be.

    Parameters
    ----------
    uc
        The use case writing the record.
    subject
        Whose record it is.
    record
        The new record (flushed here if it is not yet).
    dates
        Its dates by input field; by default its data date (``__data_date__``). A time is
        read as a study date in the protocol's time zone.
    findings
        Findings of the record's own values (e.g. :func:`~.plausibility.check_lab_values`).

    Returns
    -------
    tuple of DataQuery
        The data queries opened on the record (queryable findings and near-duplicates).

    Raises
    ------
    ValidationFailed
        A finding the protocol does not let the site answer with a query, naming its field and
        its rule (every such finding of the record in the message).
    """
    model = type(record)
    if record.id is None:
        uc.session.flush()
    column = model.__data_date__
    if dates is None:
        dates = {column: getattr(record, column)} if column is not None else {}
    checks = DataChecks(uc)
    died, stored = _stored_like(uc, subject, record, record.id)
    found: list[Finding] = []
    for field, when in dates.items():
        if when is not None:
            found += checks.dates(subject, uc.study_date(when), field, died=died)
    found += findings
    found += _duplicates(record, stored, next(iter(dates), column or "<row>"))
    refused, queried = checks.split(found)
    if refused:
        raise _refusal(refused)
    opened = tuple(open_query(uc, subject, record, finding) for finding in queried)
    uc.session.add_all(opened)
    return opened
