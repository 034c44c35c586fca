"""What the study measures: response criteria, toxicity grading, populations and endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cartrial.protocol.base import PositiveInt, ProtocolModel, StrictBool, Text

__all__ = [
    "ANALYSES",
    "POPULATION_NAMES",
    "Endpoint",
    "Population",
    "RecistSettings",
    "ToxicityGrading",
]

PopulationName = Literal["enrolled", "safety", "dlt_evaluable", "efficacy_evaluable"]
POPULATION_NAMES: tuple[PopulationName, ...] = PopulationName.__args__  # type: ignore[attr-defined]
Analysis = Literal[
    "ae_incidence",
    "dlt_rate",
    "rp2d",
    "orr",
    "pfs",
    "dcr",
    "dor",
    "os",
    "kinetics",
    "ada",
    "phenotype",
]
ANALYSES: tuple[Analysis, ...] = Analysis.__args__  # type: ignore[attr-defined]


class ToxicityGrading(ProtocolModel):
    """Grading systems: CTCAE v5.0 for AEs; ASTCT (Lee 2019) or CTCAE for CRS; ASTCT for ICANS."""

    ctcae_version: Literal["5.0"]
    crs: Literal["astct", "ctcae"]
    icans: Literal["astct"]


class RecistSettings(ProtocolModel):
    """RECIST 1.1 options the protocol sets."""

    version: Literal["1.1"]
    confirm: StrictBool = Field(description="CR/PR need confirmation")
    confirm_min_days: PositiveInt = Field(description="days between response and confirmation")
    sd_min_days: PositiveInt = Field(description="minimum days from infusion for best response SD")


class Population(ProtocolModel):
    """An analysis population; its name is one the analysis layer knows how to derive."""

    name: PopulationName
    definition: Text


class Endpoint(ProtocolModel):
    """A primary or secondary endpoint with its definition, population and time frame."""

    name: Text
    kind: Literal["primary", "secondary"]
    definition: Text
    population: Text = Field(description="name of one of the protocol's populations")
    time_frame_days: PositiveInt
    time_frame: Text = Field(description="as the registry words it, e.g. 'Approximately 18 months'")
    analysis: Analysis
