"""Daily CRS and ICANS observations, graded at write time with ``cartrial.rules.cart_tox``.

CRS uses the protocol's ``toxicity_grading.crs`` method (ASTCT 2019 or CTCAE v5.0), ICANS the
ASTCT 2019 grading with the ICE score. Fever stops being required once tocilizumab or
corticosteroids were given (ASTCT 2019), which depends on the earlier days; so every new day
re-grades the subject's whole course (:func:`derive_subject_crs_icans`).
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Iterable, Sequence
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, WithJsonSchema
from sqlalchemy import select

from cartrial.errors import RuleInputError, ValidationFailed
from cartrial.protocol import Protocol
from cartrial.rules import cart_tox
from cartrial.services.base import ServiceInput, ServiceResult, SubjectId, check_order
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.record_checks import check_record, refuse_duplicate
from cartrial.services.treatment import infusion_of
from cartrial.store import CrsIcansObservation, Subject, live

__all__ = [
    "CRS_ICANS_DERIVED",
    "CrsIcansRecorded",
    "DayFindings",
    "RecordCrsIcansDay",
    "apply_grades",
    "derive_subject_crs_icans",
    "grade_course",
    "new_observation",
    "record_crs_icans_day",
]

CLINICAL_STAFF = ("investigator", "site_coordinator")
#: CrsIcansObservation columns derived from the day's inputs and the earlier days.
CRS_ICANS_DERIVED = ("ice_score", "crs_grade", "crs_driver", "icans_grade", "icans_driver")
_ICE_DOMAINS = ("ice_orientation", "ice_naming", "ice_commands", "ice_writing", "ice_attention")
_MOTOR_WEAKNESS = "deep_focal_weakness"


def _member_of(choices: Iterable[str], what: str) -> AfterValidator:
    """Validator: the value is one of ``choices`` (the words of the ASTCT data tables)."""
    allowed = tuple(choices)

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"unknown {what} {value!r} (one of {', '.join(allowed)})")
        return value

    return AfterValidator(check)


def _enum(choices: Iterable[str]) -> WithJsonSchema:
    """JSON schema of a text field restricted to ``choices`` (forms list them)."""
    return WithJsonSchema({"type": "string", "enum": list(choices)})


#: Oxygen support, consciousness, seizure and oedema findings: the words of ``data/astct``.
OxygenDevice = Annotated[
    str,
    _member_of(cart_tox.OXYGEN_DEVICES, "oxygen support"),
    _enum(cart_tox.OXYGEN_DEVICES),
]
Consciousness = Annotated[
    str,
    _member_of(cart_tox.CONSCIOUSNESS, "level of consciousness"),
    _enum(cart_tox.CONSCIOUSNESS),
]
Seizure = Annotated[str, _member_of(cart_tox.SEIZURE, "seizure"), _enum(cart_tox.SEIZURE)]
CerebralEdema = Annotated[
    str,
    _member_of(cart_tox.CEREBRAL_EDEMA, "cerebral oedema"),
    _enum(cart_tox.CEREBRAL_EDEMA),
]


class RecordCrsIcansDay(ServiceInput):
    """The worst CRS/ICANS findings of one day after infusion.

    ``vasopressors`` counts vasopressors other than vasopressin (ASTCT 2019). The ICE domains
    are points: orientation 0-4, naming 0-3, commands, writing and attention 0-1; leave them
    empty when the subject is ``unarousable``.
    """

    subject_id: SubjectId
    observed_date: dt.date
    temperature_c: float = Field(ge=25, le=45, description="highest temperature, °C")
    hypotension: bool = False
    vasopressors: int = Field(default=0, ge=0, le=5)
    oxygen_device: OxygenDevice = "room_air"
    oxygen_flow_l_min: float | None = Field(default=None, ge=0)
    ice_orientation: int | None = Field(default=None, ge=0, le=4)
    ice_naming: int | None = Field(default=None, ge=0, le=3)
    ice_commands: int | None = Field(default=None, ge=0, le=1)
    ice_writing: int | None = Field(default=None, ge=0, le=1)
    ice_attention: int | None = Field(default=None, ge=0, le=1)
    consciousness: Consciousness = "awake"
    seizure: Seizure = "none"
    motor_weakness: bool = False
    cerebral_edema: CerebralEdema = "none"
    tocilizumab: bool = False
    steroids: bool = False


class CrsIcansRecorded(ServiceResult):
    """The day's derived grades and what drove them."""

    subject_id: str
    observed_date: dt.date
    day: int
    ice_score: int | None
    crs_grade: int
    crs_driver: str
    icans_grade: int
    icans_driver: str


class DayFindings(typing.Protocol):
    """The inputs of one CRS/ICANS day (a stored observation, or a plain row of one)."""

    @property
    def subject_id(self) -> int: ...
    @property
    def observed_date(self) -> dt.date: ...
    @property
    def temperature_c(self) -> float | None: ...
    @property
    def hypotension(self) -> bool: ...
    @property
    def vasopressors(self) -> int: ...
    @property
    def oxygen_device(self) -> str | None: ...
    @property
    def oxygen_flow_l_min(self) -> float | None: ...
    @property
    def ice_orientation(self) -> int | None: ...
    @property
    def ice_naming(self) -> int | None: ...
    @property
    def ice_commands(self) -> int | None: ...
    @property
    def ice_writing(self) -> int | None: ...
    @property
    def ice_attention(self) -> int | None: ...
    @property
    def consciousness(self) -> str | None: ...
    @property
    def seizure(self) -> str | None: ...
    @property
    def motor(self) -> str | None: ...
    @property
    def icp(self) -> str | None: ...
    @property
    def tocilizumab(self) -> bool: ...
    @property
    def steroids(self) -> bool: ...


D = typing.TypeVar("D", bound=DayFindings)


def _grade_day(
    obs: DayFindings, method: Literal["astct", "ctcae"], treated_before: bool
) -> dict[str, object]:
    domains = [getattr(obs, name) for name in _ICE_DOMAINS]
    unarousable = obs.consciousness == "unarousable"
    if unarousable:
        ice: cart_tox.ICEScore | None = None
    elif any(d is None for d in domains):
        raise ValidationFailed("ice_orientation", "all five ICE domains are needed when awake")
    else:
        ice = cart_tox.ICEScore(score=sum(int(d) for d in domains))
    try:
        crs = cart_tox.grade_crs(
            cart_tox.CRSAssessment(
                temperature_c=float(obs.temperature_c or 0.0),
                hypotension=obs.hypotension,
                vasopressors=tuple(f"vasopressor {i + 1}" for i in range(obs.vasopressors)),
                oxygen=obs.oxygen_device or "room_air",
                oxygen_flow_l_min=obs.oxygen_flow_l_min,
                anti_cytokine_given=treated_before,
            ),
            method=method,
        )
        icans = cart_tox.grade_icans(
            cart_tox.ICANSAssessment(
                ice=ice,
                consciousness=obs.consciousness or "awake",
                seizure=obs.seizure or "none",
                motor_weakness=obs.motor == _MOTOR_WEAKNESS,
                cerebral_edema=obs.icp or "none",
            )
        )
    except RuleInputError as exc:
        field = "oxygen_flow_l_min" if "flow" in str(exc) else "oxygen_device"
        raise ValidationFailed(field, str(exc)) from None
    return {
        "ice_score": ice.score if ice is not None else None,
        "crs_grade": crs.grade,
        "crs_driver": crs.driver,
        "icans_grade": icans.grade,
        "icans_driver": icans.driver,
    }


def grade_course(
    protocol: Protocol, observations: Iterable[D]
) -> list[tuple[D, dict[str, object]]]:
    """Grade every day of the given observations (any subjects), day by day per subject.

    Tocilizumab or steroids on a day or any earlier day of the same subject make fever no longer
    required (ASTCT 2019 rule 2).
    """
    method = protocol.toxicity_grading.crs
    ordered = sorted(observations, key=lambda o: (o.subject_id, o.observed_date))
    treated: set[int] = set()
    graded = []
    for obs in ordered:
        if obs.tocilizumab or obs.steroids:
            treated.add(obs.subject_id)
        graded.append((obs, _grade_day(obs, method, obs.subject_id in treated)))
    return graded


def apply_grades(graded: Sequence[tuple[CrsIcansObservation, dict[str, object]]]) -> int:
    """Write the derived grades that differ; return the number of observations changed."""
    changed = 0
    for obs, values in graded:
        if any(getattr(obs, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(obs, name, value)
            changed += 1
    return changed


def derive_subject_crs_icans(
    uc: UseCase, subject: Subject, new: CrsIcansObservation | None = None
) -> None:
    """Re-grade the subject's whole CRS/ICANS course (with a ``new`` day not yet stored)."""
    observations = list(
        uc.session.scalars(
            select(CrsIcansObservation).where(
                CrsIcansObservation.subject_id == subject.id,
                live(CrsIcansObservation),
            )
        )
    )
    uc.because(f"derived: CRS/ICANS grades of {subject.subject_code}")
    apply_grades(grade_course(uc.protocol, [*observations, *([new] if new else [])]))


def new_observation(subject_id: int, data: RecordCrsIcansDay) -> CrsIcansObservation:
    """The day's findings as a (not yet stored) observation of the subject with id ``subject_id``;
    vasopressors imply hypotension, motor weakness is stored as ``deep_focal_weakness``."""
    return CrsIcansObservation(
        subject_id=subject_id,
        observed_date=data.observed_date,
        temperature_c=data.temperature_c,
        hypotension=data.hypotension or data.vasopressors > 0,
        vasopressors=data.vasopressors,
        oxygen_device=data.oxygen_device,
        oxygen_flow_l_min=data.oxygen_flow_l_min,
        ice_orientation=data.ice_orientation,
        ice_naming=data.ice_naming,
        ice_commands=data.ice_commands,
        ice_writing=data.ice_writing,
        ice_attention=data.ice_attention,
        consciousness=data.consciousness,
        seizure=data.seizure,
        motor=_MOTOR_WEAKNESS if data.motor_weakness else "none",
        icp=data.cerebral_edema,
        tocilizumab=data.tocilizumab,
        steroids=data.steroids,
    )


def record_crs_icans_day(ctx: ServiceContext, data: RecordCrsIcansDay) -> CrsIcansRecorded:
    """Record one day's CRS/ICANS findings and derive the grades.

    Raises
    ------
    ValidationFailed
        ``observed_date`` before the infusion or already recorded; ``ice_orientation`` (an ICE
        domain) missing in an awake subject; ``oxygen_flow_l_min`` missing for a nasal cannula.
    """
    with use_case(ctx, *CLINICAL_STAFF, site_scoped=True, subjects=[data.subject_id]) as uc:
        subject = uc.subject(data.subject_id, *CLINICAL_STAFF)
        infusion = infusion_of(uc, subject)
        if infusion is None:
            raise ValidationFailed("subject_id", "CRS/ICANS are observed after the infusion")
        day0 = uc.study_date(infusion.infused_at)
        check_order(day0, data.observed_date, field="observed_date", earlier_name="the infusion")
        uc.check_unlocked(data.observed_date, "observed_date")
        obs = new_observation(subject.id, data)
        refuse_duplicate(uc, obs, "observed_date")
        taken = uc.session.scalar(
            select(CrsIcansObservation.id).where(
                CrsIcansObservation.subject_id == subject.id,
                CrsIcansObservation.observed_date == data.observed_date,
                live(CrsIcansObservation),
            )
        )
        if taken is not None:
            raise ValidationFailed("observed_date", f"{data.observed_date} is already recorded")
        derive_subject_crs_icans(uc, subject, obs)
        uc.session.add(obs)
        check_record(uc, subject, obs)
        return CrsIcansRecorded(
            subject_id=data.subject_id,
            observed_date=data.observed_date,
            day=(data.observed_date - day0).days,
            ice_score=obs.ice_score,
            crs_grade=int(obs.crs_grade or 0),
            crs_driver=obs.crs_driver or "none",
            icans_grade=int(obs.icans_grade or 0),
            icans_driver=obs.icans_driver or "none",
        )
