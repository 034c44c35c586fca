"""Tumour regression-growth model: closed form vs the ODEs, nadir, event times, RECIST inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad, solve_ivp
from scipy.optimize import minimize_scalar

from cartrial.protocol import load_protocol
from cartrial.virtual import load_params, sample_population
from cartrial.virtual.tumour import (
    cumulative_relative_size,
    event_day,
    nadir_day,
    progression_day,
    relative_size,
)

rates = st.floats(1e-4, 0.08)

#: The study protocol's DLT window and RECIST minimum time to SD (days).
WINDOW = load_protocol().dlt.window_days
SD_MIN = load_protocol().recist.sd_min_days


@settings(max_examples=30, deadline=None)
@given(d=rates, g=rates)
def test_closed_form_solves_the_two_compartment_odes(d: float, g: float) -> None:
    # f = R + G - 1 with dR/dt = -d R, dG/dt = g G, R(0) = G(0) = 1 (Stein 2011 model).
    t_eval = np.linspace(0.0, 400.0, 41)
    sol = solve_ivp(
        lambda t, y: [-d * y[0], g * y[1]],
        (0.0, 400.0),
        [1.0, 1.0],
        t_eval=t_eval,
        rtol=1e-10,
        atol=1e-12,
    )
    np.testing.assert_allclose(relative_size(t_eval, d, g), sol.y[0] + sol.y[1] - 1.0, rtol=1e-7)


@settings(max_examples=30, deadline=None)
@given(d=rates, g=rates)
def test_nadir_is_the_analytic_minimum(d: float, g: float) -> None:
    t_star = float(nadir_day(d, g))
    if d <= g:
        assert t_star == 0.0
        return
    assert t_star == pytest.approx(np.log(d / g) / (d + g), rel=1e-12)
    found = minimize_scalar(
        lambda t: float(relative_size(t, d, g)),
        bounds=(0.0, 5.0 * t_star + 1.0),
        method="bounded",
        options={"xatol": 1e-8},
    )
    assert float(relative_size(t_star, d, g)) <= found.fun + 1e-12


@settings(max_examples=30, deadline=None)
@given(d=rates, g=rates, t=st.floats(0.0, 500.0))
def test_cumulative_size_is_the_integral(d: float, g: float, t: float) -> None:
    numeric, _ = quad(lambda s: float(relative_size(s, d, g)), 0.0, t)
    assert float(cumulative_relative_size(t, d, g)) == pytest.approx(numeric, rel=1e-7, abs=1e-9)


def test_event_day_inverts_the_cumulative_hazard() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    d, g = rng.uniform(0.001, 0.05, n), rng.uniform(0.001, 0.01, n)
    e = rng.standard_exponential(n)
    day = event_day(e, 0.003, d, g, 3650.0)
    finite = np.isfinite(day)
    np.testing.assert_allclose(
        0.003 * cumulative_relative_size(day[finite], d[finite], g[finite]), e[finite], rtol=1e-6
    )
    assert np.all(0.003 * cumulative_relative_size(3650.0, d[~finite], g[~finite]) < e[~finite])


def test_constant_size_gives_exponential_event_times() -> None:
    # d, g -> 0 makes f(t) ~ 1: the event time is Exp(rate), mean 1/rate.
    rng = np.random.default_rng(2)
    n = 40000
    e = rng.standard_exponential(n)
    day = event_day(e, 0.01, np.full(n, 1e-7), np.full(n, 1e-7), 1e6)
    assert day.mean() == pytest.approx(100.0, rel=0.02)


def test_progression_day_is_twenty_percent_above_the_nadir() -> None:
    d, g, sld0 = np.array([0.03, 0.001]), np.array([0.005, 0.006]), np.array([100.0, 40.0])
    day = progression_day(sld0, d, g, 3650.0)
    for i in range(2):
        t_star = float(nadir_day(d[i], g[i]))
        f_star = float(relative_size(t_star, d[i], g[i]))
        needed = max(1.2 * f_star, f_star + 5.0 / sld0[i])
        assert day[i] > t_star
        assert float(relative_size(day[i], d[i], g[i])) == pytest.approx(needed, rel=1e-6)
    assert np.isinf(progression_day(np.array([0.0]), d[:1], g[:1], 3650.0))[0]


def test_lesions_at_baseline_scan_and_measurement_rules() -> None:
    params = load_params()
    cohort = sample_population(300, 4).treat(2.5e8)
    tum = cohort.tumour
    scan = float(params.population.baseline_scan_day)
    np.testing.assert_allclose(tum.true_diameters(np.array([scan]))[:, 0, :], tum.baseline_mm)
    measured = tum.measured_diameters(np.array([42.0, 84.0, 168.0]), np.random.default_rng(0))
    assert np.all(measured[~np.broadcast_to(tum.present[:, None, :], measured.shape)] == 0.0)
    assert np.all(measured == np.rint(measured))
    nodes = np.broadcast_to(tum.is_lymph_node[:, None, :], measured.shape)
    assert np.all(measured[nodes] >= 1.0)


def test_true_best_response_is_the_nadir_of_the_model() -> None:
    cohort = sample_population(500, 31).treat(3.75e8)
    best_pct, category = cohort.true_best_response(SD_MIN)
    tum = cohort.tumour
    # A 1-day grid over ten years, then a 0.01-day grid around each patient's grid minimum.
    coarse = np.arange(0.0, 3650.0, 1.0)
    curve = relative_size(coarse[None, :], tum.d[:, None], tum.g[:, None])
    fine = coarse[curve.argmin(axis=1)][:, None] + np.linspace(-1.0, 1.0, 201)[None, :]
    curve = relative_size(np.maximum(fine, 0.0), tum.d[:, None], tum.g[:, None])
    scan = float(tum.baseline_scan_day)
    on_grid = 100.0 * (curve.min(axis=1) / relative_size(scan, tum.d, tum.g) - 1.0)
    has_target = tum.target.any(axis=1)
    np.testing.assert_allclose(best_pct[has_target], on_grid[has_target], atol=1e-3)
    assert set(category[~has_target]) <= {"NE"}
    # RECIST 1.1 (Eisenhauer 2009): PR needs at least a 30 % decrease from baseline.
    assert np.all(best_pct[category == "PR"] <= -30.0)
    assert {"PR", "SD", "PD"} <= set(category)


def test_higher_dose_never_shrinks_the_tumour_less() -> None:
    # Common random numbers: the regression rate grows with the CAR-T AUC (Emax), so each
    # patient's true best change is no worse at a higher dose.
    pop = sample_population(2000, 32)
    low, high = (
        pop.treat(1e8).true_best_response(SD_MIN)[0],
        pop.treat(5e8).true_best_response(SD_MIN)[0],
    )
    finite = np.isfinite(low)
    assert np.all(high[finite] <= low[finite] + 1e-9)
    assert np.mean(high[finite] < low[finite] - 1.0) > 0.5
