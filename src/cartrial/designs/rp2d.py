"""The recommended phase 2 dose (RP2D) record: the MTD or a lower dose, why, and who decided."""

from __future__ import annotations

import datetime as dt
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["COMMITTEE_DECISIONS", "CommitteeDecision", "RP2DRecord"]

CommitteeDecision = Literal["approved", "approved-with-changes", "deferred", "rejected"]
COMMITTEE_DECISIONS: tuple[CommitteeDecision, ...] = (
    "approved",
    "approved-with-changes",
    "deferred",
    "rejected",
)


class RP2DRecord(BaseModel):
    """The RP2D as the safety review committee recorded it.

    Attributes
    ----------
    mtd
        0-based MTD selected by the design (``None`` when no MTD was identified, e.g. the highest
        dose cleared or every dose was too toxic).
    rp2d
        0-based recommended dose: the MTD or a lower dose (never above the MTD).
    dose_level
        The protocol's name of that dose level (e.g. ``"DL2"``).
    method
        How the MTD was selected (e.g. ``"boin isotonic regression"``).
    reasons
        Why this dose (at least one reason; required whenever the RP2D is below the MTD, e.g.
        late toxicity, efficacy plateau, CAR-T expansion, manufacturing feasibility).
    committee_decision
        ``approved``, ``approved-with-changes``, ``deferred`` or ``rejected``.
    decided_on
        Date of the committee meeting.
    committee_members
        Names or roles of the voting members.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mtd: int | None = Field(ge=0)
    rp2d: int = Field(ge=0)
    dose_level: str = Field(min_length=1)
    method: str = Field(min_length=1)
    reasons: tuple[str, ...] = Field(min_length=1)
    committee_decision: CommitteeDecision
    decided_on: dt.date
    committee_members: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _rp2d_not_above_mtd(self) -> Self:
        if self.mtd is not None and self.rp2d > self.mtd:
            raise ValueError(f"the RP2D (dose {self.rp2d}) cannot be above the MTD ({self.mtd})")
        if any(not reason.strip() for reason in self.reasons):
            raise ValueError("reasons cannot be blank")
        return self

    @property
    def below_mtd(self) -> bool:
        """True when the committee chose a dose lower than the MTD."""
        return self.mtd is not None and self.rp2d < self.mtd
