"""The i3+3 design (Liu, Wang & Ji 2020)."""

from __future__ import annotations

from dataclasses import dataclass

from cartrial.designs.base import check_half_widths
from cartrial.designs.interval import IntervalDesign, RuleCode

__all__ = ["I3Plus3"]

_TOL = 1e-12


@dataclass(frozen=True, kw_only=True)
class I3Plus3(IntervalDesign):
    """i3+3: a rule-based interval design on the observed rate ``y/n``.

    With the equivalence interval ``[target - eps1, target + eps2]``: below it escalate; inside it
    stay; above it stay if ``(y - 1)/n`` is below the interval (one DLT fewer would have
    escalated), else de-escalate. Elimination, stopping and isotonic MTD selection as for BOIN.

    Parameters
    ----------
    eps1, eps2
        Half-widths of the equivalence interval (default 0.05).
    **common
        See :class:`~cartrial.designs.interval.IntervalDesign`.
    """

    eps1: float = 0.05
    eps2: float = 0.05

    def __post_init__(self) -> None:
        super().__post_init__()
        check_half_widths(self.target, self.eps1, self.eps2)

    def rule(self, n: int, y: int) -> RuleCode:
        """The i3+3 rule at ``y`` DLTs in ``n`` (boundaries compared with a 1e-12 tolerance)."""
        low, high = self.target - self.eps1, self.target + self.eps2
        rate = y / n
        if rate < low - _TOL:
            return "E"
        if rate <= high + _TOL:
            return "S"
        return "S" if (y - 1) / n < low - _TOL else "D"
