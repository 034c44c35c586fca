"""The per-trial reference loop: one simulated trial at a time, the design's own ``decide``.

Slow and plain on purpose: it is the yardstick for the vectorised engine (same seed, same random
numbers, hence the same decisions and outcomes trial by trial) and for the speed-up the benchmark
reports. It follows the trial conduct documented in :mod:`cartrial.simulation.engine` and
:mod:`cartrial.simulation.tite` line by line, with scalar state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cartrial.designs.base import needs_dlt_followup
from cartrial.simulation.engine import SimulationPlan

__all__ = ["ReferenceTrial", "reference_trials"]


@dataclass(frozen=True)
class ReferenceTrial:
    """One trial simulated by the reference loop.

    ``cohorts`` lists ``(phase, dose, n, dlts)`` per cohort; ``selected`` is the final MTD
    (``None`` for no dose); ``stopped`` whether a ``stop`` decision ended the escalation.
    """

    cohorts: tuple[tuple[str, int, int, int], ...]
    n: tuple[int, ...]
    dlt: tuple[int, ...]
    selected: int | None
    stopped: bool
    duration_days: float


def reference_trials(plan: SimulationPlan, n_trials: int) -> list[ReferenceTrial]:
    """Simulate the first ``n_trials`` trials of ``plan`` one by one."""
    draws = plan.draws(0, n_trials)
    out = []
    for t in range(n_trials):
        tox = draws.tox[t]
        gaps = plan.accrual.gaps_days(draws.arrival[t]) if plan.accrual else None
        if plan.tite:
            state = _tite_trial(plan, tox, gaps, draws.onset[t])
        else:
            state = _cohort_trial(plan, tox, gaps, draws.backfill_tox[t])
        cohorts, n, dlt, stopped, duration = state
        selected = plan.design.select_mtd(n=n, dlt=dlt)
        spec = plan.expansion
        if spec is not None and selected is not None:
            dose = selected
            exp_gaps = plan.accrual.gaps_days(draws.expansion_arrival[t]) if plan.accrual else None
            treated = seen = 0
            for first in range(0, spec.n_patients, spec.step):
                last = min(first + spec.step, spec.n_patients)
                dlts = int(sum(u < plan.true_tox[dose] for u in draws.expansion_tox[t][first:last]))
                n[dose] += last - first
                dlt[dose] += dlts
                treated += last - first
                seen += dlts
                if exp_gaps is not None:
                    duration += float(sum(exp_gaps[first:last]))
                duration += plan.window_days
                cohorts.append(("expansion", dose, last - first, dlts))
                if bool(spec.stops(treated, seen)):
                    break
            selected = plan.design.select_mtd(n=n, dlt=dlt)
        out.append(
            ReferenceTrial(tuple(cohorts), tuple(n), tuple(dlt), selected, stopped, duration)
        )
    return out


State = tuple[list[tuple[str, int, int, int]], list[int], list[int], bool, float]


def _cohort_trial(
    plan: SimulationPlan, tox: np.ndarray, gaps: np.ndarray | None, backfill: np.ndarray
) -> State:
    design = plan.design
    size = design.cohort_size
    n = [0] * design.n_doses
    dlt = [0] * design.n_doses
    current = design.start
    cleared: set[int] = set()
    cohorts: list[tuple[str, int, int, int]] = []
    duration = 0.0
    for k in range(plan.max_cohorts):
        dlts = int(sum(u < plan.true_tox[current] for u in tox[k * size : (k + 1) * size]))
        n[current] += size
        dlt[current] += dlts
        cohorts.append(("escalation", current, size, dlts))
        if gaps is not None:
            duration += float(sum(gaps[k * size : (k + 1) * size]))
        duration += plan.window_days
        below = [d for d in cleared if d < current]
        if plan.backfill and below:
            d = max(below)
            uniforms = backfill[k * plan.backfill : (k + 1) * plan.backfill]
            extra = int(sum(u < plan.true_tox[d] for u in uniforms))
            n[d] += plan.backfill
            dlt[d] += extra
            cohorts.append(("backfill", d, plan.backfill, extra))
        if plan.last_cohort:
            decision = design.decide(  # type: ignore[call-arg]
                n=n, dlt=dlt, current=current, last_cohort=(size, dlts)
            )
        else:
            decision = design.decide(n=n, dlt=dlt, current=current)
        if decision.next_dose is None:
            return cohorts, n, dlt, True, duration
        if decision.next_dose > current:
            cleared.add(current)
        current = decision.next_dose
    return cohorts, n, dlt, False, duration


def _tite_trial(
    plan: SimulationPlan, tox: np.ndarray, gaps: np.ndarray | None, onset_uniforms: np.ndarray
) -> State:
    design = plan.design
    assert gaps is not None
    size = design.cohort_size
    window = plan.window_days
    n = [0] * design.n_doses
    dlt = [0] * design.n_doses
    patients: list[tuple[int, float, float]] = []  # (dose, enrol day, DLT day or inf)
    current = design.start
    cohorts: list[tuple[str, int, int, int]] = []
    last = 0.0
    for k in range(plan.max_cohorts):
        time = last + float(gaps[k * size])
        if k > 0:
            while True:
                seen = [0] * design.n_doses
                pending = []
                for d, enrol, dlt_day in patients:
                    if dlt_day <= time:
                        seen[d] += 1
                    elif enrol + window > time:
                        pending.append((d, (time - enrol) / window))
                extra: dict[str, object] = {}
                if needs_dlt_followup(design):
                    extra["dlt_followup"] = [
                        (dlt_day - enrol) / window
                        for _, enrol, dlt_day in patients
                        if dlt_day <= time
                    ]
                if plan.last_cohort:
                    extra["last_cohort"] = (
                        size,
                        sum(dlt_day <= time for _, _, dlt_day in patients[-size:]),
                    )
                decision = design.decide(  # type: ignore[call-arg]
                    n=n, dlt=seen, current=current, pending_followup=pending, **extra
                )
                if not decision.suspended:
                    break
                time = min(
                    r
                    for d, enrol, dlt_day in patients
                    if (r := dlt_day if math.isfinite(dlt_day) else enrol + window) > time
                )
            if decision.next_dose is None:
                return cohorts, n, dlt, True, last + window
            current = decision.next_dose
        dlts = 0
        for i in range(size):
            slot = k * size + i
            if i > 0:
                time += float(gaps[slot])
            p = plan.true_tox[current]
            has_dlt = tox[slot] < p
            onset = plan.onset.times_days(onset_uniforms[slot : slot + 1], window, p)
            patients.append((current, time, time + float(onset[0]) if has_dlt else math.inf))
            dlts += int(has_dlt)
        last = time
        n[current] += size
        dlt[current] += dlts
        cohorts.append(("escalation", current, size, dlts))
    return cohorts, n, dlt, True, last + window
