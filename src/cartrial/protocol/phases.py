"""The two phases of the study: dose escalation and dose expansion, with their rules."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from cartrial.protocol.base import Fraction, Number, PositiveInt, ProtocolModel, Text
from cartrial.vocab import DesignName

__all__ = [
    "DesignSpec",
    "Escalation",
    "Expansion",
    "FutilityRule",
    "ToxicityMonitoring",
]

DesignParam = StrictBool | StrictInt | StrictFloat | StrictStr | tuple[StrictFloat, ...]


class DesignSpec(ProtocolModel):
    """The escalation design and its keyword arguments (see ``cartrial design table``)."""

    name: DesignName
    params: dict[str, DesignParam] = Field(
        default_factory=dict, description="keyword arguments of the design, e.g. target, skeleton"
    )


class Escalation(ProtocolModel):
    """Dose escalation: who decides the next cohort's dose and how many may enter."""

    planned_subjects: PositiveInt
    max_subjects: PositiveInt
    cohort_size: PositiveInt
    start_dose: Text = Field(description="name of the first cohort's dose level")
    target_dlt_rate: Fraction = Field(description="target probability of DLT at the MTD")
    design: DesignSpec
    stagger_days: int = Field(
        ge=0, strict=True, description="days between the first and the next subjects of a cohort"
    )


class ToxicityMonitoring(ProtocolModel):
    """Bayesian beta-binomial toxicity stopping rule for the expansion.

    Stop when P(DLT rate > limit | data) > threshold under a Beta(prior_a, prior_b) prior,
    checked once at least ``min_subjects`` have completed the DLT window.
    """

    limit: Fraction
    threshold: Fraction
    prior_a: Number = Field(gt=0)
    prior_b: Number = Field(gt=0)
    min_subjects: PositiveInt


class FutilityRule(ProtocolModel):
    """Efficacy futility for the expansion: Simon two-stage or a predictive-probability rule."""

    method: Literal["simon-optimal", "simon-minimax", "predictive-probability"]
    p0: Fraction = Field(description="uninteresting response rate")
    p1: Fraction = Field(description="target response rate")
    alpha: Fraction
    beta: Fraction


class Expansion(ProtocolModel):
    """Dose expansion at the RP2D, opened by the investigator once the DLT window has closed."""

    planned_subjects: PositiveInt
    dose: Literal["rp2d"]
    opened_by: Literal["investigator", "safety_committee"]
    requires_dlt_window_closed: StrictBool
    tox_monitoring: ToxicityMonitoring
    futility: FutilityRule
