"""Safety data: adverse events and their grade course, laboratory results.

Derived values are computed at write time with :mod:`cartrial.rules`: the SOC and the validity of
an AE grade come from the CTCAE v5.0 catalogue, a lab value's CTCAE term and grade from
``ctcae.grade_labs``, and after every AE change the subject's DLT flags are re-derived with the
protocol's DLT definition (:func:`cartrial.services.derive.derive_subject_dlt`); the rules decide
each event on its own, so only the changed AE is re-decided.
CRS/ICANS days are in :mod:`cartrial.services.toxicity`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import pandas as pd
from pydantic import AwareDatetime, Field

from cartrial.errors import NotFound, RuleInputError, ValidationFailed
from cartrial.rules import ctcae
from cartrial.services.base import ServiceInput, ServiceResult, SubjectId, check_order
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.derive import derive_subject_dlt, lab_grade_frame
from cartrial.services.plausibility import check_lab_values
from cartrial.services.record_checks import check_record, refuse_duplicate
from cartrial.store import AdverseEvent, AeGradeChange, LabResult, Subject, check_version
from cartrial.vocab import AEOutcome, Attribution, Cause

__all__ = [
    "AERecorded",
    "GradeChangeRecorded",
    "LabRecorded",
    "RecordAE",
    "RecordGradeChange",
    "RecordLab",
    "check_lab_date",
    "check_term",
    "record_ae",
    "record_aes",
    "record_grade_change",
    "record_lab",
    "store_labs",
]

CLINICAL_STAFF = ("investigator", "site_coordinator")
LAB_STAFF = ("investigator", "site_coordinator", "data_manager")


class RecordAE(ServiceInput):
    """An adverse event: CTCAE v5.0 term and worst grade so far, dates, seriousness, causality.

    ``onset_at``/``resolved_at`` are timezone-aware datetimes or dates (a date means that day in
    the study's time zone, stored at 12:00 local time: :meth:`UseCase.study_time`).
    ``alternative_cause`` is the protocol's cause vocabulary used by DLT exclusions.
    """

    subject_id: SubjectId
    term: str = Field(min_length=1)
    grade: int = Field(ge=1, le=5)
    onset_at: AwareDatetime | dt.date
    resolved_at: AwareDatetime | dt.date | None = None
    serious: bool = False
    attribution: Attribution
    alternative_cause: Cause | None = None
    outcome: AEOutcome | None = None
    verbatim: str | None = Field(default=None, max_length=500)


class AERecorded(ServiceResult):
    """The stored AE with its SOC and its DLT flag as derived by the protocol's rules."""

    ae_id: int
    subject_id: str
    term: str
    soc: str
    grade: int
    is_dlt: bool | None
    dlt_rule_id: str | None
    version: int


def check_term(term: str, grade: int) -> ctcae.TermInfo:
    """The CTCAE v5.0 entry of ``term``, after checking that it has grade ``grade``.

    Shared by :func:`record_ae` and the AE form's preview
    (:func:`cartrial.services.ae_preview.preview_ae`), so both refuse the same input.

    Raises
    ------
    ValidationFailed
        On ``term`` (unknown to CTCAE) or ``grade`` (a grade the term does not have).
    """
    try:
        info = ctcae.term_info(term)
    except RuleInputError as exc:
        raise ValidationFailed("term", str(exc)) from None
    if not ctcae.is_valid_grade(info.term, grade):
        allowed = ", ".join(str(g) for g in info.grades)
        raise ValidationFailed(
            "grade", f"{info.term!r} has no grade {grade} (CTCAE allows {allowed})"
        )
    return info


def _new_ae(uc: UseCase, data: RecordAE, subjects: Mapping[str, Subject]) -> AdverseEvent:
    """Check one AE against the catalogue and the subject's dates; build it (not yet added)."""
    info = check_term(data.term, data.grade)
    onset = uc.study_time(data.onset_at)
    resolved = uc.study_time(data.resolved_at) if data.resolved_at is not None else None
    check_order(onset, resolved, field="resolved_at", earlier_name="the onset")
    if (data.outcome == "fatal") != (data.grade == 5):
        raise ValidationFailed("outcome", "a fatal outcome goes with grade 5, and only with it")
    subject = subjects.get(data.subject_id)
    if subject is None:
        raise NotFound(f"subject_id: no subject {data.subject_id!r} in this study")
    enrolled = uc.dates[subject.id].enrolled
    if enrolled is None:
        raise ValidationFailed("subject_id", f"subject {data.subject_id!r} is not enrolled")
    check_order(enrolled, uc.study_date(onset), field="onset_at", earlier_name="the enrolment date")
    uc.check_unlocked(onset, "onset_at")
    ae = AdverseEvent(
        subject_id=subject.id,
        term=info.term,
        soc=info.soc,
        verbatim=data.verbatim,
        grade=data.grade,
        onset_at=onset,
        resolved_at=resolved,
        serious=data.serious,
        attribution=data.attribution,
        alternative_cause=data.alternative_cause,
        outcome=data.outcome,
    )
    AeGradeChange(adverse_event=ae, grade=data.grade, changed_at=onset)
    if resolved is not None:
        AeGradeChange(adverse_event=ae, grade=0, changed_at=resolved)
    return ae


def _store_aes(
    uc: UseCase, items: Sequence[RecordAE], *, prefix: str | None
) -> tuple[AERecorded, ...]:
    subjects = uc.subjects({item.subject_id for item in items}, *CLINICAL_STAFF)
    built: list[tuple[Subject, AdverseEvent]] = []
    for i, data in enumerate(items):
        try:
            ae = _new_ae(uc, data, subjects)
            built.append((subjects[data.subject_id], ae))
        except ValidationFailed as exc:
            if prefix is None:
                raise
            message = str(exc).removeprefix(f"{exc.field}: ")
            raise ValidationFailed(f"{prefix}.{i}.{exc.field}", message) from None
    by_subject: dict[int, list[AdverseEvent]] = {}
    for subject, ae in built:
        by_subject.setdefault(subject.id, []).append(ae)
    for subject in subjects.values():
        if subject.id in by_subject:
            derive_subject_dlt(uc, subject, by_subject[subject.id])
    uc.session.add_all(ae for _, ae in built)
    uc.session.flush()
    for i, (subject, ae) in enumerate(built):
        try:
            check_record(
                uc, subject, ae, dates={"onset_at": ae.onset_at, "resolved_at": ae.resolved_at}
            )
        except ValidationFailed as exc:
            if prefix is None:
                raise
            message = str(exc).removeprefix(f"{exc.field}: ")
            raise ValidationFailed(f"{prefix}.{i}.{exc.field}", message) from None
    return tuple(
        AERecorded(
            ae_id=ae.id,
            subject_id=data.subject_id,
            term=ae.term,
            soc=ae.soc,
            grade=ae.grade,
            is_dlt=ae.is_dlt,
            dlt_rule_id=ae.dlt_rule_id,
            version=ae.version,
        )
        for data, (_, ae) in zip(items, built, strict=True)
    )


def record_ae(ctx: ServiceContext, data: RecordAE) -> AERecorded:
    """Record an adverse event with its DLT flag decided by the protocol's rules.

    Raises
    ------
    ValidationFailed
        ``term`` unknown to CTCAE v5.0; ``grade`` the term does not have; ``onset_at`` before
        enrolment or in locked data; ``resolved_at`` before onset; ``outcome`` fatal without
        grade 5.
    """
    with use_case(ctx, *CLINICAL_STAFF, site_scoped=True, subjects=[data.subject_id]) as uc:
        (result,) = _store_aes(uc, [data], prefix=None)
        return result


def record_aes(ctx: ServiceContext, items: Sequence[RecordAE]) -> tuple[AERecorded, ...]:
    """Record many AEs in one transaction (all or nothing), each checked as :func:`record_ae`.

    Raises
    ------
    ValidationFailed
        Naming ``aes.<i>.<field>`` of the first bad item; nothing is written.
    """
    with use_case(ctx, *CLINICAL_STAFF, site_scoped=True) as uc, uc.session.no_autoflush:
        return _store_aes(uc, items, prefix="aes")


class RecordGradeChange(ServiceInput):
    """A new grade of an ongoing AE from ``changed_at`` on (0 = resolved to baseline).

    ``expected_version`` is the AE version the user read (optimistic locking).
    """

    ae_id: int = Field(gt=0)
    grade: int = Field(ge=0, le=5)
    changed_at: AwareDatetime | dt.date
    expected_version: int = Field(gt=0)
    outcome: AEOutcome | None = None


class GradeChangeRecorded(ServiceResult):
    """The AE after the change: worst grade, resolution time, DLT flag, new version."""

    ae_id: int
    worst_grade: int
    resolved_at: dt.datetime | None
    is_dlt: bool | None
    version: int


def record_grade_change(ctx: ServiceContext, data: RecordGradeChange) -> GradeChangeRecorded:
    """Record a change of grade of an AE; grade 0 resolves it. Updates the worst grade.

    Raises
    ------
    ValidationFailed
        ``grade`` the term does not have; ``changed_at`` not after the previous change or after
        resolution.
    Conflict
        The AE changed since the user read it (``expected_version``).
    """
    changed = data.changed_at
    shown = (
        f"{changed.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
        if isinstance(changed, dt.datetime)
        else changed.isoformat()
    )
    reason = f"grade course: grade {data.grade} from {shown}"
    with use_case(ctx, *CLINICAL_STAFF, site_scoped=True, reason=reason) as uc:
        when = uc.study_time(changed)
        ae = uc.session.get(AdverseEvent, data.ae_id)
        if ae is None or ae.deleted_at is not None:
            raise NotFound(f"ae_id: no adverse event {data.ae_id}")
        subject = uc.session.get(Subject, ae.subject_id)
        if subject is None or subject.study_id != uc.study.id:
            raise NotFound(f"ae_id: no adverse event {data.ae_id} in this study")
        uc.subject(subject.subject_code, *CLINICAL_STAFF)
        check_version(ae, data.expected_version)
        same = AeGradeChange(adverse_event_id=ae.id, grade=data.grade, changed_at=when)
        refuse_duplicate(uc, same, "changed_at")
        if data.grade > 0 and not ctcae.is_valid_grade(ae.term, data.grade):
            raise ValidationFailed("grade", f"{ae.term!r} has no grade {data.grade}")
        if ae.resolved_at is not None:
            raise ValidationFailed("changed_at", f"AE {ae.id} resolved at {ae.resolved_at}")
        last = max((c.changed_at for c in ae.grade_changes if c.deleted_at is None), default=None)
        check_order(
            last, when, field="changed_at", earlier_name="the previous grade", allow_equal=False
        )
        uc.check_unlocked(when, "changed_at")
        # Through the relationship: the course the DLT rules see includes the new change.
        change = AeGradeChange(adverse_event=ae, grade=data.grade, changed_at=when)
        uc.session.add(change)
        if data.grade > ae.grade:
            ae.grade = data.grade
        if data.grade == 0:
            ae.resolved_at = when
        if data.outcome is not None:
            ae.outcome = data.outcome
        # The DLT flags follow from the new course: derived before the one write of the change,
        # which keeps the user's reason for change.
        derive_subject_dlt(uc, subject, [ae])
        uc.because(reason)
        uc.session.flush()
        check_record(uc, subject, change)
        return GradeChangeRecorded(
            ae_id=ae.id,
            worst_grade=ae.grade,
            resolved_at=ae.resolved_at,
            is_dlt=ae.is_dlt,
            version=ae.version,
        )


class RecordLab(ServiceInput):
    """A laboratory result: CDISC LBTESTCD, value and unit, reference limits, optional baseline.

    ``collected_at`` is a timezone-aware datetime or a date (that day in the study's time zone:
    :meth:`UseCase.study_time`). ``lln``/``uln``/``baseline`` are in ``unit``.
    """

    subject_id: SubjectId
    collected_at: AwareDatetime | dt.date
    lbtestcd: str = Field(min_length=1, max_length=16)
    value: float = Field(ge=0)
    unit: str = Field(min_length=1, max_length=32)
    lln: float | None = Field(default=None, ge=0)
    uln: float | None = Field(default=None, ge=0)
    baseline: float | None = Field(default=None, ge=0)


class LabRecorded(ServiceResult):
    """The stored result with its CTCAE term and grade (``None``: no numeric criterion)."""

    lab_id: int
    subject_id: str
    lbtestcd: str
    term: str | None
    grade: int | None
    criterion: str


def check_lab_date(uc: UseCase, subject: Subject, when: dt.datetime) -> None:
    """Refuse a lab dated inside locked data (its other dates: the plausibility rules)."""
    uc.check_unlocked(when, "collected_at")


def store_labs(uc: UseCase, rows: list[tuple[Subject, RecordLab]]) -> list[LabResult]:
    """Grade and add many lab results in the current use case (one ``grade_labs`` call).

    Raises
    ------
    ValidationFailed
        Naming the field (and, for several rows, the 1-based row) the grading rejected.
    """
    graded = lab_grade_frame(
        pd.DataFrame(
            {
                "lbtestcd": [r.lbtestcd for _, r in rows],
                "value": [r.value for _, r in rows],
                "unit": [r.unit for _, r in rows],
                "lln": [r.lln for _, r in rows],
                "uln": [r.uln for _, r in rows],
                "baseline": [r.baseline for _, r in rows],
            }
        )
    )
    results: list[LabResult] = []
    for (subject, row), term, grade, criterion in zip(
        rows, graded["term"], graded["grade"], graded["criterion"], strict=True
    ):
        when = uc.study_time(row.collected_at)
        check_lab_date(uc, subject, when)
        results.append(
            LabResult(
                subject_id=subject.id,
                collected_at=when,
                lbtestcd=row.lbtestcd,
                value=row.value,
                unit=row.unit,
                lln=row.lln,
                uln=row.uln,
                baseline=row.baseline,
                term=term,
                grade=grade,
                grade_criterion=criterion,
            )
        )
    uc.session.add_all(results)
    return results


def record_lab(ctx: ServiceContext, data: RecordLab) -> LabRecorded:
    """Record one lab result with its CTCAE grade derived at write time.

    Raises
    ------
    ValidationFailed
        ``lbtestcd`` or ``unit`` unknown to the grading tables, a limit the criteria need is
        missing, or ``collected_at`` before screening.
    """
    with use_case(ctx, *LAB_STAFF, site_scoped=True, subjects=[data.subject_id]) as uc:
        subject = uc.subject(data.subject_id, *LAB_STAFF)
        (lab,) = store_labs(uc, [(subject, data)])
        check_record(
            uc,
            subject,
            lab,
            findings=check_lab_values(lab.lbtestcd, lab.value, lab.unit, lab.lln, lab.uln),
        )
        return LabRecorded(
            lab_id=lab.id,
            subject_id=data.subject_id,
            lbtestcd=lab.lbtestcd,
            term=lab.term,
            grade=lab.grade,
            criterion=lab.grade_criterion or "",
        )
