"""Stein 2019 multiphasic kinetics: closed form, AUC, peak time and phase rates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from cartrial.virtual import load_params, sample_population
from cartrial.virtual.kinetics import stein_auc, stein_level, stein_memory_share

REFERENCE = Path(__file__).parents[1] / "reference" / "virtual" / "stein2019_typical.csv"
# Stein 2019 Table 1 typical values (see the reference file header).
TYPICAL = {
    "cmax": 24000.0,
    "tmax": 9.3,
    "fold_expansion": 3900.0,
    "alpha": 0.16,
    "fraction_memory": 0.0079,
    "beta": 0.0032,
}


def test_closed_form_reproduces_the_reference_levels() -> None:
    ref = pd.read_csv(REFERENCE, comment="#")
    got = stein_level(ref["day"].to_numpy(), **TYPICAL)
    np.testing.assert_allclose(got, ref["level_copies_ug"].to_numpy(), rtol=1e-3)


def test_analytic_auc_matches_the_reference_value() -> None:
    # cart-kinetics.md section 3 [calc]: AUC0-28 = 171774 (26986 expansion + 144788 decline).
    assert float(stein_auc(28.0, **TYPICAL)) == pytest.approx(171774.0, rel=2e-4)
    assert float(stein_auc(9.3, **TYPICAL)) == pytest.approx(26986.0, rel=2e-4)


@settings(max_examples=40, deadline=None)
@given(
    cmax=st.floats(10.0, 1e5),
    tmax=st.floats(2.0, 30.0),
    fx=st.floats(2.0, 1e4),
    alpha=st.floats(0.02, 1.0),
    fb=st.floats(1e-4, 0.5),
    t_end=st.floats(0.5, 400.0),
)
def test_analytic_auc_equals_numerical_integral(
    cmax: float, tmax: float, fx: float, alpha: float, fb: float, t_end: float
) -> None:
    beta = alpha / 10.0
    args = (cmax, tmax, fx, alpha, fb, beta)
    numeric, _ = quad(lambda t: float(stein_level(t, *args)), 0.0, t_end, points=[tmax], limit=200)
    assert float(stein_auc(t_end, *args)) == pytest.approx(numeric, rel=1e-6)


def test_peak_is_cmax_at_tmax_and_continuous() -> None:
    grid = np.linspace(0.0, 60.0, 60001)
    level = stein_level(grid, **TYPICAL)
    assert grid[np.argmax(level)] == pytest.approx(9.3, abs=1e-3)
    assert level.max() == pytest.approx(24000.0, rel=1e-9)
    assert float(stein_level(9.3 - 1e-9, **TYPICAL)) == pytest.approx(24000.0, rel=1e-6)


def test_phase_rates_are_the_exponential_rates() -> None:
    # Expansion: d ln C / dt = ln(foldx)/Tmax; contraction -> -alpha (FB tiny); terminal -> -beta.
    p = dict(TYPICAL, fraction_memory=1e-9)
    rho = np.log(3900.0) / 9.3
    c1, c2 = stein_level(np.array([2.0, 3.0]), **TYPICAL)
    assert np.log(c2 / c1) == pytest.approx(rho, rel=1e-9)
    c1, c2 = stein_level(np.array([12.0, 13.0]), **p)
    assert -np.log(c2 / c1) == pytest.approx(0.16, rel=1e-6)
    c1, c2 = stein_level(np.array([700.0, 701.0]), **TYPICAL)
    assert -np.log(c2 / c1) == pytest.approx(0.0032, rel=1e-3)


def test_memory_share_is_zero_before_tmax_and_tends_to_one() -> None:
    share = stein_memory_share(np.array([0.0, 9.0, 9.3, 30.0, 365.0]), 9.3, 0.16, 0.0079, 0.0032)
    assert share[0] == 0.0 and share[1] == 0.0 and share[2] == 0.0
    assert 0.0 < share[3] < share[4] <= 1.0
    assert share[4] > 0.99


def test_population_peaks_near_the_typical_tmax() -> None:
    # Log-normal IIV around the typical Tmax: the median individual Tmax (found on a fine grid)
    # is the typical value of params.yaml.
    params = load_params()
    cohort = sample_population(4000, 11).treat(2.5e8)
    grid = np.linspace(0.0, 45.0, 4501)
    level = cohort.kinetics.level(grid)
    observed_tmax = grid[np.argmax(level, axis=1)]
    assert np.median(observed_tmax) == pytest.approx(params.kinetics.tmax_days, rel=0.05)


def test_peak_scales_with_dose_as_the_power_law() -> None:
    params = load_params()
    pop = sample_population(200, 3)
    low, high = pop.treat(1e8), pop.treat(5e8)
    ratio = high.kinetics.cmax / low.kinetics.cmax
    np.testing.assert_allclose(ratio, 5.0**params.kinetics.dose_exponent, rtol=1e-12)
    # Everything that does not depend on the dose is identical (common random numbers).
    np.testing.assert_array_equal(low.kinetics.tmax, high.kinetics.tmax)


def test_observed_levels_respect_the_lloq() -> None:
    cohort = sample_population(500, 5).treat(2.5e8)
    copies, blq, cells, cells_blq = cohort.observe_kinetics(np.array([0.5, 7.0, 28.0, 365.0]))
    lloq = load_params().kinetics.lloq_copies_ug
    assert np.all(copies[blq] == 0.0) and np.all(copies[~blq] >= lloq)
    assert np.all(cells[cells_blq] == 0.0)
    # Early and late samples are mostly below the LLOQ, the day-7 samples mostly above it.
    assert blq[:, 1].mean() < 0.2 < blq[:, 3].mean()
