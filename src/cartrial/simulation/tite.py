"""Time-to-event trials: patients arrive over time and decisions use partial follow-up.

Every trial enrols cohort after cohort. Patient ``k`` arrives an inter-arrival gap after patient
``k - 1``; the dose of a new cohort is decided at the arrival of its first patient from the data
then available: observed DLTs (DLT onset day already passed), completed patients (window over) and
pending patients with their followed fraction of the window. When the design suspends accrual
(``Decision.suspended``), the waiting patient is enrolled at the first later moment a pending
patient's status changes (a DLT appears or a window closes) at which the design no longer
suspends (TITE-BOIN's kernel skips the moments at which its decision cannot change:
:meth:`TiteBoinKernel.resume_day`). After the last cohort every patient completes the window
and the design's ``select_mtd`` picks the MTD. The trial lasts until the last patient's window
closes.

The decision kernel is vectorised for :class:`~cartrial.designs.TITEBOIN` (effective sample size
or single mean imputation; :mod:`cartrial.simulation.tite_boin`), whose trials run in the
slot-by-trial layout of :mod:`cartrial.simulation.tite_boin_trials` (the same trials, about
twice as fast); TITE-CRM has its own in
:mod:`cartrial.simulation.crm`; other TITE designs fall back to calling the design's ``decide``
once per trial and decision. What a decision sees is
:class:`~cartrial.simulation.follow_up.FollowUp`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np
import numpy.typing as npt

from cartrial.designs.base import (
    Design,
    TimeToEventDesign,
    TimeToEventLastCohortDesign,
    is_time_to_event,
    needs_dlt_followup,
    takes_last_cohort,
)
from cartrial.designs.tite_boin import TITEBOIN
from cartrial.errors import DesignError
from cartrial.simulation.crm import crm_kernels
from cartrial.simulation.follow_up import (
    FollowUp,
    TiteKernel,
    follow_up_at,
    next_follow_up_change,
)
from cartrial.simulation.kernels import CohortKernel, IntervalKernel
from cartrial.simulation.rows import count_true
from cartrial.simulation.tite_boin import TiteBoinKernel
from cartrial.simulation.tite_boin_trials import run_tite_boin_trials

if TYPE_CHECKING:
    from cartrial.simulation.engine import ChunkOutcome, SimulationPlan
    from cartrial.simulation.streams import PatientDraws

__all__ = [
    "FollowUp",
    "TiteKernel",
    "run_event_driven_trials",
    "run_tite_trials",
    "tite_kernel",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class PerTrialTiteKernel:
    """Any TITE design: its own ``decide`` called once per trial and decision (exact, slower).

    With ``last_cohort`` the design's ``decide`` is also given ``last_cohort=(cohort_size,
    DLTs observed so far in the last cohort)``.
    """

    def __init__(self, design: TimeToEventDesign, *, last_cohort: bool = False) -> None:
        if last_cohort and not takes_last_cohort(design):
            raise DesignError(f"{type(design).__name__} has no last-cohort coherence rule")
        self.design = design
        self.last_cohort = last_cohort
        self.needs_dlt_onsets = needs_dlt_followup(design)

    def decide(self, follow: FollowUp, current: IntArray) -> tuple[IntArray, BoolArray]:
        """Next dose per trial (``-1`` stop) and whether accrual is suspended."""
        n, y = follow.n, follow.dlt
        size = self.design.cohort_size
        last_dlts = follow.last_cohort_dlts
        following = np.empty(current.size, dtype=np.int64)
        suspended = np.zeros(current.size, dtype=bool)
        for t in range(current.size):
            slots = np.flatnonzero(follow.pending[t])
            pending = [(int(follow.dose[t, s]), float(follow.fraction[t, s])) for s in slots]
            extra: dict[str, object] = {}
            if self.needs_dlt_onsets and follow.dlt_onsets is not None:
                onsets = follow.dlt_onsets[t]
                extra["dlt_followup"] = onsets[np.isfinite(onsets)].tolist()
            design = self.design
            if self.last_cohort and takes_last_cohort(design):
                both = cast(TimeToEventLastCohortDesign, design)
                decision = both.decide(
                    n=n[t],
                    dlt=y[t],
                    current=int(current[t]),
                    pending_followup=pending,
                    last_cohort=(size, int(last_dlts[t])),
                    **extra,
                )
            else:
                decision = design.decide(
                    n=n[t],
                    dlt=y[t],
                    current=int(current[t]),
                    pending_followup=pending,
                    **extra,
                )
            following[t] = -1 if decision.next_dose is None else decision.next_dose
            suspended[t] = decision.suspended
        return following, suspended

    def resume_day(
        self,
        follow: FollowUp,
        suspended: BoolArray,
        current: IntArray,
        resolve_day: FloatArray,
        now: FloatArray,
    ) -> FloatArray:
        """Any design: re-decide at the next change of follow-up (no event skipping)."""
        return next_follow_up_change(resolve_day, now)


def tite_kernel(design: Design, kernel: CohortKernel, *, last_cohort: bool = False) -> TiteKernel:
    """The vectorised TITE kernel for ``design`` when there is one, else the per-trial kernel.

    ``last_cohort``: the design's coherence looks at the last cohort (``coherence="last-cohort"``
    of :func:`~cartrial.simulation.simulate`; designs whose ``decide`` takes ``last_cohort``).
    """
    if type(design) is TITEBOIN and isinstance(kernel, IntervalKernel):
        return TiteBoinKernel(design, kernel)
    _, tite_crm = crm_kernels(design, last_cohort=last_cohort)
    if tite_crm is not None:
        return tite_crm
    if not is_time_to_event(design):
        raise DesignError(f"{type(design).__name__} is not a time-to-event design")
    return PerTrialTiteKernel(design, last_cohort=last_cohort)


@dataclass
class _Trials:
    """Per-slot state of a chunk of TITE trials (internal)."""

    dose: IntArray
    enrol_day: FloatArray
    dlt_day: FloatArray
    closed: IntArray  # leading slots per trial whose window closed before an earlier decision

    def close(self, rows: IntArray | slice, time: FloatArray, first: int, window: float) -> int:
        """Advance ``closed`` of trials ``rows`` to ``time``; the first slot any may still need.

        Enrolment days increase along the slots, so the closed slots are a prefix.
        """
        closed = self.closed[rows]
        lo = int(closed.min()) if closed.size else first
        if lo < first:
            shut = self.enrol_day[rows, lo:first] + window <= time[:, None]
            self.closed[rows] = lo + count_true(shut)
        return int(self.closed[rows].min()) if closed.size else first


def run_tite_trials(
    plan: SimulationPlan, kernel: CohortKernel, draws: PatientDraws, outcome: ChunkOutcome
) -> None:
    """Escalation of every trial in the chunk with time-to-event decisions.

    TITE-BOIN runs in the slot-by-trial layout of
    :func:`~cartrial.simulation.tite_boin_trials.run_tite_boin_trials` (same trials, faster);
    every other design through :func:`run_event_driven_trials`.
    """
    decide = tite_kernel(plan.design, kernel, last_cohort=plan.last_cohort)
    if isinstance(decide, TiteBoinKernel) and isinstance(kernel, IntervalKernel):
        run_tite_boin_trials(plan, kernel, decide, draws, outcome)
    else:
        run_event_driven_trials(plan, kernel, decide, draws, outcome)


def run_event_driven_trials(
    plan: SimulationPlan,
    kernel: CohortKernel,
    decide: TiteKernel,
    draws: PatientDraws,
    outcome: ChunkOutcome,
) -> None:
    """Escalation of every trial in the chunk, ``decide`` deciding each cohort's dose.

    One row per trial; the reference for the TITE-BOIN trials of :func:`run_tite_trials`.
    """
    design = plan.design
    assert plan.accrual is not None  # plan_simulation requires accrual for TITE designs
    onsets = decide.needs_dlt_onsets
    size = design.cohort_size
    n_trials, n_slots = draws.tox.shape
    window = plan.window_days
    gaps = plan.accrual.gaps_days(draws.arrival)
    state = _Trials(
        dose=np.full((n_trials, n_slots), -1, dtype=np.int64),
        enrol_day=np.full((n_trials, n_slots), np.inf),
        dlt_day=np.full((n_trials, n_slots), np.inf),
        closed=np.zeros(n_trials, dtype=np.int64),
    )
    current = np.full(n_trials, design.start, dtype=np.int64)
    last_enrol = np.zeros(n_trials)
    active = np.ones(n_trials, dtype=bool)
    for k in range(plan.max_cohorts):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        first = k * size
        rows: IntArray | slice = slice(None) if idx.size == n_trials else idx
        arrival = last_enrol[rows] + gaps[rows, first]
        if k > 0:  # decide the cohort's dose at the arrival of its first patient
            lo = min(first - size, state.close(rows, arrival, first, window))
            tail = slice(lo, first)
            arrival, following = _decide_with_suspension(
                decide,
                FollowUpInputs(
                    n=outcome.n[rows],
                    dlt_all=outcome.y[rows],
                    dose=state.dose[rows, tail],
                    enrol_day=state.enrol_day[rows, tail],
                    dlt_day=state.dlt_day[rows, tail],
                    last=slice(first - size - lo, first - lo),
                    history_enrol=state.enrol_day[rows, :first] if onsets else None,
                    history_dlt_day=state.dlt_day[rows, :first] if onsets else None,
                ),
                arrival,
                current[rows],
                window,
            )
            keep = outcome.stop(idx, following, active)
            idx, arrival, following = idx[keep], arrival[keep], following[keep]
            current[idx] = following
            if idx.size == 0:
                break
            rows = slice(None) if idx.size == n_trials else idx
        slots = slice(first, first + size)
        times = np.empty((idx.size, size))
        times[:, 0] = arrival
        for i in range(1, size):  # sequential sums, as the per-trial loop adds them
            times[:, i] = times[:, i - 1] + gaps[rows, first + i]
        d = current[idx]  # a copy: the records keep it
        p = plan.true_tox[d][:, None]
        has_dlt = draws.tox[rows, slots] < p
        onset = plan.onset.times_days(draws.onset[rows, slots], window, p)
        state.dose[rows, slots] = d[:, None]
        state.enrol_day[rows, slots] = times
        state.dlt_day[rows, slots] = np.where(has_dlt, times + onset, np.inf)
        last_enrol[rows] = times[:, -1]
        dlts = count_true(has_dlt)
        outcome.n[idx, d] += size
        outcome.y[idx, d] += dlts
        if plan.keep_trials:
            outcome.records.append(
                (idx, "escalation", k, d, np.full(idx.size, size), dlts, times[:, 0])
            )
    outcome.stopped[active] = True  # the maximum sample size ends the others
    outcome.duration_days[:] = last_enrol + window
    outcome.selected[:] = kernel.select(outcome.n, outcome.y)


@dataclass(frozen=True)
class FollowUpInputs:
    """The data of the tail slots of the trials deciding now (internal).

    ``last``: the columns of the last cohort within the tail; ``history_enrol`` and
    ``history_dlt_day``: every enrolled slot (for kernels that need the DLT onsets), else
    ``None``.
    """

    n: IntArray
    dlt_all: IntArray
    dose: IntArray
    enrol_day: FloatArray
    dlt_day: FloatArray
    last: slice
    history_enrol: FloatArray | None = None
    history_dlt_day: FloatArray | None = None


def _dlt_onsets(
    data: FollowUpInputs, now: FloatArray, waiting: IntArray | slice, window_days: float
) -> FloatArray | None:
    """Followed fraction of the window at each DLT observed by ``now`` (``inf`` elsewhere)."""
    if data.history_enrol is None or data.history_dlt_day is None:
        return None
    dlt_day = data.history_dlt_day[waiting]
    onset = (dlt_day - data.history_enrol[waiting]) / window_days
    return np.where(dlt_day <= now[:, None], onset, np.inf)


def _decide_with_suspension(
    decide: TiteKernel,
    data: FollowUpInputs,
    arrival: FloatArray,
    current: IntArray,
    window_days: float,
) -> tuple[FloatArray, IntArray]:
    """Decide at ``arrival``; while suspended, move to the next change of follow-up and retry."""
    time = arrival.copy()
    following = np.empty(arrival.size, dtype=np.int64)
    has_dlt = np.isfinite(data.dlt_day)
    resolve_day = np.where(has_dlt, data.dlt_day, data.enrol_day + window_days)
    waiting: IntArray | slice = slice(None)  # every trial at the first try: no copies
    while True:
        observed, pending, fraction, unseen = follow_up_at(
            time[waiting],
            data.enrol_day[waiting],
            resolve_day[waiting],
            has_dlt[waiting],
            window_days,
        )
        follow = FollowUp(
            n=data.n[waiting],
            dlt_all=data.dlt_all[waiting],
            dose=data.dose[waiting],
            observed=observed,
            pending=pending,
            fraction=fraction,
            unseen=unseen,
            last=data.last,
            dlt_onsets=_dlt_onsets(data, time[waiting], waiting, window_days),
        )
        nxt, suspended = decide.decide(follow, current[waiting])
        following[waiting] = nxt
        if not suspended.any():
            break
        waiting = np.arange(arrival.size)[waiting][suspended]
        time[waiting] = decide.resume_day(
            follow, suspended, current[waiting], resolve_day[waiting], time[waiting]
        )
    return time, following
