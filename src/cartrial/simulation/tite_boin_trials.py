"""TITE-BOIN trials in a slot-by-trial layout: every array has one column per trial.

The general TITE engine (:func:`cartrial.simulation.tite.run_tite_trials`) keeps one row per
trial and a few patient slots per row, so each operation that compares a slot with its trial's
time or dose runs numpy's inner loop once per trial over 3-10 slots. Here the same quantities are
stored transposed, ``(slots, trials)`` and ``(doses, trials)``: every operation then runs over all
trials at once in contiguous rows, and doses are 8-bit. The rules are those of
:class:`~cartrial.simulation.tite_boin.TiteBoinKernel` (same estimates, same float operations in
the same order, same precedence through :class:`~cartrial.simulation.kernels.IntervalKernel`, same
event skipping while accrual is suspended), so the trials are identical to the general engine's
(``tests/simulation/test_simulation_tite_boin_trials.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from cartrial.simulation.kernels import IntervalKernel
from cartrial.simulation.tite_boin import TiteBoinKernel

if TYPE_CHECKING:
    from cartrial.simulation.engine import ChunkOutcome, SimulationPlan
    from cartrial.simulation.streams import PatientDraws

__all__ = ["run_tite_boin_trials"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Columns = IntArray | slice


def _count_slots(flags: BoolArray) -> IntArray:
    """``True`` per column of a ``(slots, trials)`` array, as ``int64``."""
    total = flags[0].astype(np.int64)
    for row in flags[1:]:
        total += row
    return total


def _min_slots(values: FloatArray) -> FloatArray:
    """Minimum per column (``inf`` for no slot)."""
    least = np.full(values.shape[1], np.inf)
    for row in values:
        np.minimum(least, row, out=least)
    return least


@dataclass
class _Tail:
    """The recent slots of the trials deciding now, ``(slots, trials)`` each (internal)."""

    dose: npt.NDArray[np.integer]
    enrol_day: FloatArray
    resolve_day: FloatArray
    has_dlt: BoolArray
    n: IntArray  # (doses, trials): every enrolled patient
    dlt_all: IntArray  # (doses, trials): every DLT, seen or still to come

    def columns(self, keep: IntArray) -> _Tail:
        """The trials ``keep`` only."""
        return _Tail(
            self.dose[:, keep],
            self.enrol_day[:, keep],
            self.resolve_day[:, keep],
            self.has_dlt[:, keep],
            self.n[:, keep],
            self.dlt_all[:, keep],
        )


@dataclass
class _Seen:
    """What one decision saw (kept for the event skipping of the suspended trials)."""

    pending: BoolArray
    unseen: BoolArray
    here: BoolArray
    pending_n: IntArray  # (doses, trials)
    dlt: IntArray  # (doses, trials): DLTs observed


class TiteBoinColumns:
    """TITE-BOIN's decision and event skipping on ``(slots, trials)`` arrays.

    ``rules`` holds the design and its tables (:class:`TiteBoinKernel`); the decision follows
    :meth:`TiteBoinKernel.decide` and the skipping :meth:`TiteBoinKernel.resume_day` operation by
    operation.
    """

    def __init__(self, rules: TiteBoinKernel, window_days: float) -> None:
        self.rules = rules
        self.window_days = window_days
        self.n_doses = rules.design.n_doses

    def decide(
        self, tail: _Tail, time: FloatArray, current: IntArray
    ) -> tuple[IntArray, BoolArray, _Seen]:
        """Next dose per trial (``-1`` stop), whether accrual is suspended, what was seen."""
        rules = self.rules
        d = rules.design
        n_trials = time.size
        trials = np.arange(n_trials)
        pending = tail.resolve_day > time
        unseen = tail.has_dlt & pending
        at_current = tail.dose == current.astype(tail.dose.dtype)
        here = pending & at_current
        c = _count_slots(here)
        # (doses, trials) counts of pending patients and DLTs still to come, one bincount
        key = tail.dose.astype(np.intp) * n_trials + trials
        shift = max(6, tail.dose.shape[0].bit_length())  # above the tail width: no mixing
        one = float(1 << shift)
        packed = np.where(pending, np.where(unseen, one + 1.0, one), 0.0)
        cells = np.bincount(key.ravel(), weights=packed.ravel(), minlength=self.n_doses * n_trials)
        both = cells.astype(np.int64).reshape(self.n_doses, n_trials)
        pending_n, dlt = both >> shift, tail.dlt_all - (both & ((1 << shift) - 1))
        m = tail.n[current, trials]
        yc = dlt[current, trials]
        complete_here = m - c
        fraction = (time - tail.enrol_day) / self.window_days
        with np.errstate(divide="ignore", invalid="ignore"):
            if d.method == "ess":
                stft = _slot_order_sum(np.where(here, fraction, 0.0))
                ess = complete_here + stft
                p_hat = np.where(ess > 0, yc / ess, 0.0)
            else:
                stft = _slot_order_sum(np.where(here, fraction, 0.0))
                pi = (d.target / 2 + yc) / (1 + complete_here + stft)
                share = pi * (1 - fraction) / (1 - pi * fraction)
                # numpy's row sum over the tail, as TiteBoinKernel takes it (same bits)
                imputed = np.ascontiguousarray(np.where(here, share, 0.0).T).sum(axis=1)
                p_hat = np.where(m > 0, (yc + imputed) / m, 0.0)
        code = np.where(p_hat <= rules.lambda_e, 0, np.where(p_hat > rules.lambda_d, 2, 1))
        code = np.where(m == 0, 1, code)
        code = np.where((code == 0) & (complete_here < d.min_complete_to_escalate), 1, code)
        complete = tail.n - pending_n
        interval = rules.interval
        first_elim = interval.first_eliminated(complete.T, dlt.T)
        following = interval.settle(
            tail.n.T, dlt.T, current, code.astype(np.int8), first_elim, complete=complete.T
        )
        suspended = (
            (following >= current) & (m > 0) & (c / np.maximum(m, 1) > d.max_pending_fraction)
        )
        following = np.where(suspended, current, following)
        return following, suspended, _Seen(pending, unseen, here, pending_n, dlt)

    def resume_day(self, tail: _Tail, seen: _Seen, current: IntArray) -> FloatArray:
        """:meth:`TiteBoinKernel.resume_day` for the trials of ``tail`` (all suspended)."""
        rules = self.rules
        n_trials = current.size
        trials = np.arange(n_trials)
        resolve = tail.resolve_day
        dlt_next = _min_slots(np.where(seen.unseen, resolve, np.inf))
        need = _count_slots(seen.here) - rules._allowed_pending[tail.n[current, trials]]
        ordered = np.sort(np.where(seen.here, resolve, np.inf), axis=0)
        enough = ordered[np.clip(need, 1, ordered.shape[0]) - 1, trials]
        day = np.minimum(dlt_next, enough)
        if not rules._can_newly_eliminate:
            return day
        n, y = tail.n, seen.dlt
        complete = n - seen.pending_n
        doses = np.arange(self.n_doses)[:, None]
        risky = np.zeros(n.shape, dtype=bool)
        for table, rows in ((rules._newly[0], doses == 0), (rules._newly[1], doses > 0)):
            risky |= (table[n, y] - table[complete, y] > 0) & rows
        risky &= doses <= current
        reach = np.take_along_axis(risky, tail.dose.astype(np.intp), axis=0)
        critical = seen.pending & ~seen.unseen & reach
        return np.minimum(day, _min_slots(np.where(critical, resolve, np.inf)))


def _slot_order_sum(values: FloatArray) -> FloatArray:
    """Float sum per column, added slot by slot (the order of ``sum_in_slot_order``)."""
    total = values[0].copy()
    for row in values[1:]:
        total += row
    return total


def _decide_with_suspension(
    rules: TiteBoinColumns, tail: _Tail, arrival: FloatArray, current: IntArray
) -> tuple[FloatArray, IntArray]:
    """Decide at ``arrival``; suspended trials again at the next day their decision may change."""
    time = arrival.copy()
    following = np.empty(arrival.size, dtype=np.int64)
    waiting: IntArray | None = None  # every trial at the first try: no copies
    while True:
        now = time if waiting is None else time[waiting]
        here = current if waiting is None else current[waiting]
        nxt, suspended, seen = rules.decide(tail, now, here)
        if waiting is None:
            following[:] = nxt
        else:
            following[waiting] = nxt
        if not suspended.any():
            return time, following
        keep = np.flatnonzero(suspended)
        waiting = keep if waiting is None else waiting[keep]
        tail = tail.columns(keep)
        seen = _Seen(
            seen.pending[:, keep],
            seen.unseen[:, keep],
            seen.here[:, keep],
            seen.pending_n[:, keep],
            seen.dlt[:, keep],
        )
        time[waiting] = rules.resume_day(tail, seen, current[waiting])


def run_tite_boin_trials(
    plan: SimulationPlan,
    kernel: IntervalKernel,
    rules: TiteBoinKernel,
    draws: PatientDraws,
    outcome: ChunkOutcome,
) -> None:
    """Escalation of every trial in the chunk (TITE-BOIN), as :func:`run_tite_trials` runs it."""
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
                shut = lo + _count_slots(enrol_day[lo:first, cols] + window <= arrival)
                closed[cols] = shut
            lo = min(first - size, int(shut.min()))
            tail = _Tail(
                dose[lo:first, cols],
                enrol_day[lo:first, cols],
                resolve_day[lo:first, cols],
                has_dlt[lo:first, cols],
                n[:, cols],
                dlt_all[:, cols],
            )
            arrival, following = _decide_with_suspension(columns, tail, arrival, current[cols])
            stop = following < 0
            outcome.stopped[idx[stop]] = True
            active[idx[stop]] = False
            keep = ~stop
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
        dlts = _count_slots(dlt_now)
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
