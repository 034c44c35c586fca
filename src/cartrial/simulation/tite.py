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
    needs_dlt_followup,
    takes_last_cohort,
)
from cartrial.designs.tite_boin import TITEBOIN
from cartrial.errors import DesignError
from cartrial.simulation.crm import crm_kernels
from cartrial.simulation.kernels import CohortKernel, IntervalKernel
from cartrial.simulation.rows import count_true, row_min, sum_in_slot_order

if TYPE_CHECKING:
    from cartrial.simulation.engine import ChunkOutcome, SimulationPlan
    from cartrial.simulation.streams import PatientDraws

__all__ = ["FollowUp", "TiteKernel", "run_tite_trials", "tite_kernel"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class FollowUp:
    """What the design can see at the decision time of each trial.

    Patients whose DLT window closed before an earlier decision are complete whatever the time
    now, so only the most recent enrolments (the *tail*, a few slots per trial) can be pending or
    have a DLT still to come; only they are examined at each decision.

    Attributes
    ----------
    n
        ``(n_trials, n_doses)``: every enrolled patient per dose.
    dlt_all
        ``(n_trials, n_doses)``: every DLT of the enrolled patients, including those whose onset
        lies after the decision time (not yet observed).
    dose
        ``(n_trials, width)``: dose of each tail slot.
    observed, pending, fraction
        Tail slots with a DLT seen by now; still inside the window without a DLT; the followed
        part of the window of the pending ones (0 elsewhere).
    unseen
        Tail slots with a DLT still to come (onset after the decision time).
    last
        The tail columns of the last cohort (:attr:`last_cohort_dlts` counts its DLTs).
    dlt_onsets
        Only for kernels that ask for it (``needs_dlt_onsets``): ``(n_trials, slots)``, the
        followed fraction of the window at which each DLT observed by now occurred, over every
        enrolled patient (``inf`` elsewhere).
    """

    n: IntArray
    dlt_all: IntArray
    dose: IntArray
    observed: BoolArray
    pending: BoolArray
    fraction: FloatArray
    unseen: BoolArray
    last: slice
    dlt_onsets: FloatArray | None = None

    def subset(self, rows: BoolArray) -> FollowUp:
        """The follow-up of the trials ``rows`` only."""
        return FollowUp(
            n=self.n[rows],
            dlt_all=self.dlt_all[rows],
            dose=self.dose[rows],
            observed=self.observed[rows],
            pending=self.pending[rows],
            fraction=self.fraction[rows],
            unseen=self.unseen[rows],
            last=self.last,
            dlt_onsets=None if self.dlt_onsets is None else self.dlt_onsets[rows],
        )

    @property
    def last_cohort_dlts(self) -> IntArray:
        """DLTs observed so far among the last cohort's patients, per trial."""
        return count_true(self.observed[:, self.last])

    def per_dose(self, flags: BoolArray) -> IntArray:
        """Count tail ``flags`` per trial and dose: ``(n_trials, n_doses)``."""
        n_trials, n_doses = self.n.shape
        key = (np.arange(n_trials)[:, None] * n_doses + self.dose)[flags]
        counts = np.bincount(key, minlength=n_trials * n_doses)
        return counts.reshape(n_trials, n_doses).astype(np.int64)

    def counts(self) -> tuple[IntArray, IntArray, IntArray]:
        """``(n, DLTs observed, pending)`` per trial and dose, from one pass over the tail.

        Unseen DLTs and pending patients are counted together: each slot adds
        ``unseen + pending * 2**shift`` to its trial and dose (``2**shift`` above the tail width,
        so the two counts never mix).
        """
        n_trials, n_doses = self.n.shape
        shift = max(6, self.dose.shape[1].bit_length())
        key = np.arange(n_trials)[:, None] * n_doses + self.dose
        packed = self.unseen.astype(np.int64) + (self.pending.astype(np.int64) << shift)
        cells = np.bincount(key.ravel(), weights=packed.ravel(), minlength=n_trials * n_doses)
        both = cells.astype(np.int64).reshape(n_trials, n_doses)
        unseen = both & ((1 << shift) - 1)
        return self.n, self.dlt_all - unseen, both >> shift

    @property
    def dlt(self) -> IntArray:
        """DLTs observed by now per trial and dose."""
        return self.counts()[1]


class TiteKernel(Protocol):
    """Vectorised ``decide`` of a TITE design: next dose (``-1`` stop) and suspension flag.

    ``needs_dlt_onsets``: the kernel reads :attr:`FollowUp.dlt_onsets` (the engine fills it).
    """

    needs_dlt_onsets: bool

    def decide(self, follow: FollowUp, current: IntArray) -> tuple[IntArray, BoolArray]:
        """Decision per trial from the follow-up at the decision time."""
        ...

    def resume_day(
        self,
        follow: FollowUp,
        suspended: BoolArray,
        current: IntArray,
        resolve_day: FloatArray,
        now: FloatArray,
    ) -> FloatArray:
        """For the trials ``suspended`` at ``now``: the next day on which the decision may change.

        ``follow`` covers every trial just decided, ``suspended`` flags those waiting;
        ``current``, ``resolve_day`` (the day each tail slot's status last changes: its DLT
        onset, else the end of its window) and ``now`` are those of the suspended trials only.
        """
        ...


def next_follow_up_change(resolve_day: FloatArray, now: FloatArray) -> FloatArray:
    """The next day after ``now`` on which any tail slot's status changes (every event)."""
    return row_min(np.where(resolve_day > now[:, None], resolve_day, np.inf))


class TiteBoinKernel:
    """TITE-BOIN's ``decide`` on whole arrays, rules as in :class:`~cartrial.designs.TITEBOIN`."""

    needs_dlt_onsets = False

    def __init__(self, design: TITEBOIN, interval: IntervalKernel) -> None:
        self.design = design
        self.interval = interval
        self.lambda_e, self.lambda_d = design.lambdas()
        # _allowed_pending[m]: most pending patients among m treated that do not suspend accrual
        # (``c / m > max_pending_fraction`` suspends, as decide tests it)
        fraction = design.max_pending_fraction
        self._allowed_pending = np.array(
            [
                max(c for c in range(m + 1) if c / max(m, 1) <= fraction)
                for m in range(interval.elim.shape[0])
            ],
            dtype=np.int64,
        )
        # newly[k, y]: one more completed patient (k -> k + 1, y DLTs) makes the elimination
        # rule fire (extra-safe stop too at the lowest dose); cumulated over k for range tests.
        elim = interval.elim
        lowest = elim | interval.extrasafe
        zero = np.zeros((1, elim.shape[1]), dtype=np.int64)
        flips = [table[1:] & ~table[:-1] for table in (lowest, elim)]
        self._newly = [np.concatenate([zero, np.cumsum(flip, axis=0)]) for flip in flips]
        # a flip k -> k + 1 needs y <= k DLTs among k completed patients to be reachable
        k, y = np.indices(flips[0].shape)
        self._can_newly_eliminate = bool(any((flip & (y <= k)).any() for flip in flips))

    def decide(self, follow: FollowUp, current: IntArray) -> tuple[IntArray, BoolArray]:
        """Next dose per trial (``-1`` stop) and whether accrual is suspended."""
        d = self.design
        n, y, pending_n = follow.counts()
        rows = np.arange(n.shape[0])
        here = follow.pending & (follow.dose == current[:, None])
        c = count_true(here)
        stft = sum_in_slot_order(np.where(here, follow.fraction, 0.0))
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

    def resume_day(
        self,
        follow: FollowUp,
        suspended: BoolArray,
        current: IntArray,
        resolve_day: FloatArray,
        now: FloatArray,
    ) -> FloatArray:
        """The first later day on which a suspended trial's decision may change (event skipping).

        While a trial is suspended and no DLT appears, time only adds follow-up: the estimate
        at the current dose (ESS, or the imputation's) can only fall, so the decision can only
        move up and accrual stays suspended until enough patients at the current dose resolve
        to bring the pending share to ``max_pending_fraction``. The exceptions are events that
        change counts the rules test: a DLT onset (any dose), and a completed window at or
        below the current dose that brings that dose's completed patients to a count where the
        elimination (or extra-safe) rule newly applies. Re-deciding only at those days gives
        the decisions of re-deciding at every change of follow-up.
        """
        rows = np.arange(current.size)
        dose, pending = follow.dose[suspended], follow.pending[suspended]
        unseen = follow.unseen[suspended]
        dlt_next = row_min(np.where(unseen, resolve_day, np.inf))
        here = pending & (dose == current[:, None])
        # resolutions at the current dose needed to bring the pending share to the allowed one
        need = count_true(here) - self._allowed_pending[follow.n[suspended][rows, current]]
        ordered = np.sort(np.where(here, resolve_day, np.inf), axis=1)
        enough = ordered[rows, np.clip(need, 1, ordered.shape[1]) - 1]
        day = np.minimum(dlt_next, enough)
        if not self._can_newly_eliminate:
            return day
        # windows closing at or below the current dose that could newly eliminate a dose
        n, y, pending_n = follow.subset(suspended).counts()
        complete = n - pending_n
        doses = np.arange(n.shape[1])
        risky = np.zeros(n.shape, dtype=bool)
        for table, columns in ((self._newly[0], doses == 0), (self._newly[1], doses > 0)):
            newly = table[n, y] - table[complete, y] > 0
            risky |= newly & columns
        risky &= doses <= current[:, None]
        critical = pending & ~unseen & np.take_along_axis(risky, dose, axis=1)
        close_next = row_min(np.where(critical, resolve_day, np.inf))
        return np.minimum(day, close_next)


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


def follow_up_at(
    time: FloatArray,
    enrol_day: FloatArray,
    resolve_day: FloatArray,
    has_dlt: BoolArray,
    window_days: float,
) -> tuple[BoolArray, BoolArray, FloatArray, BoolArray]:
    """``(observed, pending, fraction, unseen)`` of every tail slot at ``time`` (per trial).

    ``resolve_day``: the DLT onset day of a slot with a DLT, else the day its window closes (a
    DLT falls inside the window), so a slot is pending (no DLT seen, window open) exactly while
    ``resolve_day > time``.
    """
    now = time[:, None]
    pending = resolve_day > now
    observed = has_dlt & ~pending
    fraction = (now - enrol_day) / window_days * pending  # as the per-trial loop divides
    unseen = has_dlt & pending
    return observed, pending, fraction, unseen


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
    """Escalation of every trial in the chunk with time-to-event decisions."""
    design = plan.design
    assert plan.accrual is not None  # plan_simulation requires accrual for TITE designs
    decide = tite_kernel(design, kernel, last_cohort=plan.last_cohort)
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
            stop = following < 0
            outcome.stopped[idx[stop]] = True
            active[idx[stop]] = False
            keep = ~stop
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
