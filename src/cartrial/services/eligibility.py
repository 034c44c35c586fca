"""Screening: each eligibility criterion of the protocol checked against its evidence.

Pure functions of the protocol and the screening record; :mod:`cartrial.services.enrolment` stores
the outcome. Every criterion yields a :class:`CriterionResult` that names the protocol threshold and
the observed value, so the eCRF shows why a subject is (in)eligible.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Literal

from pydantic import Field

from cartrial.protocol import Protocol
from cartrial.services.base import ServiceInput, ServiceResult, SubjectId
from cartrial.vocab import Indication, Sex

__all__ = ["CriterionResult", "ScreenSubject", "evaluate_eligibility"]


class ScreenSubject(ServiceInput):
    """A screening record: demography, disease, CLDN18.2 IHC and organ function.

    Units: laboratory values as the protocol states them (ANC and platelets 10^9/L, haemoglobin
    g/dL, creatinine clearance mL/min by Cockcroft-Gault, ALT and bilirubin as multiples of ULN).
    ``cldn18_ihc_pct`` is the % of tumour cells with membrane staining at intensity
    ``cldn18_ihc_intensity`` or stronger (1+ to 3+).
    """

    subject_id: SubjectId
    site_id: str = Field(min_length=1)
    screening_date: dt.date
    age: int = Field(ge=0, le=120, description="years")
    sex: Sex
    indication: Indication
    ecog: int = Field(ge=0, le=5)
    cldn18_ihc_pct: float = Field(ge=0, le=100)
    cldn18_ihc_intensity: Literal[0, 1, 2, 3]
    prior_lines: int = Field(ge=0)
    refractory_to_standard_therapy: bool
    measurable_disease: bool = Field(description="at least one RECIST 1.1 measurable lesion")
    life_expectancy_weeks: int = Field(ge=0)
    anc_1e9_l: float = Field(ge=0)
    platelets_1e9_l: float = Field(ge=0)
    hemoglobin_g_dl: float = Field(ge=0)
    creatinine_clearance_ml_min: float = Field(ge=0)
    alt_x_uln: float = Field(ge=0)
    bilirubin_x_uln: float = Field(ge=0)


class CriterionResult(ServiceResult):
    """One eligibility criterion: whether it is met and the evidence (observed vs protocol)."""

    criterion: str
    met: bool
    evidence: str


def _at_least(
    criterion: str, label: str, value: float, minimum: float, unit: str
) -> CriterionResult:
    met = value >= minimum
    sign = ">=" if met else "<"
    return CriterionResult(
        criterion=criterion, met=met, evidence=f"{label} {value:g} {unit} {sign} {minimum:g} {unit}"
    )


def _at_most(
    criterion: str, label: str, value: float, maximum: float, unit: str
) -> CriterionResult:
    met = value <= maximum
    sign = "<=" if met else ">"
    return CriterionResult(
        criterion=criterion, met=met, evidence=f"{label} {value:g} {unit} {sign} {maximum:g} {unit}"
    )


#: The screening fields each criterion reads, stored as its value so the screening record can be
#: read back (the export of every record family, :mod:`cartrial.services.records_read`).
CRITERION_FIELDS: dict[str, tuple[str, ...]] = {
    "age": ("age",),
    "histology": ("indication",),
    "cldn18_ihc": ("cldn18_ihc_pct", "cldn18_ihc_intensity"),
    "prior_lines": ("prior_lines",),
    "refractory_to_standard_therapy": ("refractory_to_standard_therapy",),
    "ecog": ("ecog",),
    "measurable_disease": ("measurable_disease",),
    "life_expectancy": ("life_expectancy_weeks",),
    "anc": ("anc_1e9_l",),
    "platelets": ("platelets_1e9_l",),
    "hemoglobin": ("hemoglobin_g_dl",),
    "creatinine_clearance": ("creatinine_clearance_ml_min",),
    "alt": ("alt_x_uln",),
    "bilirubin": ("bilirubin_x_uln",),
}


def criterion_value(s: ScreenSubject, criterion: str) -> str:
    """The screening values ``criterion`` read, as JSON (``{"anc_1e9_l": 2.0}``)."""
    return json.dumps({name: getattr(s, name) for name in CRITERION_FIELDS.get(criterion, ())})


def evaluate_eligibility(protocol: Protocol, s: ScreenSubject) -> tuple[CriterionResult, ...]:
    """Check every structured inclusion criterion of ``protocol`` for the screened subject.

    Returns
    -------
    tuple of CriterionResult
        In protocol order: age, histology, CLDN18.2 IHC, prior therapy, ECOG, measurable disease,
        life expectancy, then organ function (ANC, platelets, haemoglobin, creatinine clearance,
        ALT, bilirubin). The subject is eligible when every ``met`` is true.
    """
    e = protocol.eligibility
    ihc = e.cldn18_ihc
    ihc_met = (
        s.cldn18_ihc_intensity >= ihc.min_intensity and s.cldn18_ihc_pct >= ihc.min_pct_tumour_cells
    )
    refractory_met = s.refractory_to_standard_therapy or not e.refractory_to_standard_therapy
    return (
        CriterionResult(
            criterion="age",
            met=e.age_min <= s.age <= e.age_max,
            evidence=f"age {s.age} years; protocol {e.age_min}-{e.age_max}",
        ),
        CriterionResult(
            criterion="histology",
            met=s.indication in e.histologies,
            evidence=f"{s.indication}; protocol {', '.join(e.histologies)}",
        ),
        CriterionResult(
            criterion="cldn18_ihc",
            met=ihc_met,
            evidence=(
                f"CLDN18.2 IHC {s.cldn18_ihc_pct:g}% of tumour cells "
                f"at >= {s.cldn18_ihc_intensity}+; "
                f"protocol >= {ihc.min_pct_tumour_cells:g}% at >= {ihc.min_intensity}+"
            ),
        ),
        _at_least("prior_lines", "prior systemic lines", s.prior_lines, e.min_prior_lines, "lines"),
        CriterionResult(
            criterion="refractory_to_standard_therapy",
            met=refractory_met,
            evidence=f"refractory {s.refractory_to_standard_therapy}; "
            f"protocol requires {e.refractory_to_standard_therapy}",
        ),
        _at_most("ecog", "ECOG", s.ecog, e.ecog_max, ""),
        CriterionResult(
            criterion="measurable_disease",
            met=s.measurable_disease,
            evidence=f"measurable disease by RECIST 1.1: {s.measurable_disease}",
        ),
        _at_least(
            "life_expectancy",
            "life expectancy",
            s.life_expectancy_weeks,
            e.life_expectancy_min_weeks,
            "weeks",
        ),
        _at_least("anc", "ANC", s.anc_1e9_l, e.anc_min_1e9_l, "10^9/L"),
        _at_least("platelets", "platelets", s.platelets_1e9_l, e.platelets_min_1e9_l, "10^9/L"),
        _at_least("hemoglobin", "haemoglobin", s.hemoglobin_g_dl, e.hemoglobin_min_g_dl, "g/dL"),
        _at_least(
            "creatinine_clearance",
            "creatinine clearance",
            s.creatinine_clearance_ml_min,
            e.creatinine_clearance_min_ml_min,
            "mL/min",
        ),
        _at_most("alt", "ALT", s.alt_x_uln, e.alt_max_x_uln, "x ULN"),
        _at_most("bilirubin", "bilirubin", s.bilirubin_x_uln, e.bilirubin_max_x_uln, "x ULN"),
    )
