"""The slot-by-trial TITE-BOIN engine simulates exactly the trials of the row-per-trial engine.

Independent source: :func:`cartrial.simulation.tite.run_event_driven_trials` with
:class:`~cartrial.simulation.tite_boin.TiteBoinKernel` (the engine every TITE-BOIN simulation
used before, itself checked against the design's own ``decide`` per trial in
``test_simulation_engine.py``) runs the same seeds; every kept cohort (dose, DLTs, start day) and
every summary must be identical. The scenarios cover both estimates, the extra-safe stop, the
minimum of completed patients, a tighter pending share, every DLT onset distribution, fast
accrual with cohorts of one (tails of 8 and more pending patients), frequent eliminations, and
several batches of trials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

from cartrial.designs import TITEBOIN
from cartrial.simulation import simulate
from cartrial.simulation import tite as engine_module
from cartrial.simulation.kernels import IntervalKernel
from cartrial.simulation.settings import DLTOnset
from cartrial.simulation.tite_boin import TiteBoinKernel
from cartrial.simulation.tite_boin_trials import TiteBoinColumns, _Tail

if TYPE_CHECKING:
    from cartrial.simulation.engine import ChunkOutcome, SimulationPlan
    from cartrial.simulation.streams import PatientDraws

FIVE = (0.05, 0.1, 0.2, 0.3, 0.45)

SCENARIOS = {
    "ess": (TITEBOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10), FIVE, {}),
    "imputation-uniform-accrual": (
        TITEBOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10, method="imputation"),
        FIVE,
        {"accrual": "uniform"},
    ),
    "extrasafe-toxic": (
        TITEBOIN(target=0.2, n_doses=4, cohort_size=1, n_cohorts=24, extrasafe=True),
        (0.3, 0.4, 0.5, 0.6),
        {},
    ),
    "min-complete-weibull": (
        TITEBOIN(
            target=0.25,
            n_doses=6,
            cohort_size=2,
            n_cohorts=15,
            min_complete_to_escalate=2,
            max_pending_fraction=0.34,
        ),
        (0.02, 0.05, 0.1, 0.25, 0.4, 0.6),
        {"dlt_onset": "weibull"},
    ),
    "cohorts-of-one-imputation-per-dose-onset": (
        TITEBOIN(target=0.2, n_doses=4, cohort_size=1, n_cohorts=36, method="imputation"),
        (0.1, 0.15, 0.2, 0.3),
        {"dlt_onset": DLTOnset("weibull-per-dose")},
    ),
    "eliminations": (
        TITEBOIN(target=0.25, n_doses=5, cohort_size=3, n_cohorts=12),
        (0.2, 0.35, 0.5, 0.6, 0.7),
        {},
    ),
}


def row_engine(
    plan: SimulationPlan,
    kernel: IntervalKernel,
    rules: TiteBoinKernel,
    draws: PatientDraws,
    outcome: ChunkOutcome,
) -> None:
    """The row-per-trial engine with TITE-BOIN's kernel, the reference (also of the events test)."""
    engine_module.run_event_driven_trials(plan, kernel, rules, draws, outcome)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("rate", [1.0, 4.0, 30.0])
def test_slot_by_trial_engine_gives_the_row_engine_trials(
    name: str, rate: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    design, truth, options = SCENARIOS[name]
    n_trials = 4_500  # three batches of TITE trials, the last one partial
    columns = simulate(
        design, truth, n_trials, seed=21, accrual_rate=rate, keep_trials=True, **options
    )
    monkeypatch.setattr(engine_module, "run_tite_boin_trials", row_engine)
    rows = simulate(
        design, truth, n_trials, seed=21, accrual_rate=rate, keep_trials=True, **options
    )
    assert columns == rows
    assert columns.trials is not None and columns.trials.equals(rows.trials)


def test_the_scenarios_reach_every_path() -> None:
    # a completed window that newly eliminates a dose (event skipping must stop there)
    reaches = [
        TiteBoinKernel(design, IntervalKernel(design, design.max_patients)).can_newly_eliminate
        for design, _, _ in SCENARIOS.values()
    ]
    assert any(reaches) and not all(reaches)
    # fast accrual with cohorts of one leaves 8 or more patients pending at once (numpy sums
    # 8 or more values pairwise: the imputation's sum must follow the row engine's)
    design, truth, options = SCENARIOS["cohorts-of-one-imputation-per-dose-onset"]
    result = simulate(design, truth, 200, seed=21, accrual_rate=30.0, keep_trials=True, **options)
    assert result.trials is not None
    start = result.trials.groupby("trial")["start_day"]
    within_window = start.transform(lambda days: days.rolling(9).apply(np.ptp) < 28.0)
    assert within_window.any()


def test_a_sum_over_the_outer_axis_adds_slot_after_slot() -> None:
    # the slot-by-trial engine's follow-up sums (STFT) rely on numpy reducing axis 0 of a
    # C-ordered (slots, trials) array one slot after the other, the order of sum_in_slot_order
    rng = np.random.default_rng(5)
    for slots in range(1, 40):
        values = rng.random((slots, 257)) * rng.integers(0, 2, (slots, 257)) / 28.0
        in_order = values[0].copy()
        for row in values[1:]:
            in_order += row
        assert np.array_equal(values.sum(axis=0), in_order)


def test_a_window_that_makes_elimination_fire_ends_the_wait() -> None:
    # The hand-built trial of test_simulation_tite_events (Beta(1, 1), target 0.2: 2 DLTs among
    # 3 completed patients give Pr(p > 0.2) = 0.9728 > 0.95), in the slot-by-trial layout.
    design = TITEBOIN(target=0.2, n_doses=3, cohort_size=1, n_cohorts=20)
    rules = TiteBoinColumns(TiteBoinKernel(design, IntervalKernel(design, 20)), 28.0)
    enrol = np.array([[0.0, 1.0, -8.0, -6.0, -4.0, -2.0, 0.0]]).T
    dlt_day = np.array([[5.0, 6.0, np.inf, np.inf, np.inf, np.inf, np.inf]]).T
    has_dlt = np.isfinite(dlt_day)
    n, dlt_all = np.array([[7], [0], [0]]), np.array([[2], [0], [0]])
    tail = _Tail(
        dose=np.zeros((7, 1), dtype=np.int8),
        enrol_day=enrol,
        resolve_day=np.where(has_dlt, dlt_day, enrol + 28.0),
        has_dlt=has_dlt,
        n=n,
        dlt_all=dlt_all,
        may_eliminate=rules.may_eliminate(n, dlt_all),
        treated=7,
    )
    current = np.array([0])
    following, suspended, seen = rules.decide(tail, np.array([10.0]), current)
    assert suspended.tolist() == [True]  # 5 of 7 pending, de-escalation impossible at dose 0
    # the first window closes on day 20 (3 completed, 2 DLTs: dose 0 eliminated, stop); the
    # pending share alone would wait for a second resolution (day 22)
    assert rules.resume_day(tail, seen, current, np.array([10.0])).tolist() == [20.0]
    following, suspended, _ = rules.decide(tail, np.array([20.0]), current)
    assert following.tolist() == [-1] and suspended.tolist() == [False]
