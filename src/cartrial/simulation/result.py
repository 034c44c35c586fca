"""Operating characteristics of a dose-finding design: the frozen result of a simulation.

Monte Carlo standard errors are those of a mean over independent trials: for a percentage
``p`` of ``N`` trials, ``sqrt(p (100 - p) / N)``; for a mean count, the sample standard deviation
over trials divided by ``sqrt(N)``. The risk of overdosing follows R BOIN ``get.oc`` (Yan et al.
2020, J Stat Softw 94(13); ``overdose60``/``overdose80``): the percentage of trials that treat
more than 60 % (80 %) of the planned maximum sample size at doses above the MTD. The risk of poor
allocation is the reliability measure of Zhou, Yuan & Nie (2018), "Accuracy, safety, and
reliability of novel phase I trial designs", Clin Cancer Res 24(18):4357-4364: the percentage of
trials that treat fewer than ``npts / ndose`` patients at the MTD, ``npts`` the planned maximum
sample size and ``ndose`` the number of doses (the share of an even allocation), as R BOIN
``get.oc`` computed it in versions 1.0-2.4
(``mean(N[, p.true == target] < npts / ndose) * 100``; removed from BOIN 2.6 on) and
UnifiedDoseFinding's ``get_oc_BOIN`` still does. With several true MTD doses (an acceptable
interval) their patients are added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from cartrial.designs.describe import default_dose_labels
from cartrial.simulation.mtd import MTDDefinition

__all__ = [
    "DAYS_PER_MONTH",
    "OVERDOSE_FRACTIONS",
    "POOR_ALLOCATION_3PLUS3_N",
    "SimulationResult",
    "Tally",
    "default_dose_labels",
    "poor_allocation_threshold",
]

DAYS_PER_MONTH = 365.25 / 12
"""Days in an average calendar month; accrual rates are patients per month."""

OVERDOSE_FRACTIONS = (0.6, 0.8)
"""R BOIN get.oc's risk of overdosing: > 60 % / 80 % of the planned patients above the MTD."""

POOR_ALLOCATION_3PLUS3_N = 6
"""Poor-allocation threshold of a design without a planned maximum (3+3): its ``npts / ndose``
with at most 6 patients per dose, ``npts = 6 ndose``."""


def poor_allocation_threshold(planned_max: int | None, n_doses: int) -> float:
    """Patients at the MTD below which a trial counts as poorly allocated: ``npts / ndose``.

    Zhou, Yuan & Nie (2018), as R BOIN ``get.oc`` (1.0-2.4) computes it; ``planned_max`` is the
    planned maximum sample size (``None`` for 3+3: :data:`POOR_ALLOCATION_3PLUS3_N`).
    """
    if planned_max is None:
        return float(POOR_ALLOCATION_3PLUS3_N)
    return planned_max / n_doses


@dataclass
class Tally:
    """Running sums over simulated trials (internal accumulator; exact for every chunking).

    Integer counts and sums of squares add exactly; durations are summed per random-number block
    and the block sums are combined with :func:`math.fsum`, so the totals do not depend on how
    trials were chunked.
    """

    n_doses: int
    n_trials: int = 0
    selected: npt.NDArray[np.int64] = field(init=False)
    selected_none: int = 0
    patients: npt.NDArray[np.int64] = field(init=False)
    patients_sq: npt.NDArray[np.int64] = field(init=False)
    dlts: npt.NDArray[np.int64] = field(init=False)
    dlts_sq: npt.NDArray[np.int64] = field(init=False)
    total_patients_sq: int = 0
    total_dlts_sq: int = 0
    expansion_patients: int = 0
    stopped_early: int = 0
    overdosed: npt.NDArray[np.int64] = field(init=False)
    poor_allocation: int = 0
    duration_block_sums_days: list[float] = field(default_factory=list)
    duration_block_sq_days: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.selected = np.zeros(self.n_doses, dtype=np.int64)
        self.patients = np.zeros(self.n_doses, dtype=np.int64)
        self.patients_sq = np.zeros(self.n_doses, dtype=np.int64)
        self.dlts = np.zeros(self.n_doses, dtype=np.int64)
        self.dlts_sq = np.zeros(self.n_doses, dtype=np.int64)
        self.overdosed = np.zeros(len(OVERDOSE_FRACTIONS), dtype=np.int64)

    def add_trials(
        self,
        n: npt.NDArray[np.int64],
        y: npt.NDArray[np.int64],
        selected: npt.NDArray[np.int64],
        *,
        mtd: npt.NDArray[np.bool_],
        above: npt.NDArray[np.bool_],
        planned_max: int | None,
    ) -> None:
        """Add trials with patients ``n`` and DLTs ``y`` per dose and their selected dose."""
        self.n_trials += n.shape[0]
        self.selected += np.bincount(selected[selected >= 0], minlength=self.n_doses)
        self.selected_none += int((selected < 0).sum())
        self.patients += n.sum(axis=0)
        self.patients_sq += (n * n).sum(axis=0)
        self.dlts += y.sum(axis=0)
        self.dlts_sq += (y * y).sum(axis=0)
        total_n = n.sum(axis=1)
        total_y = y.sum(axis=1)
        self.total_patients_sq += int((total_n * total_n).sum())
        self.total_dlts_sq += int((total_y * total_y).sum())
        over = n[:, above].sum(axis=1)
        cap = total_n if planned_max is None else planned_max
        for k, fraction in enumerate(OVERDOSE_FRACTIONS):
            self.overdosed[k] += int((over > fraction * cap).sum())
        poor = n[:, mtd].sum(axis=1) < poor_allocation_threshold(planned_max, self.n_doses)
        self.poor_allocation += int(poor.sum())

    def merge(self, other: Tally) -> None:
        """Add another tally (of later trials) to this one."""
        self.n_trials += other.n_trials
        self.selected += other.selected
        self.selected_none += other.selected_none
        self.patients += other.patients
        self.patients_sq += other.patients_sq
        self.dlts += other.dlts
        self.dlts_sq += other.dlts_sq
        self.total_patients_sq += other.total_patients_sq
        self.total_dlts_sq += other.total_dlts_sq
        self.expansion_patients += other.expansion_patients
        self.stopped_early += other.stopped_early
        self.overdosed += other.overdosed
        self.poor_allocation += other.poor_allocation
        self.duration_block_sums_days.extend(other.duration_block_sums_days)
        self.duration_block_sq_days.extend(other.duration_block_sq_days)


def _pct_se(count: float, n: int) -> float:
    """Monte Carlo SE (percentage points) of the percentage ``100 count / n``."""
    p = count / n
    return 100.0 * math.sqrt(max(p * (1.0 - p), 0.0) / n)


def _mean_se(total: float, total_sq: float, n: int) -> float:
    """Monte Carlo SE of a mean from the sum and the sum of squares over ``n`` trials."""
    if n < 2:
        return math.nan
    mean = total / n
    variance = max(total_sq - n * mean * mean, 0.0) / (n - 1)
    return math.sqrt(variance / n)


@dataclass(frozen=True)
class SimulationResult:
    """Operating characteristics of one design under one true dose-toxicity scenario.

    Attributes
    ----------
    design
        Name of the design (``"boin"``, ``"crm"``, ...).
    true_tox
        True DLT probability per dose (dose order of ``dose_labels``).
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
        Percentage of trials ended by the design's ``stop`` decision with no dose selected.
    mean_duration_months
        Mean time from the first enrolment to the end of the last patient's DLT window (months
        of 365.25/12 days); ``None`` when accrual is instantaneous (no time scale).
    mean_expansion_patients
        Mean number of expansion patients (0 without an expansion phase).
    settings
        The simulation settings (accrual, DLT window and onset, expansion), as printed values.
    trials
        With ``keep_trials=True``: one row per cohort of every trial; otherwise ``None``.
    dose_labels
        The dose-level names (protocol names, else ``DL1 ... DLk``).
    mtd
        What counts as the true MTD (:class:`~cartrial.simulation.mtd.MTDDefinition`).
    design_parameters
        Every parameter of the design as printed values (target, cohort size and number,
        skeleton, boundaries, stopping and elimination rules).
    software_version
        cartrial's version that produced the result.
    selection_se, selection_none_se, mean_patients_se, mean_dlts_se, mean_total_patients_se,
    mean_total_dlts_se, mean_duration_months_se
        Monte Carlo standard errors (percentage points for percentages); ``None`` when exact.
    overdose_pct
        R BOIN get.oc's risk of overdosing: ``{0.6: %, 0.8: %}`` of trials treating more than
        that fraction of the planned maximum sample size above the MTD (the trial's own sample
        size for a design without a planned maximum, 3+3); ``None`` when exact.
    poor_allocation_pct
        Risk of poor allocation (Zhou, Yuan & Nie 2018): percentage of trials treating fewer
        than ``poor_allocation_n`` patients at the MTD; ``None`` when the scenario has no MTD.
    poor_allocation_n
        Its threshold ``npts / ndose`` (:func:`poor_allocation_threshold`).
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
    mean_duration_months: float | None
    mean_expansion_patients: float
    settings: dict[str, str] = field(default_factory=dict)
    trials: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    dose_labels: tuple[str, ...] = ()
    mtd: MTDDefinition = field(default_factory=lambda: MTDDefinition(None))
    design_parameters: dict[str, str] = field(default_factory=dict)
    software_version: str = ""
    selection_se: tuple[float, ...] | None = None
    selection_none_se: float | None = None
    mean_patients_se: tuple[float, ...] | None = None
    mean_dlts_se: tuple[float, ...] | None = None
    mean_total_patients_se: float | None = None
    mean_total_dlts_se: float | None = None
    mean_duration_months_se: float | None = None
    overdose_pct: dict[float, float] | None = None
    poor_allocation_pct: float | None = None
    poor_allocation_n: float | None = None

    @property
    def doses(self) -> tuple[str, ...]:
        """Dose-level names: ``dose_labels`` or ``DL1 ... DLk``."""
        return self.dose_labels or default_dose_labels(len(self.true_tox))

    @property
    def mean_total_patients(self) -> float:
        """Mean number of patients per trial."""
        return float(sum(self.mean_patients))

    @property
    def mean_total_dlts(self) -> float:
        """Mean number of DLTs per trial."""
        return float(sum(self.mean_dlts))

    @property
    def correct_doses(self) -> tuple[int, ...]:
        """0-based positions of the true MTD dose(s) under ``mtd``."""
        return tuple(int(i) for i in np.flatnonzero(self.mtd.correct(self.true_tox)))

    @property
    def pcs_pct(self) -> float | None:
        """Percentage of correct selection: trials selecting a true MTD dose."""
        if not self.mtd.defined:
            return None
        return float(sum(self.selection_pct[i] for i in self.correct_doses))

    @property
    def pcs_se(self) -> float | None:
        """Monte Carlo SE of :attr:`pcs_pct` (percentage points)."""
        pcs = self.pcs_pct
        if pcs is None or self.n_trials is None:
            return None
        return _pct_se(pcs / 100.0 * self.n_trials, self.n_trials)

    @property
    def pct_patients_at_mtd(self) -> float | None:
        """Percentage of all treated patients treated at the true MTD dose(s)."""
        if not self.mtd.defined or self.mean_total_patients == 0:
            return None
        at = sum(self.mean_patients[i] for i in self.correct_doses)
        return 100.0 * at / self.mean_total_patients

    @property
    def pct_patients_above_mtd(self) -> float | None:
        """Percentage of all treated patients treated above the true MTD."""
        if not self.mtd.defined or self.mean_total_patients == 0:
            return None
        above = np.flatnonzero(self.mtd.above(self.true_tox))
        return 100.0 * sum(self.mean_patients[i] for i in above) / self.mean_total_patients

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
        dose_labels: tuple[str, ...] = (),
        mtd: MTDDefinition | None = None,
        design_parameters: dict[str, str] | None = None,
        timed: bool = True,
        poor_allocation_n: float | None = None,
    ) -> SimulationResult:
        """Summarise a :class:`Tally` of Monte Carlo trials (``timed``: accrual was given).

        ``poor_allocation_n``: the threshold the tally's poor allocation used (kept for print).
        """
        from cartrial import __version__

        mtd = MTDDefinition(None) if mtd is None else mtd
        n = tally.n_trials
        duration = math.fsum(tally.duration_block_sums_days)
        duration_sq = math.fsum(tally.duration_block_sq_days)
        has_mtd = bool(mtd.correct(true_tox).any())
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
            mean_duration_months=duration / n / DAYS_PER_MONTH if timed else None,
            mean_expansion_patients=tally.expansion_patients / n,
            settings=settings,
            trials=trials,
            dose_labels=dose_labels,
            mtd=mtd,
            design_parameters=dict(design_parameters or {}),
            software_version=__version__,
            selection_se=tuple(_pct_se(float(c), n) for c in tally.selected),
            selection_none_se=_pct_se(tally.selected_none, n),
            mean_patients_se=tuple(
                _mean_se(float(s), float(q), n)
                for s, q in zip(tally.patients, tally.patients_sq, strict=True)
            ),
            mean_dlts_se=tuple(
                _mean_se(float(s), float(q), n)
                for s, q in zip(tally.dlts, tally.dlts_sq, strict=True)
            ),
            mean_total_patients_se=_mean_se(
                float(tally.patients.sum()), float(tally.total_patients_sq), n
            ),
            mean_total_dlts_se=_mean_se(float(tally.dlts.sum()), float(tally.total_dlts_sq), n),
            mean_duration_months_se=_mean_se(duration, duration_sq, n) / DAYS_PER_MONTH
            if timed
            else None,
            overdose_pct={
                f: 100.0 * int(c) / n
                for f, c in zip(OVERDOSE_FRACTIONS, tally.overdosed, strict=True)
            }
            if mtd.defined
            else None,
            poor_allocation_pct=100.0 * tally.poor_allocation / n if has_mtd else None,
            poor_allocation_n=poor_allocation_n if has_mtd else None,
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per dose plus a ``none`` row, with Monte Carlo SEs.

        Columns ``design``, ``dose`` (dose-level name), ``true_tox``, ``mtd`` (a true MTD dose),
        ``selection_pct``, ``selection_se``, ``mean_patients``, ``mean_patients_se``,
        ``mean_dlts``, ``mean_dlts_se``. Trial-level figures (:meth:`summary`) are in
        ``DataFrame.attrs``, with the design's parameters (``attrs["design_parameters"]``) and
        the simulation settings (``attrs["settings"]``) as printed values.
        """
        k = len(self.true_tox)
        nan = (math.nan,) * k
        correct = self.mtd.correct(self.true_tox)
        frame = pd.DataFrame(
            {
                "dose": [*self.doses, "none"],
                "true_tox": [*self.true_tox, np.nan],
                "mtd": [*(bool(c) for c in correct), False],
                "selection_pct": [*self.selection_pct, self.selection_none_pct],
                "selection_se": [
                    *(self.selection_se or nan),
                    math.nan if self.selection_none_se is None else self.selection_none_se,
                ],
                "mean_patients": [*self.mean_patients, np.nan],
                "mean_patients_se": [*(self.mean_patients_se or nan), np.nan],
                "mean_dlts": [*self.mean_dlts, np.nan],
                "mean_dlts_se": [*(self.mean_dlts_se or nan), np.nan],
            }
        )
        frame.insert(0, "design", self.design)
        frame.attrs.update(self.summary())
        frame.attrs["design_parameters"] = dict(self.design_parameters)
        frame.attrs["settings"] = dict(self.settings)
        return frame

    def summary(self) -> dict[str, float | str | int | None]:
        """Trial-level figures: method, PCS, patients at/above the MTD, overdosing, N, duration."""
        overdose = self.overdose_pct or {}
        return {
            "design": self.design,
            "method": self.method,
            "n_trials": self.n_trials,
            "seed": self.seed,
            "software_version": self.software_version,
            "mtd_definition": self.mtd.describe(),
            "pcs_pct": self.pcs_pct,
            "pcs_se": self.pcs_se,
            "pct_patients_at_mtd": self.pct_patients_at_mtd,
            "pct_patients_above_mtd": self.pct_patients_above_mtd,
            "overdose60_pct": overdose.get(0.6),
            "overdose80_pct": overdose.get(0.8),
            "poor_allocation_pct": self.poor_allocation_pct,
            "poor_allocation_n": self.poor_allocation_n,
            "early_stop_pct": self.early_stop_pct,
            "mean_total_patients": self.mean_total_patients,
            "mean_total_patients_se": self.mean_total_patients_se,
            "mean_total_dlts": self.mean_total_dlts,
            "mean_total_dlts_se": self.mean_total_dlts_se,
            "mean_expansion_patients": self.mean_expansion_patients,
            "mean_duration_months": self.mean_duration_months,
            "mean_duration_months_se": self.mean_duration_months_se,
        }

    def to_json(self) -> dict[str, object]:
        """Everything as JSON-ready values: parameters, settings, per-dose rows and summary."""
        frame = self.to_frame()
        rows = frame.drop(columns="design").astype(object)
        return {
            "design": self.design,
            "design_parameters": self.design_parameters,
            "settings": self.settings,
            "doses": rows.where(rows.notna(), None).to_dict("records"),
            "summary": self.summary(),
        }
