"""TITE-BOIN's decisions for many trials at once, with event skipping while accrual waits."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cartrial.designs.tite_boin import TITEBOIN
from cartrial.simulation.follow_up import FollowUp
from cartrial.simulation.kernels import IntervalKernel
from cartrial.simulation.rows import count_true, row_min, sum_in_slot_order

__all__ = ["TiteBoinKernel"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class TiteBoinKernel:
    """TITE-BOIN's ``decide`` on whole arrays, rules as in :class:`~cartrial.designs.TITEBOIN`."""

    needs_dlt_onsets = False

    def __init__(self, design: TITEBOIN, interval: IntervalKernel) -> None:
        self.design = design
        self.interval = interval
        self.lambda_e, self.lambda_d = design.lambdas()
        # allowed_pending[m]: most pending patients among m treated that do not suspend accrual
        # (``c / m > max_pending_fraction`` suspends, as decide tests it)
        fraction = design.max_pending_fraction
        self.allowed_pending = np.array(
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
        self.newly_eliminated = [np.concatenate([zero, np.cumsum(flip, axis=0)]) for flip in flips]
        # a flip k -> k + 1 needs y <= k DLTs among k completed patients to be reachable
        k, y = np.indices(flips[0].shape)
        self.can_newly_eliminate = bool(any((flip & (y <= k)).any() for flip in flips))

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
        need = count_true(here) - self.allowed_pending[follow.n[suspended][rows, current]]
        ordered = np.sort(np.where(here, resolve_day, np.inf), axis=1)
        enough = ordered[rows, np.clip(need, 1, ordered.shape[1]) - 1]
        day = np.minimum(dlt_next, enough)
        if not self.can_newly_eliminate:
            return day
        # windows closing at or below the current dose that could newly eliminate a dose
        n, y, pending_n = follow.subset(suspended).counts()
        complete = n - pending_n
        doses = np.arange(n.shape[1])
        risky = np.zeros(n.shape, dtype=bool)
        for table, columns in (
            (self.newly_eliminated[0], doses == 0),
            (self.newly_eliminated[1], doses > 0),
        ):
            newly = table[n, y] - table[complete, y] > 0
            risky |= newly & columns
        risky &= doses <= current[:, None]
        critical = pending & ~unseen & np.take_along_axis(risky, dose, axis=1)
        close_next = row_min(np.where(critical, resolve_day, np.inf))
        return np.minimum(day, close_next)
