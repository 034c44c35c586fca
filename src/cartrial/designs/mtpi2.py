"""The mTPI-2 design (Guo, Wang, Yang, Lynn & Ji 2017)."""

from __future__ import annotations

from dataclasses import dataclass

from cartrial.designs.intervals import EqualWidthIntervalDesign

__all__ = ["MTPI2"]


@dataclass(frozen=True, kw_only=True)
class MTPI2(EqualWidthIntervalDesign):
    """mTPI-2: the decision of the interval with the largest unit probability mass.

    The equivalence interval ``EI = [target - eps1, target + eps2]`` and sub-intervals of the same
    width below and above it ("Ockham's razor"); the unit probability mass
    ``Pr(p in interval | data) / width`` under Beta(1 + y, 1 + n - y) picks the interval: below EI
    escalate, EI stay, above de-escalate. "DU" in :meth:`decision_grid` marks the safety
    elimination (``Pr(p > target) > 0.95``). Stopping and isotonic MTD selection as for BOIN.

    Parameters
    ----------
    eps1, eps2
        Half-widths of the equivalence interval (default 0.05).
    partial
        ``"include"`` (default) keeps the remainders at 0 and 1 as shorter intervals, scored by
        their own width; ``"drop"`` ignores them (then the decisions equal Keyboard's).
    **common
        See :class:`~cartrial.designs.interval.IntervalDesign`.
    """

    @property
    def per_unit_width(self) -> bool:
        """Intervals are scored by their unit probability mass."""
        return True
