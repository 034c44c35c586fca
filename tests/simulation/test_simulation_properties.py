"""Properties over random scenarios (hypothesis): the engine always equals the reference loop."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cartrial.designs import BOIN, ThreePlusThree
from cartrial.simulation import simulate
from cartrial.simulation.engine import plan_simulation, simulate_range
from cartrial.simulation.reference import reference_trials

probabilities = st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3)


@settings(max_examples=15, deadline=None)
@given(truth=probabilities, seed=st.integers(0, 2**31), three_plus_three=st.booleans())
def test_engine_equals_reference_for_any_scenario(
    truth: list[float], seed: int, three_plus_three: bool
) -> None:
    design = ThreePlusThree(n_doses=3) if three_plus_three else BOIN(target=0.3, n_doses=3)
    plan = plan_simulation(design, truth, seed)
    expected = reference_trials(plan, 25)
    tally, _ = simulate_range(plan, 0, 25)
    chosen = [r.selected for r in expected]
    assert (
        tally.selected.tolist()
        == np.bincount([c for c in chosen if c is not None], minlength=3).tolist()
    )
    assert tally.patients.tolist() == np.sum([r.n for r in expected], axis=0).tolist()


@settings(max_examples=15, deadline=None)
@given(truth=probabilities, seed=st.integers(0, 2**31))
def test_percentages_and_counts_are_consistent(truth: list[float], seed: int) -> None:
    result = simulate(BOIN(target=0.3, n_doses=3, n_cohorts=5), truth, 200, seed=seed)
    assert abs(sum(result.selection_pct) + result.selection_none_pct - 100.0) < 1e-9
    assert all(0 <= d <= n for d, n in zip(result.mean_dlts, result.mean_patients, strict=True))
    assert result.mean_total_patients <= 15.0 + 1e-9
    assert 0.0 <= result.early_stop_pct <= result.selection_none_pct
