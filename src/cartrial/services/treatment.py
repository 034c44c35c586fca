"""Treatment: lymphodepleting chemotherapy and the single CAR-T infusion.

Both are checked against the protocol's treatment section and schedule: the agent, dose and day
of each lymphodepletion administration, and, at infusion, that the assigned dose was given within
its tolerance, once, after enrolment and with every lymphodepletion day inside the protocol's
lymphodepletion visit window.
"""

from __future__ import annotations

import datetime as dt

from pydantic import AwareDatetime, Field
from sqlalchemy import select

from cartrial.errors import ValidationFailed
from cartrial.protocol.schedule import Assessment
from cartrial.services.base import ServiceInput, ServiceResult, SubjectId, check_order
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.record_checks import check_record, refuse_duplicate
from cartrial.store import DoseAssignment, Enrolment, Infusion, Lymphodepletion, Subject, live

__all__ = [
    "Infuse",
    "Infused",
    "LymphodepletionRecorded",
    "RecordLymphodepletion",
    "enrolment_of",
    "infuse",
    "infusion_of",
    "record_lymphodepletion",
]

TREATING = ("investigator", "site_coordinator")
#: Relative deviation of an administered lymphodepletion dose from the protocol dose still accepted.
LD_DOSE_TOLERANCE = 0.10


def enrolment_of(uc: UseCase, subject: Subject) -> Enrolment:
    """The subject's enrolment; :class:`ValidationFailed` on ``subject_id`` if not enrolled."""
    enrolment = uc.session.scalar(
        select(Enrolment).where(Enrolment.subject_id == subject.id, live(Enrolment))
    )
    if enrolment is None:
        raise ValidationFailed("subject_id", f"subject {subject.subject_code!r} is not enrolled")
    return enrolment


def infusion_of(uc: UseCase, subject: Subject) -> Infusion | None:
    """The subject's CAR-T infusion, or ``None`` before infusion."""
    return uc.session.scalar(
        select(Infusion).where(Infusion.subject_id == subject.id, live(Infusion))
    )


class RecordLymphodepletion(ServiceInput):
    """One administration of a lymphodepleting agent.

    ``dose`` is in ``unit`` (``mg/m2`` or ``mg/kg``); ``day`` is the protocol day relative to the
    planned infusion (e.g. -5).
    """

    subject_id: SubjectId
    agent: str = Field(min_length=1)
    dose: float = Field(gt=0)
    unit: str = Field(min_length=1)
    day: int = Field(lt=0)
    administered_date: dt.date


class LymphodepletionRecorded(ServiceResult):
    """The stored administration."""

    subject_id: str
    agent: str
    day: int
    administered_date: dt.date


def record_lymphodepletion(
    ctx: ServiceContext, data: RecordLymphodepletion
) -> LymphodepletionRecorded:
    """Record one lymphodepletion administration after checking it against the protocol regimen.

    Raises
    ------
    ValidationFailed
        ``agent`` not in the regimen, ``unit`` differs, ``dose`` more than 10 % from the protocol
        dose, ``day`` not a protocol day of the agent, ``administered_date`` before enrolment or
        after the infusion, or the same agent already given on that day.
    """
    with use_case(ctx, *TREATING, site_scoped=True, subjects=[data.subject_id]) as uc:
        subject = uc.subject(data.subject_id, *TREATING)
        given = Lymphodepletion(
            subject_id=subject.id,
            agent=data.agent,
            dose=data.dose,
            unit=data.unit,
            day=data.day,
            administered_date=data.administered_date,
        )
        refuse_duplicate(uc, given, "administered_date")
        enrolment = enrolment_of(uc, subject)
        regimen = {a.agent: a for a in uc.protocol.treatment.lymphodepletion}
        agent = regimen.get(data.agent)
        if agent is None:
            raise ValidationFailed("agent", f"not in the protocol regimen {sorted(regimen)}")
        if data.unit != agent.unit:
            raise ValidationFailed("unit", f"protocol doses {agent.agent} in {agent.unit}")
        if abs(data.dose - agent.dose) > LD_DOSE_TOLERANCE * agent.dose:
            raise ValidationFailed(
                "dose",
                f"{data.dose:g} {data.unit} is more than {LD_DOSE_TOLERANCE:.0%} from the "
                f"protocol dose {agent.dose:g} {agent.unit}",
            )
        if data.day not in agent.days:
            raise ValidationFailed(
                "day", f"protocol gives {agent.agent} on days {list(agent.days)}"
            )
        check_order(
            enrolment.enrolled_date,
            data.administered_date,
            field="administered_date",
            earlier_name="the enrolment date",
        )
        infusion = infusion_of(uc, subject)
        if infusion is not None:
            check_order(
                data.administered_date,
                uc.study_date(infusion.infused_at),
                field="administered_date",
                earlier_name="lymphodepletion",
                allow_equal=False,
            )
        uc.check_unlocked(data.administered_date, "administered_date")
        duplicate = uc.session.scalar(
            select(Lymphodepletion.id).where(
                Lymphodepletion.subject_id == subject.id,
                Lymphodepletion.agent == data.agent,
                Lymphodepletion.day == data.day,
                live(Lymphodepletion),
            )
        )
        if duplicate is not None:
            raise ValidationFailed("day", f"{data.agent} on day {data.day} is already recorded")
        uc.session.add(given)
        check_record(uc, subject, given)
        return LymphodepletionRecorded(
            subject_id=data.subject_id,
            agent=data.agent,
            day=data.day,
            administered_date=data.administered_date,
        )


class Infuse(ServiceInput):
    """The CAR-T infusion: time (timezone-aware), CAR+ T cells actually infused, product lot."""

    subject_id: SubjectId
    infused_at: AwareDatetime
    actual_cells: float = Field(gt=0)
    product_lot: str | None = Field(default=None, max_length=64)


class Infused(ServiceResult):
    """The infusion as stored, with the dose level it counts as."""

    subject_id: str
    dose_level: str
    dose_index: int
    target_cells: float
    actual_cells: float
    pct_of_target: float
    infused_at: dt.datetime


def infuse(ctx: ServiceContext, data: Infuse) -> Infused:
    """Record the single CAR-T infusion of a subject.

    Checks: a dose level assigned; no earlier infusion (the protocol gives one); infusion on or
    after enrolment and after the last lymphodepletion; the screening day and every
    lymphodepletion day (relative to this infusion) inside the protocol visit windows with the
    ``eligibility`` and ``lymphodepletion`` assessments; ``actual_cells`` within the dose level's
    ``tolerance_pct`` of its target.

    Raises
    ------
    ValidationFailed
        Naming ``subject_id`` (no dose assigned), ``infused_at`` (second infusion, dates out of
        order or outside the windows) or ``actual_cells`` (outside tolerance).
    """
    with use_case(
        ctx, *TREATING, site_scoped=True, reason="subject infused", subjects=[data.subject_id]
    ) as uc:
        subject = uc.subject(data.subject_id, *TREATING)
        same = Infusion(
            subject_id=subject.id,
            infused_at=data.infused_at,
            actual_cells=data.actual_cells,
            product_lot=data.product_lot,
        )
        refuse_duplicate(uc, same, "infused_at")
        enrolment = enrolment_of(uc, subject)
        previous = infusion_of(uc, subject)
        if previous is not None:
            raise ValidationFailed(
                "infused_at",
                f"subject {data.subject_id!r} was already infused at "
                f"{previous.infused_at:%Y-%m-%d %H:%M} UTC; the protocol gives "
                f"{uc.protocol.treatment.infusions} infusion",
            )
        assignment = uc.session.scalar(
            select(DoseAssignment).where(
                DoseAssignment.subject_id == subject.id, live(DoseAssignment)
            )
        )
        if assignment is None:
            raise ValidationFailed("subject_id", "no dose level assigned: assign the dose first")
        day0 = uc.study_date(data.infused_at)
        check_order(
            enrolment.enrolled_date, day0, field="infused_at", earlier_name="the enrolment date"
        )
        level = uc.protocol.dose_levels[assignment.dose_index]
        pct = 100.0 * data.actual_cells / level.cells
        if abs(pct - 100.0) > level.tolerance_pct:
            raise ValidationFailed(
                "actual_cells",
                f"{data.actual_cells:.3g} cells is {pct:.1f}% of the {level.name} target "
                f"{level.cells:.3g}; the protocol accepts +/-{level.tolerance_pct:g}%",
            )
        _check_window(uc, "eligibility", subject.screened_date, day0, "screening")
        _check_lymphodepletion(uc, subject, day0)
        uc.check_unlocked(data.infused_at, "infused_at")
        infusion = Infusion(
            subject_id=subject.id,
            dose_level=level.name,
            dose_index=assignment.dose_index,
            target_cells=level.cells,
            actual_cells=data.actual_cells,
            infused_at=data.infused_at,
            product_lot=data.product_lot,
        )
        uc.session.add(infusion)
        subject.status = "infused"
        check_record(uc, subject, infusion)
        return Infused(
            subject_id=data.subject_id,
            dose_level=level.name,
            dose_index=assignment.dose_index,
            target_cells=level.cells,
            actual_cells=data.actual_cells,
            pct_of_target=pct,
            infused_at=data.infused_at,
        )


def _check_window(
    uc: UseCase, assessment: Assessment, when: dt.date | None, day0: dt.date, what: str
) -> None:
    """Refuse an infusion that would put ``when`` outside the protocol visits of ``assessment``."""
    if when is None:
        return
    day = (when - day0).days
    windows = uc.protocol.schedule.visits_with(assessment)
    if not any(v.contains(day) for v in windows):
        allowed = ", ".join(f"days {v.earliest_day}..{v.latest_day}" for v in windows)
        raise ValidationFailed(
            "infused_at",
            f"{what} on {when} would be day {day} of this infusion; the protocol window is "
            f"{allowed}",
        )


def _check_lymphodepletion(uc: UseCase, subject: Subject, day0: dt.date) -> None:
    dates = uc.session.scalars(
        select(Lymphodepletion.administered_date).where(
            Lymphodepletion.subject_id == subject.id, live(Lymphodepletion)
        )
    ).all()
    if not dates:
        raise ValidationFailed("subject_id", "no lymphodepletion recorded before the infusion")
    for given in sorted(set(dates)):
        if given >= day0:
            raise ValidationFailed(
                "infused_at", f"infusion on {day0} is not after lymphodepletion on {given}"
            )
        _check_window(uc, "lymphodepletion", given, day0, "lymphodepletion")
