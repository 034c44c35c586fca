"""The simulation engine: many dose-finding trials at once, vectorised across trials in chunks.

Each chunk holds state arrays of shape ``(n_trials_in_chunk, n_doses)`` (patients and DLTs per
dose), the current dose and the elapsed time per trial. Cohort by cohort, every still-running trial
treats its next cohort (DLTs from the trial's own uniforms, :mod:`cartrial.simulation.streams`),
then a decision kernel (:mod:`cartrial.simulation.kernels`, :mod:`cartrial.simulation.tite`,
:mod:`cartrial.simulation.crm`) gives every trial's next dose in one call. Results do not depend on
the chunk size: random numbers are tied to fixed blocks of trials and sums are exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, TypedDict, Unpack

import numpy as np
import numpy.typing as npt
import pandas as pd

from cartrial.designs.base import (
    Design,
    check_positive_int,
    check_probability_vector,
    is_time_to_event,
    takes_last_cohort,
)
from cartrial.designs.describe import design_parameters
from cartrial.designs.registry import design_name
from cartrial.errors import DesignError
from cartrial.simulation.kernels import CohortKernel, cohort_kernel
from cartrial.simulation.mtd import MTDDefinition
from cartrial.simulation.progress import DelayedProgress
from cartrial.simulation.result import (
    SimulationResult,
    Tally,
    default_dose_labels,
    poor_allocation_threshold,
)
from cartrial.simulation.settings import Accrual, DLTOnset, Expansion
from cartrial.simulation.streams import RNG_BLOCK_TRIALS, PatientDraws, draw_patients

__all__ = [
    "COHERENCE_RULES",
    "TRIAL_COLUMNS",
    "Coherence",
    "SimulationOptions",
    "SimulationPlan",
    "plan_simulation",
    "result_from_tally",
    "simulate",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

TRIAL_COLUMNS = ("trial", "phase", "cohort", "dose", "n", "dlts", "start_day")
"""Columns of :attr:`SimulationResult.trials` (one row per cohort of every kept trial)."""

Coherence = Literal["all-patients", "last-cohort"]
COHERENCE_RULES: tuple[Coherence, ...] = ("all-patients", "last-cohort")
"""What the coherence rule of a CRM design looks at (see :func:`simulate`, ``coherence``)."""

_COHERENCE_TEXT: dict[str, str] = {
    "all-patients": "no escalation if the DLT rate of all patients at the current dose >= target",
    "last-cohort": "no escalation if the last cohort's DLT fraction >= target (dfcrm restrict)",
}


@dataclass(frozen=True)
class SimulationPlan:
    """Everything a chunk of trials needs; built and validated once by :func:`plan_simulation`."""

    design: Design
    true_tox: FloatArray
    seed: int
    window_days: float
    accrual: Accrual | None
    onset: DLTOnset
    expansion: Expansion | None
    keep_trials: bool
    tite: bool
    max_cohorts: int
    backfill: int = 0
    coherence: Coherence = "all-patients"
    mtd: MTDDefinition = field(default_factory=lambda: MTDDefinition(None))
    dose_labels: tuple[str, ...] = ()

    @property
    def planned_max(self) -> int | None:
        """Planned maximum sample size of a trial (escalation, backfill and expansion slots).

        ``None`` for a design without a planned maximum (3+3): the risk of overdosing then
        compares with each trial's own sample size.
        """
        if self.design.max_patients is None:
            return None
        return self.max_n

    @property
    def n_slots(self) -> int:
        """Escalation patient slots per trial."""
        return self.max_cohorts * self.design.cohort_size

    @property
    def max_n(self) -> int:
        """Most patients one dose can receive (escalation plus expansion)."""
        expansion = self.expansion.n_patients if self.expansion else 0
        return self.n_slots + self.max_cohorts * self.backfill + expansion

    def settings(self) -> dict[str, str]:
        """The settings as printed values (kept in the result)."""
        return {
            "dlt_window_days": f"{self.window_days:g}",
            "accrual": "instantaneous"
            if self.accrual is None
            else f"{self.accrual.rate_per_month:g} patients/month ({self.accrual.distribution})",
            "dlt_onset": self.onset.describe(),
            "expansion": "none" if self.expansion is None else self.expansion.describe(),
            "backfill": f"{self.backfill} per cohort at the highest cleared lower dose"
            if self.backfill
            else "none",
            "engine": "tite event-driven" if self.tite else "cohort",
            "mtd_definition": self.mtd.describe(),
        } | (
            {"coherence": f"{self.coherence}: {_COHERENCE_TEXT[self.coherence]}"}
            if takes_last_cohort(self.design)
            else {}
        )

    @property
    def last_cohort(self) -> bool:
        """Whether the design's ``decide`` is given the last cohort (``"last-cohort"``)."""
        return self.coherence == "last-cohort"

    def draws(self, start: int, stop: int) -> PatientDraws:
        """The uniforms of trials ``start`` to ``stop - 1``."""
        return draw_patients(
            self.seed,
            start,
            stop,
            n_slots=self.n_slots,
            n_expansion_slots=self.expansion.n_patients if self.expansion else 0,
            n_backfill_slots=self.max_cohorts * self.backfill,
            onset=self.tite,
            arrival=self.accrual is not None,
        )


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise DesignError(f"{name} must be a whole number > 0, got {value!r}")
    return int(value)


class SimulationOptions(TypedDict, total=False):
    """The simulation settings :func:`simulate` and :func:`plan_simulation` share (all optional).

    Attributes
    ----------
    accrual_rate : float | None
        Mean patients per month; ``None`` (default) = instantaneous accrual (not allowed for TITE
        designs). Non-TITE cohorts each complete their DLT window before the next cohort.
    accrual : str
        Inter-arrival distribution, ``"exponential"`` (default) or ``"uniform"``.
    dlt_window_days : float
        Length of the DLT assessment window in days (default 28).
    dlt_onset : str | DLTOnset
        Time to DLT within the window (``"uniform"`` (default), ``"weibull"`` or a
        :class:`~cartrial.simulation.settings.DLTOnset`); used by TITE designs.
    keep_trials : bool
        Keep each trial's dosing sequence (cohort, dose, patients, DLTs) in ``result.trials``
        (default False).
    expansion : Expansion | None
        An expansion cohort at the selected dose (:class:`~cartrial.simulation.settings.Expansion`);
        its patients count in N, DLTs and duration and feed the final dose choice (default none).
    backfill : int
        Cohort designs: after each cohort, treat this many backfill patients at the highest
        dose below the current one that the trial has escalated from (a cleared dose), during
        the cohort's DLT window; they count in N and DLTs and feed every later decision and the
        final dose choice (default 0).
    coherence : Coherence
        CRM and TITE-CRM (designs whose ``decide`` takes ``last_cohort``): what their coherence
        rule looks at. ``"all-patients"`` (default, as ``decide`` without ``last_cohort``): no
        escalation while the DLT rate of all patients at the current dose is at or above the
        target. ``"last-cohort"``: ``decide`` is given ``last_cohort=(cohort size, DLTs)`` of the
        escalation cohort just treated (TITE designs: the DLTs observed in it so far), so no
        escalation after a last cohort whose DLT fraction is at or above the target, as dfcrm's
        ``crmsim`` with ``restrict=TRUE``. (dfcrm's ``titesim`` applies no coherence rule, only
        no skipping: a TITE-CRM with ``coherent=False`` matches it.) Other designs accept only
        the default.
    target : float | None
        Target DLT rate that defines the true MTD for the percentage of correct selection and
        the risk of overdosing (default the design's ``target``; 3+3 has none).
    acceptable : tuple[float, float] | None
        ``(low, high)``: every dose with a true DLT rate in this interval is a correct MTD
        instead (see :class:`~cartrial.simulation.mtd.MTDDefinition`).
    dose_labels : Sequence[str] | None
        Dose-level names (the protocol's, e.g. ``DL-1, DL1, ...``); default ``DL1 ... DLk``.
    """

    accrual_rate: float | None
    accrual: str
    dlt_window_days: float
    dlt_onset: str | DLTOnset
    keep_trials: bool
    expansion: Expansion | None
    backfill: int
    coherence: Coherence
    target: float | None
    acceptable: tuple[float, float] | None
    dose_labels: Sequence[str] | None


def plan_simulation(
    design: Design,
    true_tox: Sequence[float] | npt.ArrayLike,
    seed: int,
    **options: Unpack[SimulationOptions],
) -> SimulationPlan:
    """Validate the inputs of :func:`simulate` and fix the trial layout.

    ``options`` are the :class:`SimulationOptions`; their defaults are applied here, once.
    """
    unknown = sorted(set(options) - SimulationOptions.__optional_keys__)
    if unknown:
        raise TypeError(f"unknown simulation setting(s): {', '.join(unknown)}")
    accrual_rate = options.get("accrual_rate")
    accrual = options.get("accrual", "exponential")
    dlt_window_days = options.get("dlt_window_days", 28.0)
    dlt_onset = options.get("dlt_onset", "uniform")
    keep_trials = options.get("keep_trials", False)
    expansion = options.get("expansion")
    backfill = options.get("backfill", 0)
    coherence = options.get("coherence", "all-patients")
    target = options.get("target")
    acceptable = options.get("acceptable")
    dose_labels = options.get("dose_labels")
    tox = check_probability_vector(true_tox, "true_tox")
    if tox.size != design.n_doses:
        raise DesignError(
            f"true_tox has {tox.size} values but the design has {design.n_doses} doses"
        )
    check_positive_int(seed, "seed", minimum=0)
    if not math.isfinite(dlt_window_days) or dlt_window_days <= 0:
        raise DesignError(f"dlt_window_days must be > 0, got {dlt_window_days!r}")
    onset = dlt_onset if isinstance(dlt_onset, DLTOnset) else DLTOnset(dlt_onset)  # type: ignore[arg-type]
    arrivals = None if accrual_rate is None else Accrual(accrual_rate, accrual)  # type: ignore[arg-type]
    tite = is_time_to_event(design)
    if tite and arrivals is None:
        raise DesignError("a TITE design needs accrual_rate (patients per month)")
    check_positive_int(backfill, "backfill", minimum=0)
    if tite and backfill:
        raise DesignError("backfill is simulated for cohort designs only, not TITE designs")
    if coherence not in COHERENCE_RULES:
        raise DesignError(f"coherence must be one of {COHERENCE_RULES}, got {coherence!r}")
    if coherence == "last-cohort" and not takes_last_cohort(design):
        raise DesignError(
            f"coherence='last-cohort' needs a design whose decide takes last_cohort (CRM, "
            f"TITE-CRM); {design_name(design)} has no such rule"
        )
    labels = default_dose_labels(tox.size) if dose_labels is None else tuple(dose_labels)
    if len(labels) != tox.size:
        raise DesignError(f"dose_labels has {len(labels)} names for {tox.size} doses")
    mtd_target = getattr(design, "target", None) if target is None else target
    mtd = MTDDefinition(mtd_target, None if acceptable is None else tuple(acceptable))  # type: ignore[arg-type]
    cohort = design.cohort_size
    if design.max_patients is not None:
        max_cohorts = -(-design.max_patients // cohort)
    else:
        # Designs without a planned maximum (3+3) treat at most 6 patients per dose.
        max_cohorts = -(-6 * design.n_doses // cohort)
    return SimulationPlan(
        design=design,
        true_tox=tox,
        seed=int(seed),
        window_days=float(dlt_window_days),
        accrual=arrivals,
        onset=onset,
        expansion=expansion,
        keep_trials=keep_trials,
        tite=tite,
        max_cohorts=max_cohorts,
        backfill=int(backfill),
        coherence=coherence,
        mtd=mtd,
        dose_labels=labels,
    )


@dataclass
class ChunkOutcome:
    """Per-trial outcome arrays of one chunk (internal)."""

    n: IntArray
    y: IntArray
    selected: IntArray
    stopped: npt.NDArray[np.bool_]
    duration_days: FloatArray
    expansion_n: IntArray
    records: list[tuple[IntArray, str, int, IntArray, IntArray, IntArray, FloatArray]]

    def stop(
        self, idx: IntArray, following: IntArray, active: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.bool_]:
        """Mark the trials ``idx`` whose next dose is ``-1`` stopped (and no longer ``active``).

        Returns the mask of ``idx`` that goes on.
        """
        stop = following < 0
        self.stopped[idx[stop]] = True
        active[idx[stop]] = False
        return ~stop


@dataclass
class _Running:
    """Compact state of the trials still running in a chunk (rows ``idx`` of the chunk).

    Trials that stop are written back to the :class:`ChunkOutcome` and dropped, so each step
    works on contiguous arrays of the running trials only.
    """

    idx: IntArray
    n: IntArray
    y: IntArray
    current: IntArray
    duration: FloatArray
    cleared: npt.NDArray[np.bool_]  # doses the trial has escalated from
    tox: FloatArray
    backfill_tox: FloatArray
    gaps: FloatArray | None

    def retire(self, done: npt.NDArray[np.bool_], outcome: ChunkOutcome) -> None:
        """Write the ``done`` trials back to ``outcome`` and keep only the others."""
        rows = self.idx[done]
        outcome.n[rows] = self.n[done]
        outcome.y[rows] = self.y[done]
        outcome.duration_days[rows] = self.duration[done]
        keep = ~done
        self.idx, self.n, self.y = self.idx[keep], self.n[keep], self.y[keep]
        self.current, self.duration = self.current[keep], self.duration[keep]
        self.cleared, self.tox = self.cleared[keep], self.tox[keep]
        self.backfill_tox = self.backfill_tox[keep]
        self.gaps = None if self.gaps is None else self.gaps[keep]


def _run_cohort_trials(
    plan: SimulationPlan, kernel: CohortKernel, draws: PatientDraws, outcome: ChunkOutcome
) -> None:
    """Escalation of every trial in the chunk, one cohort per step (non-TITE designs)."""
    design = plan.design
    size = design.cohort_size
    n_trials = draws.tox.shape[0]
    run = _Running(
        idx=np.arange(n_trials),
        n=outcome.n.copy(),
        y=outcome.y.copy(),
        current=np.full(n_trials, design.start, dtype=np.int64),
        duration=outcome.duration_days.copy(),
        cleared=np.zeros((n_trials, design.n_doses), dtype=bool),
        tox=draws.tox,
        backfill_tox=draws.backfill_tox,
        gaps=plan.accrual.gaps_days(draws.arrival) if plan.accrual is not None else None,
    )
    for k in range(plan.max_cohorts):
        if run.idx.size == 0:
            break
        rows = np.arange(run.idx.size)
        dose = run.current
        slots = slice(k * size, (k + 1) * size)
        dlts = (run.tox[:, slots] < plan.true_tox[dose][:, None]).sum(axis=1)
        run.n[rows, dose] += size
        run.y[rows, dose] += dlts
        start_day = run.duration.copy()
        if run.gaps is not None:
            start_day += run.gaps[:, slots][:, 0]
            run.duration += run.gaps[:, slots].sum(axis=1)
        run.duration += plan.window_days
        if plan.keep_trials:
            outcome.records.append(
                (run.idx, "escalation", k, dose, np.full(rows.size, size), dlts, start_day)
            )
        if plan.backfill:
            _backfill(plan, run, outcome, k, start_day)
        following = kernel.decide(run.n, run.y, dose, dlts if plan.last_cohort else None)
        stop = following < 0
        up = following > dose
        run.cleared[rows[up], dose[up]] = True
        run.current = np.where(stop, dose, following)
        if stop.any():
            outcome.stopped[run.idx[stop]] = True
            run.retire(stop, outcome)
    if run.idx.size and design.max_patients is None:
        raise DesignError(
            f"design {design_name(design)} did not stop within {plan.max_cohorts} cohorts"
        )
    run.retire(np.ones(run.idx.size, dtype=bool), outcome)
    outcome.selected[:] = kernel.select(outcome.n, outcome.y)


def _backfill(
    plan: SimulationPlan, run: _Running, outcome: ChunkOutcome, k: int, start_day: FloatArray
) -> None:
    """Backfill patients at the highest cleared dose below the current one (cohort ``k``).

    They are treated while cohort ``k`` is inside its DLT window (no extra time) and their data
    enter the design's decision after cohort ``k`` and the final MTD selection.
    """
    n_doses = run.cleared.shape[1]
    below = run.cleared & (np.arange(n_doses) < run.current[:, None])
    has = np.flatnonzero(below.any(axis=1))
    target = n_doses - 1 - np.argmax(below[has, ::-1], axis=1)
    slots = slice(k * plan.backfill, (k + 1) * plan.backfill)
    dlts = (run.backfill_tox[has, slots] < plan.true_tox[target][:, None]).sum(axis=1)
    run.n[has, target] += plan.backfill
    run.y[has, target] += dlts
    if plan.keep_trials:
        width = np.full(has.size, plan.backfill)
        outcome.records.append((run.idx[has], "backfill", k, target, width, dlts, start_day[has]))


def _run_expansion(
    plan: SimulationPlan, kernel: CohortKernel, draws: PatientDraws, outcome: ChunkOutcome
) -> None:
    """Expansion cohorts at each trial's selected dose; the final choice uses all the data."""
    spec = plan.expansion
    if spec is None:
        return
    dose_all = outcome.selected
    running = dose_all >= 0
    y_exp = np.zeros(dose_all.size, dtype=np.int64)
    gaps = plan.accrual.gaps_days(draws.expansion_arrival) if plan.accrual is not None else None
    step = spec.step
    for j, first in enumerate(range(0, spec.n_patients, step)):
        idx = np.flatnonzero(running)
        if idx.size == 0:
            break
        slots = slice(first, min(first + step, spec.n_patients))
        width = slots.stop - first
        dose = dose_all[idx]
        dlts = (draws.expansion_tox[idx, slots] < plan.true_tox[dose][:, None]).sum(axis=1)
        outcome.n[idx, dose] += width
        outcome.y[idx, dose] += dlts
        outcome.expansion_n[idx] += width
        y_exp[idx] += dlts
        start_day = outcome.duration_days[idx]
        if gaps is not None:
            start_day = start_day + gaps[idx, slots][:, 0]
            outcome.duration_days[idx] += gaps[idx, slots].sum(axis=1)
        outcome.duration_days[idx] += plan.window_days
        if plan.keep_trials:
            outcome.records.append(
                (idx, "expansion", j, dose, np.full(idx.size, width), dlts, start_day)
            )
        running[idx[spec.stops(outcome.expansion_n[idx], y_exp[idx])]] = False
    outcome.selected[:] = np.where(dose_all >= 0, kernel.select(outcome.n, outcome.y), -1)


def _records_frame(plan: SimulationPlan, outcome: ChunkOutcome, first_trial: int) -> pd.DataFrame:
    if not outcome.records:
        return pd.DataFrame({c: [] for c in TRIAL_COLUMNS})
    parts = [
        pd.DataFrame(
            {
                "trial": idx + first_trial,
                "phase": phase,
                "cohort": cohort,
                "dose": dose,
                "n": n,
                "dlts": dlts,
                "start_day": start_day,
            }
        )
        for idx, phase, cohort, dose, n, dlts, start_day in outcome.records
    ]
    frame = pd.concat(parts, ignore_index=True)
    phases = ["escalation", "backfill", "expansion"]
    frame["phase"] = pd.Categorical(frame["phase"], categories=phases)
    rank = frame["phase"].cat.codes.where(frame["phase"] != "backfill", 0)
    frame = frame.assign(_rank=rank)
    frame = frame.sort_values(["trial", "_rank", "cohort"], kind="stable", ignore_index=True)
    return frame.drop(columns="_rank")


TITE_BATCH_TRIALS = RNG_BLOCK_TRIALS
"""TITE trials simulated together: their per-slot arrays then stay in the CPU cache (the many
small steps of the event-driven engine are memory-bound); results do not depend on it."""


def simulate_range(
    plan: SimulationPlan, start: int, stop: int, kernel: CohortKernel | None = None
) -> tuple[Tally, pd.DataFrame | None]:
    """Simulate trials ``start`` to ``stop - 1`` of ``plan`` (``start`` on a block boundary)."""
    from cartrial.simulation.tite import run_tite_trials

    if plan.tite and stop - start > TITE_BATCH_TRIALS:
        kernel = kernel if kernel is not None else cohort_kernel(plan.design, plan.max_n)
        total = Tally(n_doses=plan.design.n_doses)
        frames = []
        for first in range(start, stop, TITE_BATCH_TRIALS):
            tally, records = simulate_range(
                plan, first, min(first + TITE_BATCH_TRIALS, stop), kernel
            )
            total.merge(tally)
            if records is not None:
                frames.append(records)
        return total, pd.concat(frames, ignore_index=True) if frames else None

    n_trials = stop - start
    draws = plan.draws(start, stop)
    d = plan.design.n_doses
    outcome = ChunkOutcome(
        n=np.zeros((n_trials, d), dtype=np.int64),
        y=np.zeros((n_trials, d), dtype=np.int64),
        selected=np.full(n_trials, -1, dtype=np.int64),
        stopped=np.zeros(n_trials, dtype=bool),
        duration_days=np.zeros(n_trials),
        expansion_n=np.zeros(n_trials, dtype=np.int64),
        records=[],
    )
    kernel = kernel if kernel is not None else cohort_kernel(plan.design, plan.max_n)
    if plan.tite:
        run_tite_trials(plan, kernel, draws, outcome)
    else:
        _run_cohort_trials(plan, kernel, draws, outcome)
    _run_expansion(plan, kernel, draws, outcome)
    tally = Tally(n_doses=d)
    chosen = outcome.selected
    tally.add_trials(
        outcome.n,
        outcome.y,
        chosen,
        mtd=plan.mtd.correct(plan.true_tox),
        above=plan.mtd.above(plan.true_tox),
        planned_max=plan.planned_max,
    )
    tally.expansion_patients = int(outcome.expansion_n.sum())
    tally.stopped_early = int((outcome.stopped & (chosen < 0)).sum())
    blocks = np.arange(0, n_trials, RNG_BLOCK_TRIALS)
    tally.duration_block_sums_days = np.add.reduceat(outcome.duration_days, blocks).tolist()
    tally.duration_block_sq_days = np.add.reduceat(outcome.duration_days**2, blocks).tolist()
    records = _records_frame(plan, outcome, start) if plan.keep_trials else None
    return tally, records


def simulate(
    design: Design,
    true_tox: Sequence[float] | npt.ArrayLike,
    n_trials: int,
    seed: int,
    *,
    chunk_size: int = 65_536,
    progress: bool = False,
    **options: Unpack[SimulationOptions],
) -> SimulationResult:
    """Operating characteristics of ``design`` under ``true_tox`` by Monte Carlo simulation.

    Trials are simulated in chunks of ``chunk_size`` (rounded up to whole blocks of
    :data:`~cartrial.simulation.streams.RNG_BLOCK_TRIALS`), vectorised across the trials of a
    chunk; the result is identical for every chunk size.

    Parameters
    ----------
    design
        A design from :mod:`cartrial.designs` (``make_design(...)``).
    true_tox
        True DLT probability per dose, each in [0, 1].
    n_trials
        Number of simulated trials (> 0).
    seed
        Seed (>= 0); the same seed gives the same trials.
    chunk_size
        Trials held in memory at once.
    **options
        The settings of :class:`SimulationOptions` (accrual, DLT window and onset, kept trials,
        expansion, backfill, coherence), each with its default.
    progress
        Show a progress bar with the remaining time on standard error once the run has lasted
        about 2 s (:class:`~cartrial.simulation.progress.DelayedProgress`).

    Returns
    -------
    SimulationResult
        Every design parameter, selection % with Monte Carlo SEs, patients and DLTs per dose,
        PCS, patients at and above the MTD, risk of overdosing and of poor allocation, early
        stop %, mean sample size and (with accrual) mean duration.

    Raises
    ------
    DesignError
        For true toxicities outside [0, 1] or of the wrong length, ``n_trials <= 0``, a negative
        seed or bad settings.

    Examples
    --------
    >>> from cartrial.designs import BOIN
    >>> r = simulate(BOIN(target=0.3, n_doses=3, n_cohorts=4), [0.1, 0.3, 0.5], 1000, seed=1)
    >>> round(sum(r.selection_pct) + r.selection_none_pct)
    100
    """
    n_trials = _positive_int(n_trials, "n_trials")
    chunk_size = _positive_int(chunk_size, "chunk_size")
    plan = plan_simulation(design, true_tox, seed, **options)
    return run_plan(plan, n_trials, chunk_size=chunk_size, progress=progress)


def run_plan(
    plan: SimulationPlan, n_trials: int, *, chunk_size: int = 65_536, progress: bool = False
) -> SimulationResult:
    """Simulate ``n_trials`` trials of a validated plan, chunk by chunk."""
    step = -(-chunk_size // RNG_BLOCK_TRIALS) * RNG_BLOCK_TRIALS
    if progress:  # about 100 updates; chunking never changes the results
        step = min(step, max(1, -(-n_trials // (100 * RNG_BLOCK_TRIALS))) * RNG_BLOCK_TRIALS)
    kernel = cohort_kernel(plan.design, plan.max_n)
    total = Tally(n_doses=plan.design.n_doses)
    frames: list[pd.DataFrame] = []
    label = f"simulating {design_name(plan.design)}"
    with DelayedProgress(label, n_trials, enabled=progress) as bar:
        for start in range(0, n_trials, step):
            stop = min(start + step, n_trials)
            tally, records = simulate_range(plan, start, stop, kernel)
            total.merge(tally)
            if records is not None:
                frames.append(records)
            bar.advance(stop - start)
    trials = pd.concat(frames, ignore_index=True) if plan.keep_trials else None
    return result_from_tally(plan, total, trials=trials)


def result_from_tally(
    plan: SimulationPlan,
    total: Tally,
    *,
    label: str | None = None,
    trials: pd.DataFrame | None = None,
) -> SimulationResult:
    """The :class:`SimulationResult` of a plan's merged tally (``label``: the design's name)."""
    return SimulationResult.from_tally(
        total,
        design=design_name(plan.design) if label is None else label,
        true_tox=tuple(float(p) for p in plan.true_tox),
        seed=plan.seed,
        settings=plan.settings(),
        trials=trials,
        dose_labels=plan.dose_labels,
        mtd=plan.mtd,
        design_parameters=design_parameters(plan.design, plan.dose_labels),
        timed=plan.accrual is not None,
        poor_allocation_n=poor_allocation_threshold(plan.planned_max, plan.design.n_doses),
    )
