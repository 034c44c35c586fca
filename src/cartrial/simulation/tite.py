"""Time-to-event trials: patients arrive over time and decisions use partial follow-up.

Every trial enrols cohort after cohort. Patient ``k`` arrives an inter-arrival gap after patient
``k - 1``; the dose of a new cohort is decided at the arrival of its first patient from the data
then available: observed DLTs (DLT onset day already passed), completed patients (window over) and
pending patients with their followed fraction of the window. When the design suspends accrual
(``Decision.suspended``), the waiting patient is enrolled at the first later moment a pending
patient's status changes (a DLT appears or a window closes) at which the design no longer
suspends. After the last cohort every patient completes the window and the design's
``select_mtd`` picks the MTD. The trial lasts until the last patient's window closes.

The decision kernel is vectorised for :class:`~cartrial.designs.TITEBOIN` (effective sample size
or single mean imputation); other TITE designs have theirs in :mod:`cartrial.simulation.crm`, or
fall back to calling the design's ``decide`` once per trial and decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

import numpy as np
import numpy.typing as npt

from cartrial.designs.base import (
    Design,
    TimeToEventDesign,
    TimeToEventLastCohortDesign,
    is_time_to_event,
    takes_last_cohort,
)
from cartrial.designs.tite_boin import TITEBOIN
from cartrial.errors import DesignError
from cartrial.simulation.crm import crm_kernels
from cartrial.simulation.kernels import CohortKernel, IntervalKernel

if TYPE_CHECKING:
    from cartrial.simulation.engine import ChunkOutcome, SimulationPlan
    from cartrial.simulation.streams import PatientDraws

__all__ = ["FollowUp", "TiteKernel", "run_tite_trials", "tite_kernel"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class FollowUp:
    """What the design can see at the decision time of each trial (arrays over trials x slots).

    ``enrolled`` marks slots already treated; ``observed`` slots with a DLT seen by now;
    ``pending`` slots still inside the window without a DLT; ``fraction`` their followed part of
    the window (0 elsewhere); ``dose`` the dose of each slot (-1 if not enrolled).
    """

    dose: IntArray
    enrolled: BoolArray
    observed: BoolArray
    pending: BoolArray
    fraction: FloatArray

    def per_dose(self, flags: BoolArray, n_doses: int) -> IntArray:
        """Count ``flags`` (enrolled slots only) per trial and dose: ``(n_trials, n_doses)``."""
        n_trials = self.dose.shape[0]
        key = (np.arange(n_trials)[:, None] * n_doses + self.dose)[flags]
        counts = np.bincount(key, minlength=n_trials * n_doses)
        return counts.reshape(n_trials, n_doses).astype(np.int64)


class TiteKernel(Protocol):
    """Vectorised ``decide`` of a TITE design: next dose (``-1`` stop) and suspension flag."""

    def decide(self, follow: FollowUp, current: IntArray) -> tuple[IntArray, BoolArray]:
        """Decision per trial from the follow-up at the decision time."""
        ...


class TiteBoinKernel:
    """TITE-BOIN's ``decide`` on whole arrays, rules as in :class:`~cartrial.designs.TITEBOIN`."""

    def __init__(self, design: TITEBOIN, interval: IntervalKernel) -> None:
        self.design = design
        self.interval = interval
        self.lambda_e, self.lambda_d = design.lambdas()

    def decide(self, follow: FollowUp, current: IntArray) -> tuple[IntArray, BoolArray]:
        """Next dose per trial (``-1`` stop) and whether accrual is suspended."""
        d = self.design
        n_doses = d.n_doses
        n = follow.per_dose(follow.enrolled, n_doses)
        y = follow.per_dose(follow.observed, n_doses)
        pending_n = follow.per_dose(follow.pending, n_doses)
        rows = np.arange(n.shape[0])
        here = follow.pending & (follow.dose == current[:, None])
        c = here.sum(axis=1)
        stft = np.where(here, follow.fraction, 0.0).sum(axis=1)
        m = n[rows, current]
        yc = y[rows, current]
        complete_here = m - c
        with np.errstate(divide="ignore", invalid="ignore"):
            if d.method == "ess":
                ess = complete_here + stft
                p_hat = np.where(ess > 0, yc / ess, 0.0)
            else:
                pi = (d.target / 2 + yc) / (1 + complete_here + stft)
                share = pi[:, None] * (1 - follow.fraction) / (1 - pi[:, None] * follow.fraction)
                imputed = np.where(here, share, 0.0).sum(axis=1)
                p_hat = np.where(m > 0, (yc + imputed) / m, 0.0)
        code = np.where(p_hat <= self.lambda_e, 0, np.where(p_hat > self.lambda_d, 2, 1))
        code = np.where(m == 0, 1, code)
        code = np.where((code == 0) & (complete_here < d.min_complete_to_escalate), 1, code)
        complete = n - pending_n
        first_elim = self.interval.first_eliminated(complete, y)
        following = self.interval.settle(
            n, y, current, code.astype(np.int8), first_elim, complete=complete
        )
        suspended = (
            (following >= current) & (m > 0) & (c / np.maximum(m, 1) > d.max_pending_fraction)
        )
        following = np.where(suspended, current, following)
        return following.astype(np.int64), suspended


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

    def decide(self, follow: FollowUp, current: IntArray) -> tuple[IntArray, BoolArray]:
        """Next dose per trial (``-1`` stop) and whether accrual is suspended."""
        n_doses = self.design.n_doses
        n = follow.per_dose(follow.enrolled, n_doses)
        y = follow.per_dose(follow.observed, n_doses)
        size = self.design.cohort_size
        last_dlts = follow.observed[:, -size:].sum(axis=1)
        following = np.empty(current.size, dtype=np.int64)
        suspended = np.zeros(current.size, dtype=bool)
        for t in range(current.size):
            slots = np.flatnonzero(follow.pending[t])
            pending = [(int(follow.dose[t, s]), float(follow.fraction[t, s])) for s in slots]
            design = self.design
            if self.last_cohort and takes_last_cohort(design):
                both = cast(TimeToEventLastCohortDesign, design)
                decision = both.decide(
                    n=n[t],
                    dlt=y[t],
                    current=int(current[t]),
                    pending_followup=pending,
                    last_cohort=(size, int(last_dlts[t])),
                )
            else:
                decision = design.decide(
                    n=n[t], dlt=y[t], current=int(current[t]), pending_followup=pending
                )
            following[t] = -1 if decision.next_dose is None else decision.next_dose
            suspended[t] = decision.suspended
        return following, suspended


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


def follow_up_at(
    time: FloatArray,
    dose: IntArray,
    enrol_day: FloatArray,
    dlt_day: FloatArray,
    window_days: float,
) -> FollowUp:
    """The follow-up of every slot at ``time`` (one time per trial)."""
    enrolled = dose >= 0
    now = time[:, None]
    observed = enrolled & (dlt_day <= now)
    complete = observed | (enrolled & (enrol_day + window_days <= now))
    pending = enrolled & ~complete
    fraction = np.where(pending, (now - enrol_day) / window_days, 0.0)
    return FollowUp(dose, enrolled, observed, pending, fraction)


def run_tite_trials(
    plan: SimulationPlan, kernel: CohortKernel, draws: PatientDraws, outcome: ChunkOutcome
) -> None:
    """Escalation of every trial in the chunk with time-to-event decisions."""
    design = plan.design
    assert plan.accrual is not None  # plan_simulation requires accrual for TITE designs
    decide = tite_kernel(design, kernel, last_cohort=plan.last_cohort)
    size = design.cohort_size
    n_trials, n_slots = draws.tox.shape
    window = plan.window_days
    gaps = plan.accrual.gaps_days(draws.arrival)
    onset = plan.onset.times_days(draws.onset, window)
    dose = np.full((n_trials, n_slots), -1, dtype=np.int64)
    enrol_day = np.full((n_trials, n_slots), np.inf)
    dlt_day = np.full((n_trials, n_slots), np.inf)
    current = np.full(n_trials, design.start, dtype=np.int64)
    last_enrol = np.zeros(n_trials)
    active = np.ones(n_trials, dtype=bool)
    for k in range(plan.max_cohorts):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        first = k * size
        arrival = last_enrol[idx] + gaps[idx, first]
        if k > 0:
            seen = slice(0, first)  # slots enrolled so far
            arrival, following = _decide_with_suspension(
                decide,
                arrival,
                current[idx],
                dose[idx, seen],
                enrol_day[idx, seen],
                dlt_day[idx, seen],
                window,
            )
            stop = following < 0
            outcome.stopped[idx[stop]] = True
            active[idx[stop]] = False
            keep = ~stop
            idx, arrival, following = idx[keep], arrival[keep], following[keep]
            current[idx] = following
            if idx.size == 0:
                break
        slots = slice(first, first + size)
        times = np.empty((idx.size, size))
        times[:, 0] = arrival
        for i in range(1, size):
            times[:, i] = times[:, i - 1] + gaps[idx, first + i]
        d = current[idx]
        has_dlt = draws.tox[idx, slots] < plan.true_tox[d][:, None]
        dose[idx, slots] = d[:, None]
        enrol_day[idx, slots] = times
        dlt_day[idx, slots] = np.where(has_dlt, times + onset[idx, slots], np.inf)
        last_enrol[idx] = times[:, -1]
        dlts = has_dlt.sum(axis=1)
        outcome.n[idx, d] += size
        outcome.y[idx, d] += dlts
        if plan.keep_trials:
            outcome.records.append(
                (idx, "escalation", k, d, np.full(idx.size, size), dlts, times[:, 0])
            )
    outcome.stopped[active] = True  # the maximum sample size ends the others
    outcome.duration_days[:] = last_enrol + window
    outcome.selected[:] = kernel.select(outcome.n, outcome.y)


def _decide_with_suspension(
    decide: TiteKernel,
    arrival: FloatArray,
    current: IntArray,
    dose: IntArray,
    enrol_day: FloatArray,
    dlt_day: FloatArray,
    window_days: float,
) -> tuple[FloatArray, IntArray]:
    """Decide at ``arrival``; while suspended, move to the next change of follow-up and retry."""
    time = arrival.copy()
    following = np.empty(arrival.size, dtype=np.int64)
    waiting = np.arange(arrival.size)
    resolve_day = np.where(np.isfinite(dlt_day), dlt_day, enrol_day + window_days)
    while waiting.size:
        follow = follow_up_at(
            time[waiting], dose[waiting], enrol_day[waiting], dlt_day[waiting], window_days
        )
        nxt, suspended = decide.decide(follow, current[waiting])
        following[waiting] = nxt
        waiting = waiting[suspended]
        if waiting.size:
            later = np.where(
                resolve_day[waiting] > time[waiting, None], resolve_day[waiting], np.inf
            )
            time[waiting] = later.min(axis=1)
    return time, following
