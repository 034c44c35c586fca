"""TITE-BOIN trials in a slot-by-trial layout: every array has one column per trial.

The row-per-trial TITE engine (:func:`cartrial.simulation.tite.run_event_driven_trials`) keeps
one row per trial and a few patient slots per row, so each operation that compares a slot with
its trial's time or dose runs numpy's inner loop once per trial over 3-10 slots. Here the same
quantities are stored transposed, ``(slots, trials)`` and ``(doses, trials)``: every operation
runs over all trials at once along contiguous rows, and doses are 8-bit. Per-dose counts of
pending patients and unseen DLTs (one ``bincount``) are needed only by the elimination rule, so
they are made only for the trials in which some dose could be eliminated at all (a cumulative
table over completed patients and DLTs, checked once per cohort); the others cannot have an
eliminated dose whatever their follow-up.

The rules are those of :class:`~cartrial.simulation.tite_boin.TiteBoinKernel` (same estimates,
same float operations in the same order, same precedence through
:class:`~cartrial.simulation.kernels.IntervalKernel`, same event skipping while accrual is
suspended), so the trials are identical to the row engine's with that kernel, which stays as their
reference (``tests/simulation/test_simulation_tite_boin_trials.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from cartrial.simulation.kernels import IntervalKernel
from cartrial.simulation.rows import first_true
from cartrial.simulation.tite_boin import TiteBoinKernel

if TYPE_CHECKING:
    from cartrial.simulation.engine import ChunkOutcome, SimulationPlan
    from cartrial.simulation.streams import PatientDraws

__all__ = ["run_tite_boin_trials"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Columns = IntArray | slice


@dataclass
class _Tail:
    """The recent slots of the trials deciding now, ``(slots, trials)`` each (internal).

    ``may_eliminate``: per trial, whether the elimination rule could fire at some dose for some
    split of its patients into completed and pending (else no dose is eliminated whatever the
    follow-up, and the decision needs no count per dose).
    """

    dose: npt.NDArray[np.integer]
    enrol_day: FloatArray
    resolve_day: FloatArray
    has_dlt: BoolArray
    n: IntArray  # (doses, trials): every enrolled patient
    dlt_all: IntArray  # (doses, trials): every DLT, seen or still to come
    may_eliminate: BoolArray
    treated: int  # patients enrolled in every trial so far

    def columns(self, keep: IntArray) -> _Tail:
        """The trials ``keep`` only."""
        return _Tail(
            np.take(self.dose, keep, axis=1),
            np.take(self.enrol_day, keep, axis=1),
            np.take(self.resolve_day, keep, axis=1),
            np.take(self.has_dlt, keep, axis=1),
            np.take(self.n, keep, axis=1),
            np.take(self.dlt_all, keep, axis=1),
            self.may_eliminate[keep],
            self.treated,
        )


@dataclass
class _Seen:
    """What one decision saw, kept for the event skipping of the suspended trials."""

    unseen: BoolArray  # a DLT still to come
    here: BoolArray  # pending at the current dose
    n_here: IntArray  # patients treated at the current dose
    pending_here: IntArray

    def columns(self, keep: IntArray) -> _Seen:
        """The trials ``keep`` only."""
        return _Seen(
            np.take(self.unseen, keep, axis=1),
            np.take(self.here, keep, axis=1),
            self.n_here[keep],
            self.pending_here[keep],
        )


def _dose_counts(
    dose: npt.NDArray[np.integer], pending: BoolArray, unseen: BoolArray, n_doses: int
) -> tuple[IntArray, IntArray]:
    """Pending patients and DLTs still to come per dose: ``(doses, trials)`` each."""
    n_trials = dose.shape[1]
    key = dose.astype(np.intp) * n_trials + np.arange(n_trials)
    cells = n_doses * n_trials
    shape = (n_doses, n_trials)
    return (
        np.bincount(key[pending], minlength=cells).reshape(shape),
        np.bincount(key[unseen], minlength=cells).reshape(shape),
    )


class TiteBoinColumns:
    """TITE-BOIN's decision and event skipping on ``(slots, trials)`` arrays.

    ``rules`` holds the design and its tables (:class:`TiteBoinKernel`); the decision follows
    :meth:`TiteBoinKernel.decide` and the skipping :meth:`TiteBoinKernel.resume_day` operation by
    operation. Float sums over the slots keep the slot order: numpy reduces the outer axis of a
    ``(slots, trials)`` array one slot after the other, as ``sum_in_slot_order`` adds columns.
    """

    def __init__(self, rules: TiteBoinKernel, window_days: float) -> None:
        self.rules = rules
        self.window_days = window_days
        self.n_doses = rules.design.n_doses
        interval = rules.interval
        # possible[n, y]: elimination fires for some completed <= n and observed DLTs <= y
        elim = interval.elim
        possible = np.logical_or.accumulate(np.logical_or.accumulate(elim, axis=0), axis=1)
        self._possible_flat = possible.ravel()
        self._width = elim.shape[1]
        # the extra-safe rule reads the completed patients and DLTs at the lowest dose of every
        # trial: with it, every decision counts per dose
        self._count_always = bool(interval.extrasafe.any())

    def may_eliminate(self, n: IntArray, dlt_all: IntArray) -> BoolArray:
        """Per trial, whether some dose could be eliminated whatever the follow-up."""
        if self._count_always:
            return np.ones(n.shape[1], dtype=bool)
        possible = np.take(self._possible_flat, n * self._width + dlt_all)
        return np.asarray(possible.any(axis=0), dtype=bool)

    def decide(
        self, tail: _Tail, time: FloatArray, current: IntArray
    ) -> tuple[IntArray, BoolArray, _Seen]:
        """Next dose per trial (``-1`` stop), whether accrual is suspended, what was seen."""
        rules = self.rules
        d = rules.design
        interval = rules.interval
        n_trials = time.size
        pending = tail.resolve_day > time
        unseen = tail.has_dlt & pending
        at_dose = tail.dose == current.astype(tail.dose.dtype)
        here = pending & at_dose
        c = here.sum(axis=0)
        at_current = current * n_trials + np.arange(n_trials)  # flat index, (doses, trials)
        m = np.take(tail.n, at_current)
        yc = np.take(tail.dlt_all, at_current) - (unseen & at_dose).sum(axis=0)
        complete_here = m - c
        fraction = (time - tail.enrol_day) / self.window_days
        stft = np.where(here, fraction, 0.0).sum(axis=0)
        if d.method == "ess":
            ess = complete_here + stft
            p_hat = np.divide(yc, ess, out=np.zeros(n_trials), where=ess > 0)
        else:
            pi = (d.target / 2 + yc) / (1 + complete_here + stft)
            with np.errstate(divide="ignore", invalid="ignore"):  # slots not pending
                share = pi * (1 - fraction) / (1 - pi * fraction)
            # numpy's row sum over the tail, as TiteBoinKernel takes it (same bits)
            imputed = np.ascontiguousarray(np.where(here, share, 0.0).T).sum(axis=1)
            p_hat = np.divide(yc + imputed, m, out=np.zeros(n_trials), where=m > 0)
        # 0 escalate (p_hat <= lambda_e), 2 de-escalate (p_hat > lambda_d), else 1 stay; the
        # current dose always holds the last cohort here (m > 0)
        code = (p_hat > rules.lambda_d).view(np.int8) - (p_hat <= rules.lambda_e).view(np.int8)
        code += 1
        if d.min_complete_to_escalate:
            code[(code == 0) & (complete_here < d.min_complete_to_escalate)] = 1
        # elimination (completed patients, observed DLTs per dose) only where it may fire
        unsure = np.flatnonzero(tail.may_eliminate)
        if unsure.size == n_trials:
            pending_n, unseen_n = _dose_counts(tail.dose, pending, unseen, self.n_doses)
            complete, dlt = tail.n - pending_n, tail.dlt_all - unseen_n
            first_elim = first_true(interval.eliminated(complete, dlt).T)
        else:
            # no extra-safe rule here, the only reader of these two besides elimination
            complete, dlt = tail.n, tail.dlt_all
            first_elim = np.full(n_trials, self.n_doses)
            if unsure.size:
                pending_n, unseen_n = _dose_counts(
                    np.take(tail.dose, unsure, axis=1),
                    np.take(pending, unsure, axis=1),
                    np.take(unseen, unsure, axis=1),
                    self.n_doses,
                )
                complete_u = np.take(tail.n, unsure, axis=1) - pending_n
                dlt_u = np.take(tail.dlt_all, unsure, axis=1) - unseen_n
                first_elim[unsure] = first_true(interval.eliminated(complete_u, dlt_u).T)
        following = interval.settle(
            tail.n.T,
            dlt.T,
            current,
            code,
            first_elim,
            complete=complete.T,
            n_current=m,
            treated=tail.treated,
        )
        # c / m > max_pending_fraction (m > 0), as TiteBoinKernel tests it, through its table
        suspended = (following >= current) & (c > rules.allowed_pending[m])
        following = np.where(suspended, current, following)
        return following, suspended, _Seen(unseen, here, m, c)

    def resume_day(
        self, tail: _Tail, seen: _Seen, current: IntArray, now: FloatArray
    ) -> FloatArray:
        """:meth:`TiteBoinKernel.resume_day` for the trials of ``tail``, suspended at ``now``."""
        rules = self.rules
        n_trials = current.size
        resolve = tail.resolve_day
        dlt_next = np.where(seen.unseen, resolve, np.inf).min(axis=0)
        # resolutions at the current dose needed to bring the pending share to the allowed one
        need = seen.pending_here - rules.allowed_pending[seen.n_here]
        ordered = np.sort(np.where(seen.here, resolve, np.inf), axis=0)
        rank = np.minimum(np.maximum(need, 1), ordered.shape[0]) - 1
        enough = np.take(ordered, rank * n_trials + np.arange(n_trials))
        day = np.minimum(dlt_next, enough)
        if not rules.can_newly_eliminate:
            return day
        # windows closing at or below the current dose that could newly eliminate a dose
        pending = resolve > now
        pending_n, unseen_n = _dose_counts(tail.dose, pending, seen.unseen, self.n_doses)
        n, y = tail.n, tail.dlt_all - unseen_n
        complete = n - pending_n
        doses = np.arange(self.n_doses)[:, None]
        risky = np.zeros(n.shape, dtype=bool)
        for table, rows in zip(rules.newly_eliminated, (doses == 0, doses > 0), strict=True):
            risky |= (table[n, y] - table[complete, y] > 0) & rows
        risky &= doses <= current
        reach = np.take_along_axis(risky, tail.dose.astype(np.intp), axis=0)
        critical = pending & ~seen.unseen & reach
        return np.minimum(day, np.where(critical, resolve, np.inf).min(axis=0))


def _decide_with_suspension(
    rules: TiteBoinColumns, tail: _Tail, arrival: FloatArray, current: IntArray
) -> tuple[FloatArray, IntArray]:
    """Decide at ``arrival``; suspended trials again at the next day their decision may change."""
    time = arrival.copy()
    following = np.empty(arrival.size, dtype=np.int64)
    waiting: IntArray | None = None  # every trial at the first try: no copies
    while True:
        now = time if waiting is None else time[waiting]
        dose = current if waiting is None else current[waiting]
        nxt, suspended, seen = rules.decide(tail, now, dose)
        if waiting is None:
            following[:] = nxt
        else:
            following[waiting] = nxt
        if not suspended.any():
            return time, following
        keep = np.flatnonzero(suspended)
        waiting = keep if waiting is None else waiting[keep]
        tail = tail.columns(keep)
        seen = seen.columns(keep)
        time[waiting] = rules.resume_day(tail, seen, current[waiting], time[waiting])


def run_tite_boin_trials(
    plan: SimulationPlan,
    kernel: IntervalKernel,
    rules: TiteBoinKernel,
    draws: PatientDraws,
    outcome: ChunkOutcome,
) -> None:
    """Escalation of every TITE-BOIN trial in the chunk.

    Step for step what :func:`~cartrial.simulation.tite.run_event_driven_trials` does with
    ``rules``: the same tail of recent slots (``lo``), cohorts, DLTs, onsets and records.
    """
    design = plan.design
    assert plan.accrual is not None  # plan_simulation requires accrual for TITE designs
    columns = TiteBoinColumns(rules, plan.window_days)
    size = design.cohort_size
    n_trials, n_slots = draws.tox.shape
    window = plan.window_days
    gaps = np.ascontiguousarray(plan.accrual.gaps_days(draws.arrival).T)
    tox = np.ascontiguousarray(draws.tox.T)
    onset_u = np.ascontiguousarray(draws.onset.T)
    dose_type = np.int8 if design.n_doses <= np.iinfo(np.int8).max else np.int64
    dose = np.zeros((n_slots, n_trials), dtype=dose_type)
    enrol_day = np.zeros((n_slots, n_trials))
    resolve_day = np.zeros((n_slots, n_trials))
    has_dlt = np.zeros((n_slots, n_trials), dtype=bool)
    n = np.zeros((design.n_doses, n_trials), dtype=np.int64)
    dlt_all = np.zeros((design.n_doses, n_trials), dtype=np.int64)
    closed = np.zeros(n_trials, dtype=np.int64)
    current = np.full(n_trials, design.start, dtype=np.int64)
    last_enrol = np.zeros(n_trials)
    active = np.ones(n_trials, dtype=bool)
    for k in range(plan.max_cohorts):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        first = k * size
        cols: Columns = slice(None) if idx.size == n_trials else idx
        arrival = last_enrol[cols] + gaps[first, cols]
        if k > 0:  # decide the cohort's dose at the arrival of its first patient
            shut = closed[cols]
            lo = int(shut.min())
            if lo < first:  # windows closed by now: a prefix of each trial's slots
                shut = lo + (enrol_day[lo:first, cols] + window <= arrival).sum(axis=0)
                closed[cols] = shut
            lo = min(first - size, int(shut.min()))
            tail_n, tail_dlt = n[:, cols], dlt_all[:, cols]
            tail = _Tail(
                dose[lo:first, cols],
                enrol_day[lo:first, cols],
                resolve_day[lo:first, cols],
                has_dlt[lo:first, cols],
                tail_n,
                tail_dlt,
                columns.may_eliminate(tail_n, tail_dlt),
                treated=first,
            )
            arrival, following = _decide_with_suspension(columns, tail, arrival, current[cols])
            keep = outcome.stop(idx, following, active)
            idx, arrival, following = idx[keep], arrival[keep], following[keep]
            current[idx] = following
            if idx.size == 0:
                break
            cols = slice(None) if idx.size == n_trials else idx
        slots = slice(first, first + size)
        times = np.empty((size, idx.size))
        times[0] = arrival
        for i in range(1, size):  # sequential sums, as the per-trial loop adds them
            times[i] = times[i - 1] + gaps[first + i, cols]
        d = current[idx]  # a copy: the records keep it
        p = plan.true_tox[d]
        dlt_now = tox[slots, cols] < p
        onset = plan.onset.times_days(onset_u[slots, cols], window, p)
        dose[slots, cols] = d
        enrol_day[slots, cols] = times
        resolve_day[slots, cols] = np.where(dlt_now, times + onset, times + window)
        has_dlt[slots, cols] = dlt_now
        last_enrol[cols] = times[-1]
        dlts = dlt_now.sum(axis=0)
        n[d, idx] += size
        dlt_all[d, idx] += dlts
        if plan.keep_trials:
            outcome.records.append(
                (idx, "escalation", k, d, np.full(idx.size, size), dlts, times[0])
            )
    outcome.stopped[active] = True  # the maximum sample size ends the others
    outcome.duration_days[:] = last_enrol + window
    outcome.n[:] = n.T
    outcome.y[:] = dlt_all.T
    outcome.selected[:] = kernel.select(outcome.n, outcome.y)
