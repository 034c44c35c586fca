"""Properties over random scenarios (hypothesis): the engine always equals the reference loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartrial.designs import BOIN, ThreePlusThree
from cartrial.errors import DesignError
from cartrial.simulation import DLTOnset, simulate
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


def test_weibull_per_dose_onset_matches_titegboin_gen_tite() -> None:
    # TITEgBOIN gen.tite (cran/TITEgBOIN R/get_oc_TITE_QuasiBOIN.R): pihalft = (1 - alpha1) pi,
    # alpha = log(log(1 - pi) / log(1 - pihalft)) / log(1 / (1 - alpha2)),
    # lambda = -log(1 - pi) / Tobs^alpha, t = (-log(U) / lambda)^(1 / alpha), DLT if t <= Tobs.
    onset = DLTOnset("weibull-per-dose", late_share=0.5, late_window=0.5)
    for p in (0.05, 0.3, 0.6):
        alpha = math.log(math.log(1 - p) / math.log(1 - 0.5 * p)) / math.log(2)
        assert onset.shapes(p) == pytest.approx(alpha, rel=1e-12)
        # TITEgBOIN's time T with survival exp(-lambda t^alpha): given T <= W, its CDF at t is
        # (1 - exp(-lambda t^alpha)) / p; half of the DLTs fall in the second half-window.
        lam = -math.log(1 - p) / 28.0**alpha
        t = float(onset.times_days(np.array([0.5]), 28.0, p)[0])
        assert t == pytest.approx(14.0, rel=1e-9)
        for u in (0.1, 0.7, 0.95):
            t = float(onset.times_days(np.array([u]), 28.0, p)[0])
            assert (1 - math.exp(-lam * t**alpha)) / p == pytest.approx(u, rel=1e-9)
    with pytest.raises(DesignError):
        onset.times_days(np.array([0.5]), 28.0)
