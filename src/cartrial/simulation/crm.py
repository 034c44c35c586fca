"""CRM and TITE-CRM decisions for many trials at once.

The posterior is the design's own :func:`cartrial.designs.crm.crm_posterior` (fixed Simpson grid
over ``beta``), evaluated for a whole batch of trials in one call. For CRM the posterior depends
only on the patients and DLTs per dose, so it is computed once per distinct state in the batch;
for TITE-CRM each trial's pending patients enter with their linear weights. The rules around the
posterior follow :class:`cartrial.designs.CRM` in the same order: overdose control, safety stop,
maximum sample size, closest dose to the target, no skipping, coherence, early stop at the current
dose.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from cartrial.designs.base import Design
from cartrial.designs.crm import CRM, TITECRM, crm_posterior
from cartrial.designs.tite_weights import adaptive_weights
from cartrial.simulation.follow_up import next_follow_up_change
from cartrial.simulation.states import unique_rows

if TYPE_CHECKING:
    from cartrial.simulation.follow_up import FollowUp

__all__ = ["CRMKernel", "TiteCRMKernel", "crm_kernels"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_FIT_BATCH = 128
"""Trials per posterior evaluation (bounds memory: batch x grid points x pending patients)."""


class CRMKernel:
    """Vectorised ``decide`` and ``select_mtd`` of a :class:`~cartrial.designs.CRM`."""

    def __init__(self, design: CRM) -> None:
        self.design = design
        self.skeleton = np.asarray(design.prior_skeleton(), dtype=float)

    def fit(
        self,
        dlt: IntArray,
        no_dlt: IntArray,
        pending_dose: IntArray | None = None,
        pending_weight: FloatArray | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """``p_hat`` and ``Pr(p_j > target)`` per trial and dose."""
        d = self.design
        p_hat = np.empty(dlt.shape)
        over = np.empty(dlt.shape)
        for first in range(0, dlt.shape[0], _FIT_BATCH):
            rows = slice(first, first + _FIT_BATCH)
            _, p_hat[rows], over[rows] = crm_posterior(
                self.skeleton,
                d.target,
                dlt[rows],
                no_dlt[rows],
                model=d.model,
                intercept=d.intercept,
                prior_var=d.prior_var,
                pending_dose=None if pending_dose is None else pending_dose[rows],
                pending_weight=None if pending_weight is None else pending_weight[rows],
            )
        return p_hat, over

    def _fit_unique(self, n: IntArray, y: IntArray) -> tuple[FloatArray, FloatArray]:
        """Fit once per distinct ``(n, y)`` row; results broadcast back to every trial."""
        first, inverse = unique_rows(np.concatenate([n, y], axis=1))
        p_hat, over = self.fit(y[first], n[first] - y[first])
        return p_hat[inverse], over[inverse]

    def _admissible_top(self, over: FloatArray) -> IntArray:
        d = self.design
        if d.ewoc_alpha is None:
            return np.full(over.shape[0], d.n_doses - 1, dtype=np.int64)
        allowed = over <= d.ewoc_alpha
        highest = d.n_doses - 1 - np.argmax(allowed[:, ::-1], axis=1)
        return np.where(allowed.any(axis=1), highest, 0).astype(np.int64)

    def _safety_stop(self, n: IntArray, over: FloatArray) -> BoolArray:
        d = self.design
        if d.stop_threshold is None:
            return np.zeros(n.shape[0], dtype=bool)
        return np.asarray((n[:, 0] >= d.stop_min_n) & (over[:, 0] > d.stop_threshold), bool)

    def _closest(self, p_hat: FloatArray, top: IntArray) -> IntArray:
        distance = np.abs(p_hat - self.design.target)
        distance = np.where(np.arange(p_hat.shape[1]) <= top[:, None], distance, np.inf)
        return np.asarray(distance.argmin(axis=1), dtype=np.int64)

    def settle(
        self,
        n: IntArray,
        y: IntArray,
        current: IntArray,
        p_hat: FloatArray,
        over: FloatArray,
        last_dlts: IntArray | None = None,
    ) -> IntArray:
        """Next dose per trial from the fit (``-1`` = stop), in the design's rule order.

        Coherence looks at the last cohort (``last_dlts`` DLTs among ``cohort_size``) when
        given, else at all patients at the current dose, as the design's ``decide`` with and
        without ``last_cohort``.
        """
        d = self.design
        rows = np.arange(n.shape[0])
        stop = self._safety_stop(n, over) | (n.sum(axis=1) >= d.max_patients)
        following = self._closest(p_hat, self._admissible_top(over))
        if d.no_skip:
            following = np.minimum(following, current + 1)
        first_stage = np.zeros(rows.size, dtype=bool)
        planned = following
        if d.initial_doses is not None:  # two-stage start: the fixed sequence until a DLT
            sequence = np.asarray(d.initial_doses, dtype=np.int64)
            cohorts_done = n.sum(axis=1) // d.cohort_size
            first_stage = (y.sum(axis=1) == 0) & (cohorts_done < sequence.size)
            planned = sequence[np.minimum(cohorts_done, sequence.size - 1)]
        if d.coherent:
            if last_dlts is None:
                size, toxic = n[rows, current], y[rows, current]
            else:
                size, toxic = np.full(rows.size, d.cohort_size), last_dlts
            blocked = (size > 0) & (toxic / np.maximum(size, 1) >= d.target)
            following = np.where((following > current) & blocked, current, following)
        following = np.where(first_stage, planned, following)
        if d.n_earlystop is not None:
            stop |= (following == current) & (n[rows, current] >= d.n_earlystop) & ~first_stage
        return np.where(stop, -1, following).astype(np.int64)

    def decide(
        self, n: IntArray, y: IntArray, current: IntArray, last_dlts: IntArray | None = None
    ) -> IntArray:
        """Next dose per trial (``-1`` = stop); ``last_dlts``: the last cohort's DLTs or None."""
        p_hat, over = self._fit_unique(n, y)
        return self.settle(n, y, current, p_hat, over, last_dlts)

    def select(self, n: IntArray, y: IntArray) -> IntArray:
        """The MTD per trial as the design's ``select_mtd`` (``mtd_rule``) chooses it."""
        p_hat, over = self._fit_unique(n, y)
        treated = n > 0
        if self.design.mtd_rule == "dfcrm":
            top = np.full(n.shape[0], n.shape[1] - 1, dtype=np.int64)
        else:
            highest = n.shape[1] - 1 - np.argmax(treated[:, ::-1], axis=1)
            top = np.minimum(self._admissible_top(over), highest)
        chosen = self._closest(p_hat, top)
        none = ~treated.any(axis=1) | self._safety_stop(n, over)
        return np.where(none, -1, chosen).astype(np.int64)


class TiteCRMKernel:
    """TITE-CRM's ``decide`` on whole arrays: pending patients weighted by the design's scheme
    (linear: followed fraction; adaptive: :func:`~cartrial.designs.tite_weights.adaptive_weights`).

    With ``last_cohort`` the coherence rule looks at the DLTs observed so far in the last cohort
    (the last ``cohort_size`` enrolled slots), as ``decide(..., last_cohort=...)``.
    """

    def __init__(self, design: TITECRM, *, last_cohort: bool = False) -> None:
        self.crm = CRMKernel(design)
        self.last_cohort = last_cohort
        self.adaptive = design.scheme == "adaptive"
        self.needs_dlt_onsets = self.adaptive

    def decide(self, follow: FollowUp, current: IntArray) -> tuple[IntArray, BoolArray]:
        """Next dose per trial (``-1`` = stop); TITE-CRM never suspends accrual."""
        n, y, pending_n = follow.counts()
        no_dlt = n - y - pending_n
        p_hat = np.empty(n.shape)
        over = np.empty(n.shape)
        counts = follow.pending.sum(axis=1)
        weights = follow.fraction
        if self.adaptive:
            assert follow.dlt_onsets is not None  # the engine fills it (needs_dlt_onsets)
            weights = adaptive_weights(follow.fraction, follow.dlt_onsets)
        # Trials grouped by their number of pending patients: no padding, and each trial's
        # pending patients enter in slot order, as the design sees them.
        for width in np.unique(counts).tolist():
            rows = np.flatnonzero(counts == width)
            if width == 0:
                p_hat[rows], over[rows] = self.crm.fit(y[rows], no_dlt[rows])
                continue
            pending = follow.pending[rows]
            order = np.argsort(~pending, axis=1, kind="stable")[:, :width]
            dose = np.take_along_axis(follow.dose[rows], order, axis=1)
            weight = np.take_along_axis(weights[rows], order, axis=1)
            p_hat[rows], over[rows] = self.crm.fit(y[rows], no_dlt[rows], dose, weight)
        last_dlts = follow.last_cohort_dlts if self.last_cohort else None
        following = self.crm.settle(n, y, current, p_hat, over, last_dlts)
        return following, np.zeros(current.size, dtype=bool)

    def resume_day(
        self,
        follow: FollowUp,
        suspended: BoolArray,
        current: IntArray,
        resolve_day: FloatArray,
        now: FloatArray,
    ) -> FloatArray:
        """Never called (TITE-CRM never suspends); the next change of follow-up."""
        return next_follow_up_change(resolve_day, now)


def crm_kernels(
    design: Design, *, last_cohort: bool = False
) -> tuple[CRMKernel | None, TiteCRMKernel | None]:
    """The CRM kernels for ``design`` (``None`` where it is not a CRM / TITE-CRM).

    ``last_cohort``: TITE-CRM's coherence looks at the last cohort (see :class:`TiteCRMKernel`).
    """
    if type(design) is TITECRM:
        return CRMKernel(design), TiteCRMKernel(design, last_cohort=last_cohort)
    if type(design) is CRM:
        return CRMKernel(design), None
    return None, None
