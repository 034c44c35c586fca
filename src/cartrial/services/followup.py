"""Follow-up and translational samples, each checked against the subject's course.

Survival contacts, death, subsequent therapy, withdrawal; CAR-T kinetics, anti-CAR antibodies
(ADA) and immunophenotype panels.

Dates are checked against the subject's course: nothing before enrolment (samples: before
screening), nothing after a recorded death, a death date on or before the contact that reports it.
"""

from __future__ import annotations

import datetime as dt

from pydantic import AwareDatetime, Field, model_validator

from cartrial.errors import ValidationFailed
from cartrial.services.base import ServiceInput, ServiceResult, SubjectId, check_order
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.record_checks import check_record, died_on, refuse_duplicate
from cartrial.services.treatment import enrolment_of, infusion_of
from cartrial.store import (
    AdaResult,
    KineticsSample,
    PhenotypePanel,
    PhenotypeValue,
    Subject,
    SubsequentTherapy,
    SurvivalFollowUp,
)
from cartrial.vocab import AdaScreenResult, KineticsUnit, SurvivalStatus

__all__ = [
    "FollowUpRecorded",
    "RecordAda",
    "RecordFollowUp",
    "RecordKinetics",
    "RecordPhenotype",
    "RecordSubsequentTherapy",
    "SampleRecorded",
    "WithdrawSubject",
    "death_date_of",
    "record_ada",
    "record_follow_up",
    "record_kinetics",
    "record_phenotype",
    "record_subsequent_therapy",
    "store_kinetics",
    "withdraw_subject",
]

FOLLOW_UP_STAFF = ("investigator", "site_coordinator")
SAMPLE_STAFF = ("investigator", "site_coordinator", "data_manager")


def death_date_of(uc: UseCase, subject: Subject) -> dt.date | None:
    """The subject's recorded death date, if any."""
    return died_on(uc, subject)


class RecordFollowUp(ServiceInput):
    """A survival follow-up contact; ``death_date`` and ``death_cause`` only with status dead."""

    subject_id: SubjectId
    contact_date: dt.date
    status: SurvivalStatus
    death_date: dt.date | None = None
    death_cause: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _death_fields(self) -> RecordFollowUp:
        if self.status == "dead" and (self.death_date is None or not self.death_cause):
            raise ValidationFailed("death_date", "death date and cause are required for a death")
        if self.status != "dead" and (self.death_date is not None or self.death_cause):
            raise ValidationFailed("death_date", "death date and cause are only for status dead")
        return self


class FollowUpRecorded(ServiceResult):
    """The stored contact and the subject's status afterwards."""

    subject_id: str
    contact_date: dt.date
    subject_status: str


def record_follow_up(ctx: ServiceContext, data: RecordFollowUp) -> FollowUpRecorded:
    """Record a survival contact (a death also sets the subject's status to ``died``).

    Raises
    ------
    ValidationFailed
        ``contact_date`` before enrolment or after a recorded death; ``death_date`` after the
        contact, before enrolment, or a second death.
    """
    reason = "survival follow-up" + (": death" if data.status == "dead" else "")
    with use_case(
        ctx, *FOLLOW_UP_STAFF, site_scoped=True, reason=reason, subjects=[data.subject_id]
    ) as uc:
        subject = uc.subject(data.subject_id, *FOLLOW_UP_STAFF)
        enrolled = enrolment_of(uc, subject).enrolled_date
        check_order(enrolled, data.contact_date, field="contact_date", earlier_name="enrolment")
        contact = SurvivalFollowUp(
            subject_id=subject.id,
            contact_date=data.contact_date,
            status=data.status,
            death_date=data.death_date,
            death_cause=data.death_cause,
        )
        refuse_duplicate(uc, contact, "contact_date")
        died = death_date_of(uc, subject)
        if died is not None and data.status == "dead":
            raise ValidationFailed("death_date", f"death already recorded on {died}")
        if data.death_date is not None:
            check_order(enrolled, data.death_date, field="death_date", earlier_name="enrolment")
            check_order(
                data.death_date,
                data.contact_date,
                field="death_date",
                earlier_name="the contact reporting it",
            )
        uc.check_unlocked(data.contact_date, "contact_date")
        uc.session.add(contact)
        check_record(uc, subject, contact)
        if data.status == "dead":
            subject.status = "died"
        return FollowUpRecorded(
            subject_id=data.subject_id,
            contact_date=data.contact_date,
            subject_status=subject.status,
        )


class RecordSubsequentTherapy(ServiceInput):
    """An anticancer therapy started after the CAR-T infusion."""

    subject_id: SubjectId
    therapy: str = Field(min_length=1, max_length=200)
    start_date: dt.date


def record_subsequent_therapy(
    ctx: ServiceContext, data: RecordSubsequentTherapy
) -> FollowUpRecorded:
    """Record a subsequent anticancer therapy (must start after the infusion, before death)."""
    with use_case(ctx, *FOLLOW_UP_STAFF, site_scoped=True, subjects=[data.subject_id]) as uc:
        subject = uc.subject(data.subject_id, *FOLLOW_UP_STAFF)
        infusion = infusion_of(uc, subject)
        if infusion is None:
            raise ValidationFailed("subject_id", "subsequent therapy follows the CAR-T infusion")
        check_order(
            uc.study_date(infusion.infused_at),
            data.start_date,
            field="start_date",
            earlier_name="the infusion",
            allow_equal=False,
        )
        uc.check_unlocked(data.start_date, "start_date")
        therapy = SubsequentTherapy(
            subject_id=subject.id, therapy=data.therapy, start_date=data.start_date
        )
        uc.session.add(therapy)
        check_record(uc, subject, therapy)
        return FollowUpRecorded(
            subject_id=data.subject_id, contact_date=data.start_date, subject_status=subject.status
        )


class WithdrawSubject(ServiceInput):
    """Withdrawal of a subject from the study, with its reason."""

    subject_id: SubjectId
    withdrawn_date: dt.date
    reason: str = Field(min_length=1, max_length=500)


def withdraw_subject(ctx: ServiceContext, data: WithdrawSubject) -> FollowUpRecorded:
    """Withdraw a subject (status ``withdrawn``; the data recorded so far stay)."""
    with use_case(
        ctx, "investigator", site_scoped=True, reason=data.reason, subjects=[data.subject_id]
    ) as uc:
        subject = uc.subject(data.subject_id, "investigator")
        if (subject.withdrawn_date, subject.withdrawal_reason) == (
            data.withdrawn_date,
            data.reason,
        ):
            raise ValidationFailed(
                "withdrawn_date",
                f"exact duplicate of the withdrawal of {data.subject_id} (rule: duplicate-record)",
            )
        if subject.status in ("withdrawn", "died", "screen_failed"):
            raise ValidationFailed("subject_id", f"subject is {subject.status}")
        subject.status = "withdrawn"
        subject.withdrawn_date = data.withdrawn_date
        subject.withdrawal_reason = data.reason
        check_record(uc, subject, subject, dates={"withdrawn_date": data.withdrawn_date})
        return FollowUpRecorded(
            subject_id=data.subject_id,
            contact_date=data.withdrawn_date,
            subject_status=subject.status,
        )


class RecordKinetics(ServiceInput):
    """A CAR-T level: qPCR ``copies/ug gDNA`` or flow ``cells/uL``, with the assay LLOQ.

    ``value`` None (or below ``lloq``) is stored as below the LLOQ.
    """

    subject_id: SubjectId
    collected_at: AwareDatetime | dt.date
    unit: KineticsUnit
    value: float | None = Field(default=None, ge=0)
    lloq: float = Field(gt=0)
    assay: str | None = Field(default=None, max_length=64)


class SampleRecorded(ServiceResult):
    """A stored sample result."""

    subject_id: str
    sample_date: dt.date
    kind: str


def store_kinetics(uc: UseCase, subject: Subject, data: RecordKinetics) -> KineticsSample:
    """Check and add one kinetics sample (shared with the bulk import)."""
    when = uc.study_time(data.collected_at)
    uc.check_unlocked(when, "collected_at")
    below = data.value is None or data.value < data.lloq
    sample = KineticsSample(
        subject_id=subject.id,
        collected_at=when,
        unit=data.unit,
        value=data.value,
        lloq=data.lloq,
        below_lloq=below,
        assay=data.assay,
    )
    uc.session.add(sample)
    check_record(uc, subject, sample)
    return sample


def record_kinetics(ctx: ServiceContext, data: RecordKinetics) -> SampleRecorded:
    """Record one CAR-T kinetics result."""
    with use_case(ctx, *SAMPLE_STAFF, site_scoped=True, subjects=[data.subject_id]) as uc:
        subject = uc.subject(data.subject_id, *SAMPLE_STAFF)
        sample = store_kinetics(uc, subject, data)
        return SampleRecorded(
            subject_id=data.subject_id,
            sample_date=uc.study_date(sample.collected_at),
            kind="kinetics",
        )


class RecordAda(ServiceInput):
    """Tiered anti-CAR antibody testing: screen, confirmation, titer (reciprocal dilution)."""

    subject_id: SubjectId
    sample_date: dt.date
    screen: AdaScreenResult
    confirmed: bool | None = None
    titer: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _tiers(self) -> RecordAda:
        if self.screen == "negative" and (self.confirmed or self.titer is not None):
            raise ValidationFailed("confirmed", "a negative screen has no confirmation or titer")
        if self.titer is not None and not self.confirmed:
            raise ValidationFailed("titer", "a titer is measured only on confirmed positives")
        return self


def record_ada(ctx: ServiceContext, data: RecordAda) -> SampleRecorded:
    """Record one anti-CAR antibody result."""
    with use_case(ctx, *SAMPLE_STAFF, site_scoped=True, subjects=[data.subject_id]) as uc:
        subject = uc.subject(data.subject_id, *SAMPLE_STAFF)
        uc.check_unlocked(data.sample_date, "sample_date")
        result = AdaResult(
            subject_id=subject.id,
            sample_date=data.sample_date,
            screen=data.screen,
            confirmed=data.confirmed,
            titer=data.titer,
        )
        uc.session.add(result)
        check_record(uc, subject, result)
        return SampleRecorded(subject_id=data.subject_id, sample_date=data.sample_date, kind="ada")


class RecordPhenotype(ServiceInput):
    """An immunophenotype panel: marker -> % of parent gate (ratio for ``cd4_cd8_ratio``)."""

    subject_id: SubjectId
    sample_date: dt.date
    panel: str = Field(min_length=1, max_length=64)
    values: dict[str, float] = Field(min_length=1)

    @model_validator(mode="after")
    def _percentages(self) -> RecordPhenotype:
        for marker, value in self.values.items():
            if value < 0 or (marker != "cd4_cd8_ratio" and value > 100):
                raise ValidationFailed(f"values.{marker}", f"{value} is not a percentage")
        return self


def record_phenotype(ctx: ServiceContext, data: RecordPhenotype) -> SampleRecorded:
    """Record one immunophenotype panel with its marker values."""
    with use_case(ctx, *SAMPLE_STAFF, site_scoped=True, subjects=[data.subject_id]) as uc:
        subject = uc.subject(data.subject_id, *SAMPLE_STAFF)
        uc.check_unlocked(data.sample_date, "sample_date")
        panel = PhenotypePanel(
            subject_id=subject.id, sample_date=data.sample_date, panel=data.panel
        )
        uc.session.add(panel)
        uc.session.flush()
        uc.session.add_all(
            PhenotypeValue(
                panel_id=panel.id,
                marker=marker,
                value=value,
                unit="ratio" if marker == "cd4_cd8_ratio" else "percent",
            )
            for marker, value in sorted(data.values.items())
        )
        check_record(uc, subject, panel)
        return SampleRecorded(
            subject_id=data.subject_id, sample_date=data.sample_date, kind="phenotype"
        )
