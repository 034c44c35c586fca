"""Probability intervals of the interval designs (mTPI-2, Keyboard) and their posterior mass."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

from cartrial.designs.base import check_half_widths, check_target
from cartrial.designs.interval import IntervalDesign, RuleCode
from cartrial.errors import DesignError

__all__ = [
    "EqualWidthIntervalDesign",
    "PartialIntervals",
    "ProbabilityInterval",
    "equal_width_intervals",
    "strongest_interval",
]

PartialIntervals = Literal["drop", "include"]
_TOL = 1e-9


@dataclass(frozen=True)
class ProbabilityInterval:
    """An interval ``[low, high]`` of the DLT probability and the decision it stands for."""

    low: float
    high: float
    code: RuleCode


def equal_width_intervals(
    target: float, eps1: float, eps2: float, partial: PartialIntervals
) -> tuple[ProbabilityInterval, ...]:
    """The target interval ``[target - eps1, target + eps2]`` and equal-width intervals around it.

    Intervals of width ``eps1 + eps2`` tile ``[0, 1]`` outwards from the target interval
    (Guo et al. 2017; Yan et al. 2017). A remainder at 0 or 1 narrower than that width is dropped
    (``partial="drop"``) or kept as a shorter interval (``partial="include"``).
    """
    check_target(target)
    check_half_widths(target, eps1, eps2)
    if partial not in ("drop", "include"):
        raise DesignError(f"partial must be 'drop' or 'include', got {partial!r}")
    width = eps1 + eps2
    low, high = target - eps1, target + eps2
    intervals = [ProbabilityInterval(low, high, "S")]
    edge = low
    while edge > _TOL:
        start = edge - width
        if start < -_TOL and partial == "drop":
            break
        intervals.insert(0, ProbabilityInterval(max(start, 0.0), edge, "E"))
        edge = start
    edge = high
    while edge < 1 - _TOL:
        end = edge + width
        if end > 1 + _TOL and partial == "drop":
            break
        intervals.append(ProbabilityInterval(edge, min(end, 1.0), "D"))
        edge = end
    return tuple(intervals)


def strongest_interval(
    intervals: tuple[ProbabilityInterval, ...], n: int, y: int, per_unit_width: bool
) -> RuleCode:
    """The code of the interval with the largest posterior mass under Beta(1 + y, 1 + n - y).

    With ``per_unit_width`` the mass is divided by the interval width (mTPI's unit probability
    mass); otherwise it is the plain posterior probability (Keyboard's strongest key). Ties go to
    the highest interval, the safer move (Keyboard package ``get.boundary.kb``:
    ``max(which(targetp == max(targetp)))``); scores within a relative ``1e-9`` of the largest
    count as tied, so that mathematically equal masses (e.g. intervals mirrored about 0.5 under a
    symmetric posterior) do not depend on rounding.
    """
    lows = np.array([iv.low for iv in intervals])
    highs = np.array([iv.high for iv in intervals])
    mass = special.betainc(1 + y, 1 + n - y, highs) - special.betainc(1 + y, 1 + n - y, lows)
    score = mass / (highs - lows) if per_unit_width else mass
    return intervals[int(np.flatnonzero(score >= score.max() * (1 - 1e-9))[-1])].code


@dataclass(frozen=True, kw_only=True)
class EqualWidthIntervalDesign(IntervalDesign):
    """A design deciding by the strongest of the equal-width intervals (Keyboard, mTPI-2).

    Subclasses say only how the intervals are scored (:attr:`per_unit_width`).

    Parameters
    ----------
    eps1, eps2
        Half-widths of the target interval below and above the target (default 0.05).
    partial
        ``"include"`` (default) keeps the remainders at 0 and 1 as shorter intervals, ``"drop"``
        ignores them (see :func:`equal_width_intervals`).
    **common
        See :class:`~cartrial.designs.interval.IntervalDesign`.
    """

    eps1: float = 0.05
    eps2: float = 0.05
    partial: PartialIntervals = "include"

    def __post_init__(self) -> None:
        super().__post_init__()
        equal_width_intervals(self.target, self.eps1, self.eps2, self.partial)

    @property
    @abstractmethod
    def per_unit_width(self) -> bool:
        """Whether interval masses are divided by their width (:func:`strongest_interval`)."""

    def rule(self, n: int, y: int) -> RuleCode:
        """The code of the strongest interval after ``y`` DLTs in ``n``."""
        intervals = equal_width_intervals(self.target, self.eps1, self.eps2, self.partial)
        return strongest_interval(intervals, n, y, per_unit_width=self.per_unit_width)
