"""Operating characteristics of a dose-finding design: the frozen result of a simulation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["DAYS_PER_MONTH", "SimulationResult", "Tally"]

DAYS_PER_MONTH = 365.25 / 12
"""Days in an average calendar month; accrual rates are patients per month."""


@dataclass
class Tally:
    """Running sums over simulated trials (internal accumulator; exact for every chunking).

    Integer counts add exactly; durations are summed per random-number block and the block sums
    are combined with :func:`math.fsum`, so the totals do not depend on how trials were chunked.
    """

    n_doses: int
    n_trials: int = 0
    selected: npt.NDArray[np.int64] = field(init=False)
    selected_none: int = 0
    patients: npt.NDArray[np.int64] = field(init=False)
    dlts: npt.NDArray[np.int64] = field(init=False)
    expansion_patients: int = 0
    stopped_early: int = 0
    duration_block_sums_days: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.selected = np.zeros(self.n_doses, dtype=np.int64)
        self.patients = np.zeros(self.n_doses, dtype=np.int64)
        self.dlts = np.zeros(self.n_doses, dtype=np.int64)

    def merge(self, other: Tally) -> None:
        """Add another tally (of later trials) to this one."""
        self.n_trials += other.n_trials
        self.selected += other.selected
        self.selected_none += other.selected_none
        self.patients += other.patients
        self.dlts += other.dlts
        self.expansion_patients += other.expansion_patients
        self.stopped_early += other.stopped_early
        self.duration_block_sums_days.extend(other.duration_block_sums_days)


@dataclass(frozen=True)
class SimulationResult:
    """Operating characteristics of one design under one true dose-toxicity scenario.

    Attributes
    ----------
    design
        Name of the design (``"boin"``, ``"crm"``, ...).
    true_tox
        True DLT probability per dose (0-based dose order).
    n_trials
        Number of simulated trials; ``None`` for exact enumeration.
    seed
        Seed of the run; ``None`` for exact enumeration.
    method
        How the figures were computed: ``"monte-carlo"`` (vectorised across trials) or
        ``"exact-enumeration"``.
    selection_pct
        Per dose, the percentage of trials selecting it as the MTD (or RP2D after expansion).
    selection_none_pct
        Percentage of trials selecting no dose.
    mean_patients, mean_dlts
        Per dose, the mean number of patients treated and of DLTs observed (escalation plus
        expansion).
    early_stop_pct
        Percentage of trials ended by the design's ``stop`` decision before the planned maximum
        number of cohorts.
    mean_duration_months
        Mean time from the first enrolment to the end of the last patient's DLT window
        (months of 365.25/12 days).
    mean_expansion_patients
        Mean number of expansion patients (0 without an expansion phase).
    settings
        The simulation settings (accrual, DLT window and onset, expansion), as printed values.
    trials
        With ``keep_trials=True``: one row per cohort of every trial with columns ``trial``,
        ``phase`` (``"escalation"``/``"expansion"``), ``cohort``, ``dose``, ``n`` and ``dlts``;
        otherwise ``None``.
    """

    design: str
    true_tox: tuple[float, ...]
    n_trials: int | None
    seed: int | None
    method: str
    selection_pct: tuple[float, ...]
    selection_none_pct: float
    mean_patients: tuple[float, ...]
    mean_dlts: tuple[float, ...]
    early_stop_pct: float
    mean_duration_months: float
    mean_expansion_patients: float
    settings: dict[str, str] = field(default_factory=dict)
    trials: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    @property
    def mean_total_patients(self) -> float:
        """Mean number of patients per trial."""
        return float(sum(self.mean_patients))

    @property
    def mean_total_dlts(self) -> float:
        """Mean number of DLTs per trial."""
        return float(sum(self.mean_dlts))

    @classmethod
    def from_tally(
        cls,
        tally: Tally,
        *,
        design: str,
        true_tox: tuple[float, ...],
        seed: int | None,
        settings: dict[str, str],
        trials: pd.DataFrame | None = None,
    ) -> SimulationResult:
        """Summarise a :class:`Tally` of Monte Carlo trials."""
        n = tally.n_trials
        return cls(
            design=design,
            true_tox=true_tox,
            n_trials=n,
            seed=seed,
            method="monte-carlo",
            selection_pct=tuple(float(v) for v in 100.0 * tally.selected / n),
            selection_none_pct=100.0 * tally.selected_none / n,
            mean_patients=tuple(float(v) for v in tally.patients / n),
            mean_dlts=tuple(float(v) for v in tally.dlts / n),
            early_stop_pct=100.0 * tally.stopped_early / n,
            mean_duration_months=math.fsum(tally.duration_block_sums_days) / n / DAYS_PER_MONTH,
            mean_expansion_patients=tally.expansion_patients / n,
            settings=settings,
            trials=trials,
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per dose plus a ``none`` row: true DLT rate, selection %, patients, DLTs.

        Trial-level figures (early stop %, duration, totals) are in ``DataFrame.attrs``.
        """
        doses = [str(d) for d in range(len(self.true_tox))]
        frame = pd.DataFrame(
            {
                "dose": [*doses, "none"],
                "true_tox": [*self.true_tox, np.nan],
                "selection_pct": [*self.selection_pct, self.selection_none_pct],
                "mean_patients": [*self.mean_patients, np.nan],
                "mean_dlts": [*self.mean_dlts, np.nan],
            }
        )
        frame.insert(0, "design", self.design)
        frame.attrs.update(self.summary())
        return frame

    def summary(self) -> dict[str, float | str | int | None]:
        """Trial-level figures: method, early stop %, mean N, mean DLTs, mean duration."""
        return {
            "design": self.design,
            "method": self.method,
            "n_trials": self.n_trials,
            "seed": self.seed,
            "early_stop_pct": self.early_stop_pct,
            "mean_total_patients": self.mean_total_patients,
            "mean_total_dlts": self.mean_total_dlts,
            "mean_expansion_patients": self.mean_expansion_patients,
            "mean_duration_months": self.mean_duration_months,
        }
