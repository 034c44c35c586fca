"""Which doses count as the true MTD of a scenario, and which lie above it.

Operating characteristics such as the percentage of correct selection (PCS) and the risk of
overdosing need the true MTD of each scenario. Two definitions, both stated in every result:

* ``acceptable=None`` (default): the dose(s) whose true DLT probability is closest to the target
  (ties within ``1e-9`` are all correct), as in the BOIN, dfcrm and Keyboard simulation papers;
* ``acceptable=(low, high)``: every dose with ``low <= p <= high`` (an acceptable toxicity
  interval, e.g. ``(0.25, 0.35)`` around a target of 0.3); a scenario may then have none.

Doses *above the MTD* are those with a true DLT probability above every correct dose (with an
acceptable interval: above ``high``). When the target is one of the true probabilities this is
R BOIN ``get.oc``'s ``p.true > target``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cartrial.errors import DesignError

__all__ = ["MTDDefinition"]

_TIE = 1e-9


@dataclass(frozen=True)
class MTDDefinition:
    """The true MTD of a scenario: closest to ``target`` or inside ``acceptable``.

    Parameters
    ----------
    target
        Target DLT probability; ``None`` (3+3 without a stated target) leaves the MTD undefined
        unless ``acceptable`` is given.
    acceptable
        ``(low, high)``: every dose with a true DLT probability in ``[low, high]`` is correct.
    """

    target: float | None
    acceptable: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.target is not None and not 0 < self.target < 1:
            raise DesignError(f"target must lie in (0, 1), got {self.target!r}")
        if self.acceptable is not None:
            low, high = self.acceptable
            if not 0 <= low <= high <= 1:
                raise DesignError(
                    f"acceptable interval must satisfy 0 <= low <= high <= 1, got {self.acceptable}"
                )

    @property
    def defined(self) -> bool:
        """Whether there is a rule at all (a target or an acceptable interval)."""
        return self.target is not None or self.acceptable is not None

    def correct(self, true_tox: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Per dose, whether it is a correct MTD selection."""
        tox = np.asarray(true_tox, dtype=float)
        if self.acceptable is not None:
            low, high = self.acceptable
            return np.asarray((tox >= low - _TIE) & (tox <= high + _TIE), dtype=bool)
        if self.target is None:
            return np.zeros(tox.shape, dtype=bool)
        distance = np.abs(tox - self.target)
        return np.asarray(distance <= distance.min() + _TIE, dtype=bool)

    def above(self, true_tox: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Per dose, whether its true DLT probability lies above the MTD."""
        tox = np.asarray(true_tox, dtype=float)
        if self.acceptable is not None:
            return np.asarray(tox > self.acceptable[1] + _TIE, dtype=bool)
        correct = self.correct(tox)
        if not correct.any():
            return np.zeros(tox.shape, dtype=bool)
        return np.asarray(tox > tox[correct].max() + _TIE, dtype=bool)

    def describe(self) -> str:
        """The rule in words, printed with every result."""
        if self.acceptable is not None:
            low, high = self.acceptable
            return f"true DLT probability in the acceptable interval [{low:g}, {high:g}]"
        if self.target is None:
            return "not defined (no target given)"
        return f"true DLT probability closest to the target {self.target:g}"
