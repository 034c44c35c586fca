"""Study set-up and the way into the trial: study, sites, users, screening, enrolment, dose.

Use cases
---------
:func:`screen_subject`
    records the screening and every eligibility criterion with its evidence.
:func:`enrol_subject`
    enrols an eligible subject into the study's current phase (and escalation cohort).
:func:`assign_dose`
    assigns the one dose level the current signed dose decision allows.
Study, site and user set-up live in :mod:`cartrial.services.admin`.
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field
from sqlalchemy import func, select

from cartrial.designs import is_time_to_event_name
from cartrial.errors import ValidationFailed
from cartrial.services.base import ServiceInput, ServiceResult, SubjectId, check_order
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.eligibility import (
    CriterionResult,
    ScreenSubject,
    criterion_value,
    evaluate_eligibility,
)
from cartrial.services.governance import latest_decision
from cartrial.services.record_checks import check_record, refuse_duplicate
from cartrial.store import (
    DoseAssignment,
    DoseDecision,
    EligibilityAssessment,
    EligibilityCriterion,
    Enrolment,
    Signature,
    Subject,
    live,
    utcnow,
)

__all__ = [
    "AssignDose",
    "DoseAssigned",
    "EnrolSubject",
    "Screened",
    "SubjectEnrolled",
    "allowed_dose",
    "assign_dose",
    "current_cohort",
    "enrol_subject",
    "screen_subject",
]

SITE_STAFF = ("investigator", "site_coordinator")


class Screened(ServiceResult):
    """Outcome of screening: eligible or not, and why (every criterion with its evidence)."""

    subject_id: str
    eligible: bool
    criteria: tuple[CriterionResult, ...]


def screen_subject(ctx: ServiceContext, data: ScreenSubject) -> Screened:
    """Register a subject at screening and record each eligibility criterion with its evidence.

    A subject failing any criterion is stored as ``screen_failed`` (screen failures are part of
    the record); a subject code already used in the study is refused.

    Raises
    ------
    ValidationFailed
        ``subject_id`` already exists in the study, or ``site_id`` is unknown.
    PermissionDenied
        The user is not an investigator or site coordinator at the site.
    """
    with use_case(ctx, *SITE_STAFF, site_scoped=True) as uc:
        site = uc.site(data.site_id)
        uc.require(*SITE_STAFF, site_id=site.id)
        uc.check_unlocked(data.screening_date, "screening_date")
        same = Subject(
            study_id=uc.study.id,
            site_id=site.id,
            subject_code=data.subject_id,
            indication=data.indication,
            sex=data.sex,
            age_years=data.age,
            ecog=data.ecog,
            screened_date=data.screening_date,
        )
        refuse_duplicate(uc, same, "subject_id")
        existing = uc.session.scalar(
            select(Subject.id).where(
                Subject.study_id == uc.study.id, Subject.subject_code == data.subject_id
            )
        )
        if existing is not None:
            raise ValidationFailed(
                "subject_id", f"subject {data.subject_id!r} already exists in this study"
            )
        criteria = evaluate_eligibility(uc.protocol, data)
        eligible = all(c.met for c in criteria)
        subject = Subject(
            study_id=uc.study.id,
            site_id=site.id,
            subject_code=data.subject_id,
            status="screening" if eligible else "screen_failed",
            indication=data.indication,
            sex=data.sex,
            age_years=data.age,
            ecog=data.ecog,
            screened_date=data.screening_date,
        )
        uc.session.add(subject)
        check_record(uc, subject, subject, dates={"screening_date": data.screening_date})
        assessment = EligibilityAssessment(
            subject_id=subject.id,
            assessed_date=data.screening_date,
            cldn18_ihc_pct=data.cldn18_ihc_pct,
            histology=data.indication,
            eligible=eligible,
        )
        uc.session.add(assessment)
        uc.session.flush()
        uc.session.add_all(
            EligibilityCriterion(
                assessment_id=assessment.id,
                criterion_code=c.criterion,
                kind="inclusion",
                description=c.criterion.replace("_", " "),
                value=criterion_value(data, c.criterion),
                met=c.met,
                evidence=c.evidence,
            )
            for c in criteria
        )
        return Screened(subject_id=data.subject_id, eligible=eligible, criteria=criteria)


class EnrolSubject(ServiceInput):
    """Enrol a screened, eligible subject on ``enrolled_date``."""

    subject_id: SubjectId
    enrolled_date: dt.date


class SubjectEnrolled(ServiceResult):
    """The subject's phase and (in escalation) cohort number."""

    subject_id: str
    phase: str
    cohort: int | None


def current_cohort(uc: UseCase) -> int:
    """Escalation cohort now enrolling: one more than the number of signed dose decisions."""
    decided = uc.session.scalar(
        select(func.count(DoseDecision.id.distinct()))
        .join(
            Signature,
            (Signature.record_table == "dose_decisions") & (Signature.record_id == DoseDecision.id),
        )
        .where(DoseDecision.study_id == uc.study.id, live(DoseDecision))
    )
    return int(decided or 0) + 1


def expansion_stopped(uc: UseCase) -> bool:
    """Whether a signed decision stopping the expansion has been recorded for the study."""
    return latest_decision(uc, "expansion_stop") is not None


def enrol_subject(ctx: ServiceContext, data: EnrolSubject) -> SubjectEnrolled:
    """Enrol an eligible subject into the study's current phase.

    In escalation the subject joins the cohort now enrolling (cohort ``k`` follows the
    ``k-1``-th signed dose decision); a full cohort (``escalation.cohort_size`` subjects, withdrawn
    subjects being replaced) or a full phase (``max_subjects`` / ``expansion.planned_subjects``)
    refuses more subjects.

    Raises
    ------
    ValidationFailed
        ``subject_id`` not eligible or already enrolled; ``enrolled_date`` before screening;
        the cohort or phase is full; the expansion was stopped.
    """
    with use_case(
        ctx, *SITE_STAFF, site_scoped=True, reason="subject enrolled", subjects=[data.subject_id]
    ) as uc:
        subject = uc.subject(data.subject_id, *SITE_STAFF)
        same = Enrolment(subject_id=subject.id, enrolled_date=data.enrolled_date)
        refuse_duplicate(uc, same, "enrolled_date")
        if subject.status != "screening":
            raise ValidationFailed(
                "subject_id", f"subject {data.subject_id!r} is {subject.status}, not eligible"
            )
        check_order(
            subject.screened_date,
            data.enrolled_date,
            field="enrolled_date",
            earlier_name="the screening date",
        )
        uc.check_unlocked(data.enrolled_date, "enrolled_date")
        phase = uc.study.phase
        enrolled = (
            select(func.count(Enrolment.id))
            .join(Subject, Subject.id == Enrolment.subject_id)
            .where(
                Subject.study_id == uc.study.id,
                Enrolment.phase == phase,
                live(Enrolment),
            )
        )
        cohort: int | None = None
        if phase == "escalation":
            if latest_decision(uc, "escalation_end") is not None:
                raise ValidationFailed("subject_id", "the escalation has ended")
            cap = uc.protocol.escalation.max_subjects
            cohort = current_cohort(uc)
            # a withdrawn subject is replaced (cart-toxicity reference §3: drop-outs without DLT)
            in_cohort = (
                uc.session.scalar(
                    enrolled.where(Enrolment.cohort == cohort, Subject.status != "withdrawn")
                )
                or 0
            )
            escalation = uc.protocol.escalation
            tite = is_time_to_event_name(escalation.design.name)
            if in_cohort >= escalation.cohort_size and not tite:
                raise ValidationFailed(
                    "subject_id",
                    f"cohort {cohort} is full ({in_cohort} subjects): the next subject waits for "
                    "the signed dose decision",
                )
        else:
            cap = uc.protocol.expansion.planned_subjects
            if expansion_stopped(uc):
                raise ValidationFailed(
                    "subject_id", "the expansion was stopped by the safety committee"
                )
        if (uc.session.scalar(enrolled) or 0) >= cap:
            raise ValidationFailed("subject_id", f"the {phase} phase is full ({cap} subjects)")
        enrolment = Enrolment(
            subject_id=subject.id, enrolled_date=data.enrolled_date, phase=phase, cohort=cohort
        )
        uc.session.add(enrolment)
        check_record(uc, subject, enrolment)
        subject.status = "enrolled"
        subject.phase = phase
        return SubjectEnrolled(subject_id=data.subject_id, phase=phase, cohort=cohort)


class AssignDose(ServiceInput):
    """Assign dose level ``dose_level`` (a protocol dose-level name) to an enrolled subject."""

    subject_id: SubjectId
    dose_level: str = Field(min_length=1)


class DoseAssigned(ServiceResult):
    """The assigned dose and the decision that allowed it (``None``: the protocol start dose)."""

    subject_id: str
    dose_level: str
    dose_index: int
    target_cells: float
    decision_id: int | None


def allowed_dose(uc: UseCase) -> tuple[int | None, DoseDecision | None]:
    """The dose index the current signed decision allows, and that dose decision.

    In escalation: before any signed decision the protocol's start dose; then the latest signed
    dose decision's next dose (a ``stop`` allows none, ``None``); none once the escalation has
    ended. In expansion: the RP2D at which the signed expansion-open record opened it (no dose
    decision: ``None`` as the second item).
    """
    if uc.study.phase == "expansion":
        opened = latest_decision(uc, "expansion_open")
        return (opened.dose_index if opened is not None else None), None
    if latest_decision(uc, "escalation_end") is not None:
        return None, None
    decision = uc.session.scalar(
        select(DoseDecision)
        .join(
            Signature,
            (Signature.record_table == "dose_decisions") & (Signature.record_id == DoseDecision.id),
        )
        .where(DoseDecision.study_id == uc.study.id, live(DoseDecision))
        .order_by(DoseDecision.id.desc())
        .limit(1)
    )
    if decision is None:
        return uc.protocol.dose_index(uc.protocol.escalation.start_dose), None
    return decision.next_dose_index, decision


def assign_dose(ctx: ServiceContext, data: AssignDose) -> DoseAssigned:
    """Assign the dose the current decision allows (never another one).

    Raises
    ------
    ValidationFailed
        ``dose_level`` unknown or not the allowed one (the message names the allowed dose);
        ``subject_id`` not enrolled or already assigned.
    """
    with use_case(ctx, "investigator", site_scoped=True, subjects=[data.subject_id]) as uc:
        subject = uc.subject(data.subject_id, "investigator")
        refuse_duplicate(
            uc, DoseAssignment(subject_id=subject.id, dose_level=data.dose_level), "dose_level"
        )
        if subject.status != "enrolled":
            raise ValidationFailed(
                "subject_id", f"subject {data.subject_id!r} is {subject.status}, not enrolled"
            )
        already = uc.session.scalar(
            select(DoseAssignment.dose_level).where(
                DoseAssignment.subject_id == subject.id, live(DoseAssignment)
            )
        )
        if already is not None:
            raise ValidationFailed(
                "subject_id", f"subject {data.subject_id!r} already has dose level {already}"
            )
        names = [level.name for level in uc.protocol.dose_levels]
        if data.dose_level not in names:
            raise ValidationFailed("dose_level", f"unknown dose level; protocol levels: {names}")
        index, decision = allowed_dose(uc)
        if index is None:
            raise ValidationFailed("dose_level", "the current dose decision stopped dosing")
        if names.index(data.dose_level) != index:
            source = (
                f"dose decision {decision.id}"
                if decision is not None
                else ("the RP2D" if uc.study.phase == "expansion" else "the start dose")
            )
            raise ValidationFailed(
                "dose_level",
                f"{data.dose_level} is not allowed: {source} allows {names[index]} only",
            )
        level = uc.protocol.dose_levels[index]
        assignment = DoseAssignment(
            subject_id=subject.id,
            dose_level=level.name,
            dose_index=index,
            target_cells=level.cells,
            assigned_at=utcnow(),
            decision_id=decision.id if decision is not None else None,
        )
        uc.session.add(assignment)
        return DoseAssigned(
            subject_id=data.subject_id,
            dose_level=level.name,
            dose_index=index,
            target_cells=level.cells,
            decision_id=assignment.decision_id,
        )
