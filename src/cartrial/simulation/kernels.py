"""Decision kernels: a design's ``decide`` and ``select_mtd`` applied to many trials at once.

A kernel takes state arrays of shape ``(n_trials, n_doses)`` (patients ``n`` and DLTs ``y`` per
dose) and the current dose per trial, and returns the next dose per trial (``-1`` when the trial
stops) or the selected dose (``-1`` for none). Two families:

* :class:`IntervalKernel` for the count-rule designs (BOIN, mTPI-2, Keyboard, i3+3, decision
  tables, i.e. subclasses of :class:`~cartrial.designs.interval.IntervalDesign`): the design's own
  rule and elimination rule are tabulated once per ``(n, dlt)`` through its public
  ``decision_grid``; the precedence of :mod:`cartrial.designs.base` is then applied to whole arrays
  and the final MTD is chosen by a vectorised isotonic regression (max-min formula of the
  pool-adjacent-violators fit) with the BOIN package's tie-break.
* :class:`MemoKernel` for every other design with a finite state space (3+3): the design's own
  ``decide``/``select_mtd`` is called once per distinct state and the answers are cached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import numpy.typing as npt

from cartrial.designs.base import Design, is_time_to_event, takes_last_cohort
from cartrial.designs.interval import IntervalDesign, prob_above
from cartrial.errors import DesignError
from cartrial.simulation.crm import crm_kernels
from cartrial.simulation.rows import first_true, row_sum
from cartrial.simulation.states import unique_rows

__all__ = [
    "CohortKernel",
    "IntervalKernel",
    "MemoKernel",
    "cohort_kernel",
]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_RULE_INDEX = {"E": 0, "S": 1, "D": 2}
_UNCOVERED = 3


class CohortKernel(Protocol):
    """Vectorised ``decide`` and ``select_mtd`` of one design."""

    def decide(
        self, n: IntArray, y: IntArray, current: IntArray, last_dlts: IntArray | None = None
    ) -> IntArray:
        """Next dose per trial after the data ``n``/``y``; ``-1`` where the design stops.

        ``last_dlts`` (designs whose ``decide`` takes ``last_cohort``): the DLTs of the last
        cohort (``cohort_size`` patients at ``current``) per trial, passed on as
        ``last_cohort=(cohort_size, DLTs)``; ``None`` leaves ``last_cohort`` out.
        """
        ...

    def select(self, n: IntArray, y: IntArray) -> IntArray:
        """Selected MTD per trial; ``-1`` where no dose is selected."""
        ...


class MemoKernel:
    """Exact kernel for any design: its own ``decide``/``select_mtd``, called once per state.

    Suited to designs whose trials visit few distinct states (3+3); the cache lives as long as
    the kernel (one simulation run).
    """

    def __init__(self, design: Design) -> None:
        self.design = design
        self._decisions: dict[bytes, int] = {}
        self._selections: dict[bytes, int] = {}

    def _lookup(
        self,
        cache: dict[bytes, int],
        rows: IntArray,
        compute: Callable[[list[int]], int],
    ) -> IntArray:
        first, inverse = unique_rows(rows)
        answers = np.empty(first.size, dtype=np.int64)
        for i, row in enumerate(rows[first]):
            key = row.tobytes()
            if key not in cache:
                cache[key] = compute(row.tolist())
            answers[i] = cache[key]
        return answers[inverse]

    def decide(
        self, n: IntArray, y: IntArray, current: IntArray, last_dlts: IntArray | None = None
    ) -> IntArray:
        """Next dose per trial from the design's ``decide`` (``-1`` for stop).

        With ``last_dlts`` the design's ``decide`` is given ``last_cohort=(cohort_size, DLTs)``
        (cached apart from calls without it).
        """
        d = n.shape[1]
        design = self.design
        coherent = design if takes_last_cohort(design) else None
        if last_dlts is not None and coherent is None:
            raise DesignError(f"{type(design).__name__} has no last-cohort coherence rule")

        def compute(row: list[int]) -> int:
            n_row, dlt_row, dose = row[1 : d + 1], row[d + 1 : 2 * d + 1], row[0]
            if last_dlts is None or coherent is None:
                decision = design.decide(n=n_row, dlt=dlt_row, current=dose)
            else:
                last = (design.cohort_size, row[-1])
                decision = coherent.decide(n=n_row, dlt=dlt_row, current=dose, last_cohort=last)
            return -1 if decision.next_dose is None else decision.next_dose

        # a state with the last cohort has one more column: the two caches never share a key
        columns = [current, n, y] if last_dlts is None else [current, n, y, last_dlts]
        return self._lookup(self._decisions, np.column_stack(columns), compute)

    def select(self, n: IntArray, y: IntArray) -> IntArray:
        """Selected dose per trial from the design's ``select_mtd`` (``-1`` for none)."""
        d = n.shape[1]

        def compute(row: list[int]) -> int:
            chosen = self.design.select_mtd(n=row[:d], dlt=row[d:])
            return -1 if chosen is None else chosen

        return self._lookup(self._selections, np.column_stack([n, y]), compute)


class IntervalKernel:
    """Vectorised kernel for :class:`~cartrial.designs.interval.IntervalDesign` subclasses.

    Parameters
    ----------
    design
        The count-rule design.
    max_n
        Largest number of patients that can accumulate at one dose (tables cover ``0..max_n``).
    """

    def __init__(self, design: IntervalDesign, max_n: int) -> None:
        self.design = design
        size = max_n + 1
        # rule[n, y]: 0 escalate, 1 stay, 2 de-escalate, 3 not covered by the design's table;
        # elim[n, y]: the elimination rule fires (the dose and all higher are eliminated).
        self.rule = np.full((size, size), _RULE_INDEX["S"], dtype=np.int8)
        self.elim = np.zeros((size, size), dtype=bool)
        others = [0] * (design.n_doses - 1)
        for n in range(1, size):
            for y in range(n + 1):
                try:
                    self.rule[n, y] = _RULE_INDEX[design.rule(n, y)]
                except DesignError:  # a user table without a row for n patients
                    self.rule[n, y] = _UNCOVERED
                self.elim[n, y] = 0 in design.eliminated([n, *others], [y, *others])
        counts_n, counts_y = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
        valid = counts_y <= counts_n
        # extra-safe stop at the lowest dose (BOIN ``extrasafe``), same cut-off as the design.
        self.extrasafe = np.zeros((size, size), dtype=bool)
        if design.extrasafe:
            probability = prob_above(design.target, counts_y[valid], counts_n[valid])
            self.extrasafe[valid] = (counts_n[valid] >= design.elimination_min_n) & (
                probability > design.elimination_cutoff - design.offset
            )
        self._elim_flat = self.elim.ravel()
        self._any_extrasafe = bool(self.extrasafe.any())

    def eliminated(self, n: IntArray, y: IntArray) -> BoolArray:
        """Whether the safety rule eliminates each dose (same shape and layout as ``n``)."""
        return np.take(self._elim_flat, n * self.elim.shape[1] + y)

    def first_eliminated(self, n: IntArray, y: IntArray) -> IntArray:
        """Lowest dose eliminated by the safety rule per trial (``n_doses`` if none)."""
        return first_true(self.eliminated(n, y))

    def decide(
        self, n: IntArray, y: IntArray, current: IntArray, last_dlts: IntArray | None = None
    ) -> IntArray:
        """Next dose per trial, precedence rules 2-8 of :mod:`cartrial.designs.base`.

        Count-rule designs have no last-cohort rule: ``last_dlts`` must be ``None``.
        """
        if last_dlts is not None:
            raise DesignError(f"{self.design.design_name} has no last-cohort coherence rule")
        rows = np.arange(n.shape[0])
        n_cur = n[rows, current]
        code = self.rule[n_cur, y[rows, current]]
        if np.any(code == _UNCOVERED):
            missing = int(n_cur[np.argmax(code == _UNCOVERED)])
            raise DesignError(f"the decision table has no row for {missing} patients treated")
        return self.settle(n, y, current, code, self.first_eliminated(n, y))

    def settle(
        self,
        n: IntArray,
        y: IntArray,
        current: IntArray,
        code: npt.NDArray[np.int8],
        first_elim: IntArray,
        complete: IntArray | None = None,
        *,
        n_current: IntArray | None = None,
        treated: IntArray | int | None = None,
    ) -> IntArray:
        """Precedence rules 3-8 around the rule's ``code`` (0 E, 1 S, 2 D); ``-1`` = stop.

        ``first_elim`` is the lowest eliminated dose per trial (``n_doses`` if none);
        ``complete`` (TITE designs) the patients with complete follow-up per dose, used by the
        extra-safe rule as by the elimination rule (default ``n``). ``n_current`` (patients at
        the current dose) and ``treated`` (patients in all) spare recomputing them from ``n``
        when the caller has them.
        """
        d = self.design
        n_cur = n[np.arange(n.shape[0]), current] if n_current is None else n_current
        safe_n = n if complete is None else complete
        stop = first_elim == 0
        if self._any_extrasafe:  # a table lookup per trial only when the rule can fire
            stop |= self.extrasafe[safe_n[:, 0], y[:, 0]]
        stop |= (row_sum(n) if treated is None else treated) >= d.max_patients
        # E (0) moves up one dose, S (1) stays, D (2) moves down one: current + 1 - code, kept
        # at or above the lowest dose and at or below the highest dose not eliminated (which
        # also moves a trial above it down there)
        top = first_elim - 1
        following = np.minimum(np.maximum(current + (1 - code), 0), top)
        if d.n_earlystop is not None:
            stop |= (following == current) & (n_cur >= d.n_earlystop)
        return np.where(stop, -1, following).astype(np.int64, copy=False)

    def select(self, n: IntArray, y: IntArray) -> IntArray:
        """The MTD per trial as :func:`cartrial.designs.isotonic.isotonic_mtd` chooses it.

        Honours the design's ``mtd_bound()`` (BOIN ``bound_mtd``).

        Isotonic estimates by the max-min formula ``fit_j = max_{i<=j} min_{k>=j} M(i, k)``,
        where ``M(i, k)`` is the weighted mean of the considered doses ``i..k`` (the pooled-
        adjacent-violators fit; Barlow et al. 1972).
        """
        n_trials, n_doses = n.shape
        first_elim = self.first_eliminated(n, y)
        considered = (n > 0) & (np.arange(n_doses) < first_elim[:, None])
        yf = y.astype(float)
        mf = n.astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = (yf + 0.05) / (mf + 0.1)
            variance = (yf + 0.05) * (mf - yf + 0.05) / ((mf + 0.1) ** 2 * (mf + 1.1))
            weight = np.where(considered, 1.0 / variance, 0.0)
        weighted = np.where(considered, raw * weight, 0.0)
        zero = np.zeros((n_trials, 1))
        cum_w = np.concatenate([zero, np.cumsum(weight, axis=1)], axis=1)
        cum_wr = np.concatenate([zero, np.cumsum(weighted, axis=1)], axis=1)
        # block[t, i, k]: weighted mean of the considered doses i..k (i <= k, both considered)
        with np.errstate(divide="ignore", invalid="ignore"):
            block = (cum_wr[:, None, 1:] - cum_wr[:, :-1, None]) / (
                cum_w[:, None, 1:] - cum_w[:, :-1, None]
            )
        doses = np.arange(n_doses)
        upper = doses[:, None] <= doses[None, :]
        ends = considered[:, :, None] & considered[:, None, :] & upper
        block = np.where(ends, block, np.inf)
        # smallest mean over blocks i..k with k >= j, then the largest over starts i <= j
        suffix_min = np.minimum.accumulate(block[:, :, ::-1], axis=2)[:, :, ::-1]
        starts = considered[:, :, None] & upper
        fitted = np.where(starts, suffix_min, -np.inf).max(axis=1)
        rank = np.cumsum(considered, axis=1)
        target = float(self.design.target)
        distance = np.where(considered, np.abs(fitted + rank * 1e-10 - target), np.inf)
        bound = self.design.mtd_bound()
        if bound is not None:  # BOIN boundMTD: estimates at or above the bound do not qualify
            distance = np.where(fitted >= bound, np.inf, distance)
        chosen = distance.argmin(axis=1)
        none = np.isinf(distance).all(axis=1) | self.extrasafe[n[:, 0], y[:, 0]]
        return np.where(none, -1, chosen).astype(np.int64)


def cohort_kernel(design: Design, max_n: int) -> CohortKernel:
    """The fastest exact kernel for ``design`` (``max_n``: most patients one dose can receive).

    Count-rule designs that keep the shared ``select_mtd`` get :class:`IntervalKernel` (its
    ``decide`` is used only when the design keeps the shared ``decide`` too; TITE designs decide
    through :mod:`cartrial.simulation.tite`); every other design gets :class:`MemoKernel`.
    """
    crm, _ = crm_kernels(design)
    if crm is not None:
        return crm
    shared_decide = type(design).decide is IntervalDesign.decide or is_time_to_event(design)
    if (
        isinstance(design, IntervalDesign)
        and type(design).select_mtd is IntervalDesign.select_mtd
        and shared_decide
    ):
        return IntervalKernel(design, max_n)
    return MemoKernel(design)
