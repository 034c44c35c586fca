"""The machinery shared by the count-rule designs (BOIN, Keyboard, mTPI-2, i3+3, decision tables).

Each of these designs decides from the number treated ``n`` and DLTs ``y`` at the current dose:
its own rule maps ``(n, y)`` to ``E`` (escalate), ``S`` (stay) or ``D`` (de-escalate). Around that
rule they share the safety elimination (``n >= 3`` and ``Pr(p > target | y, n) > 0.95`` under a
Beta(1, 1) prior eliminates the dose and all higher doses; BOIN package ``select.mtd`` and
``get.oc``), the stopping rules, the order in which the rules apply (see
:mod:`cartrial.designs.base`) and the MTD selection by isotonic regression
(:func:`cartrial.designs.isotonic.isotonic_mtd`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
from scipy import special

from cartrial.designs.base import (
    Decision,
    check_cohort_plan,
    check_counts,
    check_positive_int,
    decision_from_move,
)
from cartrial.designs.isotonic import isotonic_mtd
from cartrial.errors import DesignError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RULE_CODES", "IntervalDesign", "RuleCode", "prob_above"]

RuleCode = Literal["E", "S", "D"]
RULE_CODES: tuple[RuleCode, ...] = ("E", "S", "D")


def prob_above(
    threshold: float,
    y: npt.ArrayLike,
    n: npt.ArrayLike,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
) -> npt.NDArray[np.float64]:
    """``Pr(p > threshold | y DLTs in n)`` under a Beta(prior_a, prior_b) prior (beta-binomial)."""
    y_arr = np.asarray(y, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    return np.asarray(special.betaincc(prior_a + y_arr, prior_b + n_arr - y_arr, threshold), float)


@dataclass(frozen=True, kw_only=True)
class IntervalDesign(ABC):
    """Common parameters and rules of the count-rule designs.

    Parameters
    ----------
    target
        Target DLT rate, strictly between 0 and 1.
    n_doses
        Number of dose levels.
    cohort_size
        Patients per cohort (>= 1).
    n_cohorts
        Maximum number of cohorts; the trial stops once ``cohort_size * n_cohorts`` are treated.
    start
        0-based starting dose.
    n_earlystop
        Stop when this many patients have been treated at the current dose and the decision is to
        stay there (BOIN package ``n.earlystop``); ``None`` disables the rule.
    elimination_cutoff
        Eliminate a dose (and all higher) when ``n >= elimination_min_n`` and
        ``Pr(p > target | data) > elimination_cutoff`` (default 0.95, Beta(1, 1) prior).
    elimination_min_n
        Minimum number treated before the elimination rule applies (default 3).
    extrasafe
        Also stop when ``Pr(p_lowest > target | data) > elimination_cutoff - offset`` at the lowest
        dose (BOIN package ``extrasafe``).
    offset
        Offset of the extra-safe cutoff (default 0.05).
    """

    target: float
    n_doses: int
    cohort_size: int = 3
    n_cohorts: int = 10
    start: int = 0
    n_earlystop: int | None = None
    elimination_cutoff: float = 0.95
    elimination_min_n: int = 3
    extrasafe: bool = False
    offset: float = 0.05

    def __post_init__(self) -> None:
        check_cohort_plan(self.target, self.n_doses, self.cohort_size, self.n_cohorts, self.start)
        if self.n_earlystop is not None:
            check_positive_int(self.n_earlystop, "n_earlystop")
        check_positive_int(self.elimination_min_n, "elimination_min_n")
        if not 0.5 <= self.elimination_cutoff < 1.0:
            raise DesignError(
                f"elimination_cutoff must lie in [0.5, 1), got {self.elimination_cutoff!r}"
            )
        if not 0.0 <= self.offset < self.elimination_cutoff - 0.5:
            raise DesignError(
                f"offset must lie in [0, elimination_cutoff - 0.5), got {self.offset}"
            )

    # -- the design's own rule -------------------------------------------------------------
    @property
    def design_name(self) -> str:
        """Short name used in reasons and tables."""
        return type(self).__name__

    @abstractmethod
    def rule(self, n: int, y: int) -> RuleCode:
        """The design's decision at the current dose with ``y`` DLTs among ``n`` treated."""

    @property
    def max_patients(self) -> int:
        """Planned maximum sample size ``cohort_size * n_cohorts``."""
        return self.cohort_size * self.n_cohorts

    def _table_size(self) -> int:
        """Largest number treated shown by default in the decision tables."""
        return self.max_patients

    # -- tables ------------------------------------------------------------------------------
    def decision_grid(self, max_n: int | None = None) -> pd.DataFrame:
        """Every decision as a grid: rows ``y`` DLTs, columns ``n`` treated (1..max_n).

        Cells hold ``E``, ``S``, ``D`` or ``DU`` (de-escalate, dose unacceptable: the elimination
        rule fires) as mTPI-style protocol appendices print them; impossible cells are empty.
        """
        import pandas as pd

        top = self._table_size() if max_n is None else check_positive_int(max_n, "max_n")
        grid = pd.DataFrame(
            "", index=pd.RangeIndex(0, top + 1, name="dlt"), columns=range(1, top + 1)
        )
        grid.columns.name = "n_treated"
        for n in range(1, top + 1):
            eliminate = self._eliminates(n, np.arange(n + 1))
            for y in range(n + 1):
                grid.loc[y, n] = "DU" if eliminate[y] else self.rule(n, y)
        return grid

    def boundaries(self, max_n: int | None = None) -> pd.DataFrame:
        """The decision table in count form, one row per number treated (1..max_n).

        Columns: ``n_treated``; ``escalate_if_dlt_le`` (escalate if DLTs <= this),
        ``deescalate_if_dlt_ge`` (de-escalate if DLTs >= this), ``eliminate_if_dlt_ge`` (eliminate
        the dose and all higher if DLTs >= this); ``<NA>`` where no count triggers the action.
        Between the first two, stay. Default ``max_n`` is the maximum sample size.
        """
        import pandas as pd

        top = self._table_size() if max_n is None else check_positive_int(max_n, "max_n")
        rows = []
        for n in range(1, top + 1):
            codes = [self.rule(n, y) for y in range(n + 1)]
            escalate = [y for y, c in enumerate(codes) if c == "E"]
            deescalate = [y for y, c in enumerate(codes) if c == "D"]
            eliminate = np.flatnonzero(self._eliminates(n, np.arange(n + 1)))
            if escalate and escalate != list(range(len(escalate))):
                raise DesignError(f"n = {n}: escalation counts are not a run from 0: {codes}")
            if deescalate and deescalate != list(range(deescalate[0], n + 1)):
                raise DesignError(f"n = {n}: de-escalation counts are not a run up to n: {codes}")
            rows.append(
                {
                    "n_treated": n,
                    "escalate_if_dlt_le": escalate[-1] if escalate else pd.NA,
                    "deescalate_if_dlt_ge": deescalate[0] if deescalate else pd.NA,
                    "eliminate_if_dlt_ge": int(eliminate[0]) if eliminate.size else pd.NA,
                }
            )
        table = pd.DataFrame(rows)
        for column in ("escalate_if_dlt_le", "deescalate_if_dlt_ge", "eliminate_if_dlt_ge"):
            table[column] = table[column].astype("Int64")
        return table

    def table_notes(self) -> tuple[str, ...]:
        """Footnotes of the decision table: the rule, elimination and stopping rules in words."""
        notes = [
            f"{self.design_name}: {self._rule_note()} Doses are never skipped when escalating.",
            f"Eliminate: when at least {self.elimination_min_n} patients have been treated at a "
            f"dose and Pr(DLT rate > {self.target:g} | data) > {self.elimination_cutoff:g} under "
            "a Beta(1, 1) prior, that dose and every higher dose are eliminated and never "
            "used again; if the lowest dose is eliminated the trial stops with no MTD.",
            f"The trial stops at the maximum sample size of {self.max_patients} patients "
            f"({self.n_cohorts} cohorts of {self.cohort_size}).",
        ]
        if self.n_earlystop is not None:
            notes.append(
                f"Early stop: when {self.n_earlystop} patients have been treated at the current "
                "dose and the decision is to stay there, the trial stops and the MTD is selected."
            )
        if self.extrasafe:
            notes.append(
                f"Extra-safe stop: when at least {self.elimination_min_n} patients have been "
                f"treated at the lowest dose and Pr(DLT rate > {self.target:g} | data) > "
                f"{self.elimination_cutoff - self.offset:g}, the trial stops with no MTD."
            )
        notes.append(
            "MTD: the dose whose isotonic-regression estimate of the DLT rate is closest to the "
            f"target {self.target:g} among doses treated and not eliminated (Liu & Yuan 2015)."
        )
        return tuple(notes)

    def _rule_note(self) -> str:
        """The dose-finding rule in one sentence (subclasses name their boundaries)."""
        return "escalate, stay or de-escalate as the table says for the current dose."

    # -- decisions ---------------------------------------------------------------------------
    def _eliminates(self, n: int | npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        n_arr = np.asarray(n)
        return np.asarray(
            (n_arr >= self.elimination_min_n)
            & (prob_above(self.target, y, n_arr) > self.elimination_cutoff),
            dtype=bool,
        )

    def eliminated(
        self, n: Sequence[int] | npt.ArrayLike, dlt: Sequence[int] | npt.ArrayLike
    ) -> tuple[int, ...]:
        """Doses eliminated by the safety rule: the lowest dose meeting it and every higher dose."""
        n_arr, dlt_arr = check_counts(n, dlt, self.n_doses)
        return self._eliminated(n_arr, dlt_arr)

    def _eliminated(self, n: npt.NDArray[np.int64], dlt: npt.NDArray[np.int64]) -> tuple[int, ...]:
        hits = np.flatnonzero(self._eliminates(n, dlt))
        return tuple(range(int(hits[0]), self.n_doses)) if hits.size else ()

    def _extrasafe_probability(
        self, n: npt.NDArray[np.int64], dlt: npt.NDArray[np.int64]
    ) -> float | None:
        """``Pr(p_lowest > target)`` if the extra-safe rule fires at the lowest dose, else None."""
        if not self.extrasafe or n[0] < self.elimination_min_n:
            return None
        p_low = float(prob_above(self.target, dlt[0], n[0])[()])
        return p_low if p_low > self.elimination_cutoff - self.offset else None

    def _rule_reason(self, n: int, y: int, code: RuleCode) -> str:
        return f"{self.design_name}: {y}/{n} DLT at the current dose -> {code}"

    def decide(
        self,
        n: Sequence[int] | npt.ArrayLike,
        dlt: Sequence[int] | npt.ArrayLike,
        current: int,
    ) -> Decision:
        """The next-dose decision; rules apply in the order of :mod:`cartrial.designs.base`.

        Parameters
        ----------
        n, dlt
            Patients treated and DLTs observed, per dose (0-based, low to high).
        current
            0-based dose of the last cohort.
        """
        n_arr, dlt_arr = check_counts(n, dlt, self.n_doses, current)
        m, y = int(n_arr[current]), int(dlt_arr[current])
        if m == 0:
            code: RuleCode = "S"
            why = f"no patient yet at dose {current}: treat the first cohort there"
        else:
            code = self.rule(m, y)
            why = self._rule_reason(m, y, code)
        return self._settle(
            n_arr,
            dlt_arr,
            current,
            code,
            why,
            eliminated=self._eliminated(n_arr, dlt_arr),
            details={"n_current": float(m), "dlt_current": float(y)},
        )

    def _settle(
        self,
        n: npt.NDArray[np.int64],
        dlt: npt.NDArray[np.int64],
        current: int,
        code: RuleCode,
        why: str,
        *,
        eliminated: tuple[int, ...],
        details: dict[str, float],
        complete: npt.NDArray[np.int64] | None = None,
    ) -> Decision:
        """Apply precedence rules 3-8 of :mod:`cartrial.designs.base` around the rule's code.

        ``complete`` (TITE designs) counts the patients with complete DLT follow-up per dose; the
        extra-safe rule uses it like the elimination rule does. Default: ``n``.
        """
        if eliminated and eliminated[0] == 0:
            return Decision("stop", None, eliminated, "lowest dose eliminated: too toxic", details)
        p_low = self._extrasafe_probability(n if complete is None else complete, dlt)
        if p_low is not None:
            reason = (
                f"extra-safe stop: Pr(p > {self.target:g}) = {p_low:.3f} at the lowest dose "
                f"exceeds {self.elimination_cutoff - self.offset:g}"
            )
            return Decision("stop", None, eliminated, reason, details)
        if int(n.sum()) >= self.max_patients:
            reason = f"maximum sample size reached ({self.max_patients} patients)"
            return Decision("stop", None, eliminated, reason, details)
        top = (eliminated[0] if eliminated else self.n_doses) - 1
        if current > top:
            next_dose = top
            why = f"dose {current} eliminated: move to dose {top}"
        elif code == "E":
            next_dose = min(current + 1, top)
            if next_dose == current:
                why += (
                    "; stay: the next dose is eliminated"
                    if current < self.n_doses - 1
                    else "; stay: already at the highest dose"
                )
        elif code == "D":
            next_dose = max(current - 1, 0)
            if next_dose == current:
                why += "; stay: already at the lowest dose"
        else:
            next_dose = current
        if self.n_earlystop is not None and next_dose == current and n[current] >= self.n_earlystop:
            reason = f"{why}; stop: {n[current]} patients at dose {current} (n_earlystop)"
            return Decision("stop", None, eliminated, reason, details)
        return decision_from_move(current, next_dose, eliminated, why, details)

    def select_mtd(
        self, n: Sequence[int] | npt.ArrayLike, dlt: Sequence[int] | npt.ArrayLike
    ) -> int | None:
        """The MTD by isotonic regression (BOIN ``select.mtd``), ``None`` if no dose qualifies.

        Returns ``None`` when the lowest dose is eliminated (or the extra-safe rule fires).
        """
        n_arr, dlt_arr = check_counts(n, dlt, self.n_doses)
        eliminated = self._eliminated(n_arr, dlt_arr)
        if self._extrasafe_probability(n_arr, dlt_arr) is not None:
            return None
        return isotonic_mtd(n_arr, dlt_arr, self.target, eliminated, self.mtd_bound())[0]

    def mtd_bound(self) -> float | None:
        """Isotonic estimates at or above this bound cannot be selected as MTD (``None``: none)."""
        return None
