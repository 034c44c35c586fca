"""Efficacy: RECIST 1.1 tumour assessments, with time-point responses derived at write time.

Each assessment stores its lesions (identified at baseline as target or non-target, later ones as
new) and then re-evaluates the subject's whole history with ``cartrial.rules.recist.evaluate``
(a response depends on baseline, nadir and confirmation across assessments).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from pydantic import Field
from sqlalchemy import select

from cartrial.errors import ValidationFailed
from cartrial.services.base import ServiceInput, ServiceResult, SubjectId
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.derive import lesion_frame, recist_frame, sync_timepoints
from cartrial.services.plausibility import check_lesion_diameter
from cartrial.services.record_checks import check_record, refuse_duplicate
from cartrial.services.treatment import enrolment_of, infusion_of
from cartrial.store import LesionMeasurement, Subject, TimepointResponse, TumourLesion, live
from cartrial.vocab import LesionCategory, LesionStatus

__all__ = [
    "ASSESSORS",
    "LesionInput",
    "RecordTumourAssessment",
    "TumourAssessed",
    "derive_subject_recist",
    "record_tumour_assessment",
    "store_assessment",
]

ASSESSORS = ("investigator", "site_coordinator", "data_manager")


class LesionInput(ServiceInput):
    """One lesion at one assessment (see :class:`~cartrial.services.csvrows.LesionRow`)."""

    lesion_id: str = Field(min_length=1, max_length=16)
    category: LesionCategory
    organ: str = Field(min_length=1, max_length=64)
    is_lymph_node: bool = False
    diameter_mm: float | None = Field(default=None, ge=0)
    status: LesionStatus = "present"


class RecordTumourAssessment(ServiceInput):
    """A RECIST 1.1 assessment: every lesion assessed on ``assessment_date``."""

    subject_id: SubjectId
    assessment_date: dt.date
    lesions: tuple[LesionInput, ...] = Field(min_length=1)
    method: str | None = Field(default=None, max_length=16)


class TumourAssessed(ServiceResult):
    """The derived time-point response of this assessment (``None`` for the baseline).

    ``visit`` is the protocol visit whose ``tumour`` window holds the assessment day
    (``"unscheduled"`` when none does; ``"baseline"`` before the infusion).
    """

    subject_id: str
    assessment_date: dt.date
    baseline: bool
    visit: str
    overall_response: str | None
    target_response: str | None
    sum_of_diameters_mm: float | None
    pct_change_from_baseline: float | None


def store_assessment(
    uc: UseCase,
    subject: Subject,
    day: dt.date,
    lesions: tuple[LesionInput, ...],
    method: str | None,
) -> bool:
    """Check and add one assessment's lesions; return whether it is the baseline.

    Raises
    ------
    ValidationFailed
        ``assessment_date`` already assessed, a baseline after infusion or a follow-up
        assessment before it; ``lesions`` with a duplicate id, a lesion whose category, organ or
        node flag differs from its baseline record, or a new target/non-target after baseline.
    """
    enrolment_of(uc, subject)
    uc.check_unlocked(day, "assessment_date")
    known = {
        lesion.lesion_code: lesion
        for lesion in uc.session.scalars(
            select(TumourLesion).where(TumourLesion.subject_id == subject.id, live(TumourLesion))
        )
    }
    dates = set(
        uc.session.scalars(
            select(LesionMeasurement.assessment_date)
            .join(TumourLesion, TumourLesion.id == LesionMeasurement.lesion_id)
            .where(TumourLesion.subject_id == subject.id, live(LesionMeasurement))
        )
    )
    if day in dates:
        for i, item in enumerate(lesions):  # a copy of the stored assessment: a duplicate
            if (stored := known.get(item.lesion_id)) is not None:
                copy = LesionMeasurement(
                    lesion_id=stored.id,
                    assessment_date=day,
                    diameter_mm=item.diameter_mm,
                    status=item.status,
                )
                refuse_duplicate(uc, copy, f"lesions.{i}.lesion_id")
        raise ValidationFailed("assessment_date", f"{day} is already assessed for this subject")
    baseline = not dates or day < min(dates)
    if dates and day < min(dates):
        raise ValidationFailed("assessment_date", f"{day} is before the baseline {min(dates)}")
    infusion = infusion_of(uc, subject)
    day0 = uc.study_date(infusion.infused_at) if infusion is not None else None
    if baseline and day0 is not None and day > day0:
        raise ValidationFailed("assessment_date", f"baseline {day} is after the infusion {day0}")
    if not baseline and (day0 is None or day <= day0):
        raise ValidationFailed(
            "assessment_date", "a follow-up assessment must come after the infusion"
        )
    ids = [lesion.lesion_id for lesion in lesions]
    if len(set(ids)) != len(ids):
        raise ValidationFailed("lesions", "a lesion id appears twice in one assessment")
    measured: list[tuple[str, LesionMeasurement]] = []
    for i, item in enumerate(lesions):
        record = known.get(item.lesion_id)
        if record is None:
            if baseline == (item.category == "new"):
                expected = "target or non_target" if baseline else "new"
                raise ValidationFailed(
                    f"lesions.{i}.category",
                    f"lesion {item.lesion_id} first seen at "
                    f"{'baseline' if baseline else 'follow-up'} must be {expected}",
                )
            record = TumourLesion(
                subject_id=subject.id,
                lesion_code=item.lesion_id,
                category=item.category,
                organ=item.organ,
                is_lymph_node=item.is_lymph_node,
            )
            uc.session.add(record)
            uc.session.flush()
            known[item.lesion_id] = record
        elif (record.category, record.organ, record.is_lymph_node) != (
            item.category,
            item.organ,
            item.is_lymph_node,
        ):
            raise ValidationFailed(
                f"lesions.{i}.lesion_id",
                f"lesion {item.lesion_id} was recorded as {record.category} in {record.organ}",
            )
        measurement = LesionMeasurement(
            lesion_id=record.id,
            assessment_date=day,
            diameter_mm=item.diameter_mm,
            status=item.status,
            method=method,
        )
        uc.session.add(measurement)
        measured.append((f"lesions.{i}.diameter_mm", measurement))
    uc.session.flush()
    for i, (field, measurement) in enumerate(measured):
        sizes = check_lesion_diameter(measurement.diameter_mm)
        check_record(
            uc,
            subject,
            measurement,
            dates={"assessment_date": day} if i == 0 else {},
            findings=[replace(finding, field=field) for finding in sizes],
        )
    return baseline


def derive_subject_recist(uc: UseCase, subject: Subject) -> list[TimepointResponse]:
    """Re-evaluate the subject's whole RECIST history and store the time-point responses."""
    infusion = infusion_of(uc, subject)
    lesions = lesion_frame(uc.session, [subject.id], uc.study.id)
    dates = {subject.id: uc.study_date(infusion.infused_at)} if infusion is not None else {}
    computed = recist_frame(uc.protocol, lesions, dates)
    existing = list(
        uc.session.scalars(
            select(TimepointResponse).where(
                TimepointResponse.subject_id == subject.id, live(TimepointResponse)
            )
        )
    )
    uc.because(f"derived: RECIST 1.1 time-point responses of {subject.subject_code}")
    sync_timepoints(uc.session, existing, computed, [subject.id])
    uc.session.flush()
    return list(
        uc.session.scalars(
            select(TimepointResponse).where(
                TimepointResponse.subject_id == subject.id, live(TimepointResponse)
            )
        )
    )


def record_tumour_assessment(ctx: ServiceContext, data: RecordTumourAssessment) -> TumourAssessed:
    """Record one RECIST 1.1 assessment and derive the time-point responses of the subject.

    Raises
    ------
    ValidationFailed
        See :func:`store_assessment`; ``lesions`` when the RECIST engine rejects the history
        (e.g. a target lesion without a diameter).
    """
    with use_case(ctx, *ASSESSORS, site_scoped=True, subjects=[data.subject_id]) as uc:
        subject = uc.subject(data.subject_id, *ASSESSORS)
        baseline = store_assessment(uc, subject, data.assessment_date, data.lesions, data.method)
        responses = derive_subject_recist(uc, subject)
        this = next((r for r in responses if r.assessment_date == data.assessment_date), None)
        infusion = infusion_of(uc, subject)
        visit = "baseline"
        if infusion is not None:
            day = (data.assessment_date - uc.study_date(infusion.infused_at)).days
            scheduled = uc.protocol.schedule.visit_for_day(day, "tumour")
            visit = scheduled.name if scheduled is not None else "unscheduled"
        return TumourAssessed(
            subject_id=data.subject_id,
            assessment_date=data.assessment_date,
            baseline=baseline,
            visit=visit,
            overall_response=this.overall_response if this else None,
            target_response=this.target_response if this else None,
            sum_of_diameters_mm=this.sum_of_diameters_mm if this else None,
            pct_change_from_baseline=this.pct_change_from_baseline if this else None,
        )
