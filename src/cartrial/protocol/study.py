"""Who may enter the study and what they receive: study identity, eligibility, treatment."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from cartrial.protocol.base import (
    Days,
    Number,
    PositiveInt,
    ProtocolModel,
    StrictBool,
    Text,
)
from cartrial.vocab import Indication

__all__ = [
    "DOSE_UNITS",
    "CLDN18Threshold",
    "DoseLevel",
    "Eligibility",
    "LymphodepletionAgent",
    "Study",
    "Treatment",
]

DoseUnit = Literal["CAR+ T cells", "CAR+ T cells/kg"]
DOSE_UNITS: tuple[DoseUnit, ...] = ("CAR+ T cells", "CAR+ T cells/kg")


class Study(ProtocolModel):
    """Identity of the study."""

    id: Text = Field(description="the sponsor's study identifier")
    title: Text
    phase: Literal["1", "1b", "1/2", "2"]
    version: Text = Field(description="protocol version, e.g. '1.0'")
    product: Text = Field(description="investigational product")
    sponsor: Text
    indications: tuple[Indication, ...] = Field(min_length=1)
    condition: Text = Field(description="the condition as the registry names it")
    time_zone: Text = Field(
        description=(
            "the study's time zone (IANA name, e.g. 'Asia/Shanghai'): study dates, the data "
            "lock's cut-off and local times entered at sites are read in it"
        )
    )

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        """The time zone must be one the IANA database (``zoneinfo``) knows."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}: give an IANA name such as 'Asia/Shanghai'"
            ) from exc
        return value


class CLDN18Threshold(ProtocolModel):
    """CLDN18.2 positivity by immunohistochemistry (membrane staining of tumour cells)."""

    min_intensity: int = Field(
        ge=1, le=3, strict=True, description="lowest staining intensity that counts (1+ to 3+)"
    )
    min_pct_tumour_cells: Number = Field(
        gt=0, le=100, description="% of tumour cells stained at >= min_intensity"
    )


class Eligibility(ProtocolModel):
    """Structured inclusion criteria, each a parameter a protocol amendment can change."""

    age_min: PositiveInt = Field(description="years")
    age_max: PositiveInt = Field(description="years")
    histologies: tuple[Indication, ...] = Field(min_length=1)
    cldn18_ihc: CLDN18Threshold
    refractory_to_standard_therapy: StrictBool
    min_prior_lines: int = Field(ge=0, strict=True, description="prior systemic therapy lines")
    ecog_max: int = Field(ge=0, le=2, strict=True, description="highest ECOG status allowed")
    measurable_disease: Literal["recist_1_1"]
    life_expectancy_min_weeks: PositiveInt
    anc_min_1e9_l: Number = Field(gt=0, description="absolute neutrophil count, 10^9/L")
    platelets_min_1e9_l: Number = Field(gt=0, description="platelets, 10^9/L")
    hemoglobin_min_g_dl: Number = Field(gt=0, description="haemoglobin, g/dL")
    creatinine_clearance_min_ml_min: Number = Field(gt=0, description="mL/min (Cockcroft-Gault)")
    alt_max_x_uln: Number = Field(gt=0, description="ALT, multiple of the upper limit of normal")
    bilirubin_max_x_uln: Number = Field(gt=0, description="total bilirubin, multiple of ULN")

    @model_validator(mode="after")
    def _ages(self) -> Eligibility:
        if self.age_min > self.age_max:
            raise ValueError(f"age_min {self.age_min} is above age_max {self.age_max}")
        return self


class DoseLevel(ProtocolModel):
    """One dose level: a flat (or per-kg) number of CAR+ T cells."""

    name: Text = Field(description="e.g. 'DL1'; 'DL-1' is the de-escalation level")
    cells: Number = Field(gt=0, description="CAR+ T cells per infusion (or per kg)")
    unit: DoseUnit
    label: Text = Field(description="how tables print the dose, e.g. '2.5 x 10^8'")
    tolerance_pct: Number = Field(
        ge=0, le=50, description="+/- % of the target that still counts as this dose"
    )
    set_by: Literal["sponsor", "published"] = Field(description="who chose the value")
    source: Text = Field(description="where the value comes from")


class LymphodepletionAgent(ProtocolModel):
    """One agent of the lymphodepleting regimen."""

    agent: Text
    dose: Number = Field(gt=0)
    unit: Literal["mg/m2", "mg/kg"]
    days: tuple[Days, ...] = Field(min_length=1, description="days relative to infusion (< 0)")

    @model_validator(mode="after")
    def _before_infusion(self) -> LymphodepletionAgent:
        late = [d for d in self.days if d >= 0]
        if late:
            raise ValueError(f"lymphodepletion days must be before infusion (day 0), got {late}")
        return self


class Treatment(ProtocolModel):
    """Lymphodepletion, then one intravenous CAR-T infusion on day 0."""

    lymphodepletion_regimen: Text
    lymphodepletion: tuple[LymphodepletionAgent, ...] = Field(min_length=1)
    route: Literal["intravenous"]
    infusions: int = Field(
        ge=1, le=1, strict=True, description="infusions per subject (one in this format)"
    )
    dose_levels: tuple[DoseLevel, ...] = Field(min_length=1, description="lowest to highest")
