"""Exact operating characteristics by enumerating every possible trial (no Monte Carlo).

The trial is a Markov chain on the state ``(current dose, patients per dose, DLTs per dose)``.
Starting from the empty state, each cohort of ``c`` patients at dose ``d`` has ``j`` DLTs with the
binomial probability ``C(c, j) p_d^j (1 - p_d)^(c - j)``; the design's own ``decide`` gives the next
state or ends the trial, and ``select_mtd`` the selected dose at the end. States reached by
different paths are merged, so the work grows with the number of distinct states, not of paths.
This is exact for the 3+3 design (a few hundred states for five doses) and feasible for other
designs while the state count stays below ``max_states``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from cartrial import __version__
from cartrial.designs.base import Design, check_probability_vector, is_time_to_event
from cartrial.designs.describe import design_parameters
from cartrial.designs.registry import design_name
from cartrial.designs.three_plus_three import ThreePlusThree
from cartrial.errors import DesignError
from cartrial.simulation.mtd import MTDDefinition
from cartrial.simulation.result import (
    OVERDOSE_FRACTIONS,
    SimulationResult,
    default_dose_labels,
    poor_allocation_threshold,
)

__all__ = ["exact_operating_characteristics", "exact_three_plus_three"]

State = tuple[int, tuple[int, ...], tuple[int, ...]]


def exact_operating_characteristics(
    design: Design,
    true_tox: Sequence[float] | npt.ArrayLike,
    *,
    dlt_window_days: float = 28.0,
    max_states: int = 200_000,
    target: float | None = None,
    acceptable: tuple[float, float] | None = None,
    dose_labels: Sequence[str] | None = None,
) -> SimulationResult:
    """Exact selection %, patients, DLTs, early stop % and risks of ``design``.

    Accrual is instantaneous (no duration is reported; ``dlt_window_days`` is kept for the
    settings). ``target``, ``acceptable`` and ``dose_labels`` as for
    :func:`~cartrial.simulation.simulate`; the risks of overdosing and of poor allocation are
    exact probabilities too, and there are no Monte Carlo standard errors.

    Raises
    ------
    DesignError
        For true toxicities outside [0, 1] or of the wrong length, a TITE design (its decisions
        depend on continuous follow-up times) or more than ``max_states`` live states.
    """
    tox = check_probability_vector(true_tox, "true_tox")
    doses = design.n_doses
    if tox.size != doses:
        raise DesignError(f"true_tox has {tox.size} values but the design has {doses} doses")
    if is_time_to_event(design):
        raise DesignError("exact enumeration needs a design without time-to-event follow-up")
    size = design.cohort_size
    max_cohorts = (
        -(-design.max_patients // size)
        if design.max_patients is not None
        else -(-6 * doses // size)
    )
    outcome_prob = [
        [float(math.comb(size, j) * p**j * (1 - p) ** (size - j)) for j in range(size + 1)]
        for p in tox.tolist()
    ]
    labels = default_dose_labels(doses) if dose_labels is None else tuple(dose_labels)
    mtd = MTDDefinition(getattr(design, "target", None) if target is None else target, acceptable)
    at_mtd, above = mtd.correct(tox), mtd.above(tox)
    overdosed = np.zeros(len(OVERDOSE_FRACTIONS))
    selected = np.zeros(doses)
    none = stopped_none = poor = 0.0
    poor_n = poor_allocation_threshold(design.max_patients, doses)
    patients = np.zeros(doses)
    dlts = np.zeros(doses)
    live: dict[State, float] = {(design.start, (0,) * doses, (0,) * doses): 1.0}

    def finish(n: tuple[int, ...], y: tuple[int, ...], prob: float, stop: bool, k: int) -> None:
        nonlocal none, stopped_none, poor
        chosen = design.select_mtd(n=list(n), dlt=list(y))
        if chosen is None:
            none += prob
            stopped_none += prob if stop else 0.0
        else:
            selected[chosen] += prob
        patients[:] += prob * np.asarray(n)
        dlts[:] += prob * np.asarray(y)
        counts = np.asarray(n)
        cap = design.max_patients if design.max_patients is not None else counts.sum()
        overdosed[:] += prob * (counts[above].sum() > np.asarray(OVERDOSE_FRACTIONS) * cap)
        poor += prob * float(counts[at_mtd].sum() < poor_n)

    for k in range(1, max_cohorts + 1):
        following: dict[State, float] = defaultdict(float)
        for (current, n, y), prob in live.items():
            for j, p_j in enumerate(outcome_prob[current]):
                if p_j == 0.0:
                    continue
                n2 = tuple(v + size if d == current else v for d, v in enumerate(n))
                y2 = tuple(v + j if d == current else v for d, v in enumerate(y))
                decision = design.decide(n=list(n2), dlt=list(y2), current=current)
                if decision.next_dose is None:
                    finish(n2, y2, prob * p_j, True, k)
                else:
                    following[(decision.next_dose, n2, y2)] += prob * p_j
        if len(following) > max_states:
            raise DesignError(
                f"exact enumeration stopped: {len(following)} states after cohort {k} "
                f"(max_states = {max_states})"
            )
        live = following
    for (_, n, y), prob in live.items():
        finish(n, y, prob, False, max_cohorts)
    return SimulationResult(
        design=design_name(design),
        true_tox=tuple(float(p) for p in tox),
        n_trials=None,
        seed=None,
        method="exact-enumeration",
        selection_pct=tuple(float(v) for v in 100.0 * selected),
        selection_none_pct=100.0 * none,
        mean_patients=tuple(float(v) for v in patients),
        mean_dlts=tuple(float(v) for v in dlts),
        early_stop_pct=100.0 * stopped_none,
        mean_duration_months=None,
        mean_expansion_patients=0.0,
        settings={
            "dlt_window_days": f"{dlt_window_days:g}",
            "accrual": "instantaneous",
            "dlt_onset": "not used",
            "expansion": "none",
            "engine": "exact enumeration",
            "mtd_definition": mtd.describe(),
        },
        dose_labels=labels,
        mtd=mtd,
        design_parameters=design_parameters(design, labels),
        software_version=__version__,
        overdose_pct=dict(zip(OVERDOSE_FRACTIONS, (100.0 * overdosed).tolist(), strict=True))
        if mtd.defined
        else None,
        poor_allocation_pct=100.0 * poor if at_mtd.any() else None,
        poor_allocation_n=poor_n if at_mtd.any() else None,
    )


def exact_three_plus_three(
    true_tox: Sequence[float] | npt.ArrayLike,
    *,
    start: int = 0,
    deescalation: bool = True,
    expand_mtd: bool = True,
    declare_top_dose: bool = True,
    max_subjects: int | None = None,
    dlt_window_days: float = 28.0,
) -> SimulationResult:
    """Exact operating characteristics of the 3+3 design by enumeration.

    The design is :class:`~cartrial.designs.ThreePlusThree` with the parameters given; the number
    of doses is ``len(true_tox)``.

    Examples
    --------
    One dose with DLT rate 0.2: selected with probability ``q^6 + 6 p q^5 = 0.65536``.

    >>> round(exact_three_plus_three([0.2]).selection_pct[0], 3)
    65.536
    """
    tox = check_probability_vector(true_tox, "true_tox")
    design = ThreePlusThree(
        n_doses=int(tox.size),
        start=start,
        deescalation=deescalation,
        expand_mtd=expand_mtd,
        declare_top_dose=declare_top_dose,
        max_subjects=max_subjects,
    )
    return exact_operating_characteristics(design, tox, dlt_window_days=dlt_window_days)
