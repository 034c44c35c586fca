"""Bad input to the simulation engine is a clear DesignError (issue 4, "Bad input")."""

from __future__ import annotations

import numpy as np
import pytest

from cartrial.designs import BOIN, TITEBOIN
from cartrial.errors import DesignError
from cartrial.simulation import Accrual, DLTOnset, Expansion, simulate
from cartrial.simulation.kernels import IntervalKernel
from cartrial.simulation.streams import RNG_BLOCK_TRIALS, draw_patients

DESIGN = BOIN(target=0.3, n_doses=3, n_cohorts=4)


@pytest.mark.parametrize(
    ("truth", "match"),
    [
        ([0.1, 0.2, 1.5], r"\[0, 1\]"),
        ([-0.1, 0.2, 0.3], r"\[0, 1\]"),
        ([0.1, float("nan"), 0.3], r"\[0, 1\]"),
        ([0.1, 0.2], "3 doses"),
        ([], "non-empty"),
    ],
)
def test_bad_true_toxicity(truth: list[float], match: str) -> None:
    with pytest.raises(DesignError, match=match):
        simulate(DESIGN, truth, 10, seed=1)


@pytest.mark.parametrize("n_trials", [0, -5, 2.5, True])
def test_bad_number_of_trials(n_trials: object) -> None:
    with pytest.raises(DesignError, match="n_trials"):
        simulate(DESIGN, [0.1, 0.2, 0.3], n_trials, seed=1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"seed": -1}, "seed"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"dlt_window_days": 0.0}, "dlt_window_days"),
        ({"accrual_rate": 0.0}, "accrual rate"),
        ({"accrual_rate": 2.0, "accrual": "poisson"}, "accrual distribution"),
        ({"dlt_onset": "lognormal"}, "onset"),
        ({"backfill": -1}, "backfill"),
        ({"coherence": "sometimes"}, "coherence must be one of"),
        # BOIN has no last-cohort rule: only CRM / TITE-CRM decide take last_cohort
        ({"coherence": "last-cohort"}, "needs a design whose decide takes last_cohort"),
    ],
)
def test_bad_settings(settings: dict[str, object], match: str) -> None:
    kwargs: dict[str, object] = {"seed": 1} | settings
    with pytest.raises(DesignError, match=match):
        simulate(DESIGN, [0.1, 0.2, 0.3], 10, **kwargs)  # type: ignore[arg-type]


def test_count_rule_kernel_refuses_a_last_cohort() -> None:
    kernel = IntervalKernel(DESIGN, 12)
    n = np.array([[3, 0, 0]])
    with pytest.raises(DesignError, match="no last-cohort coherence rule"):
        kernel.decide(n, np.zeros_like(n), np.array([0]), last_dlts=np.array([1]))


def test_tite_design_needs_an_accrual_rate() -> None:
    with pytest.raises(DesignError, match="accrual_rate"):
        simulate(TITEBOIN(target=0.3, n_doses=3), [0.1, 0.2, 0.3], 10, seed=1)


def test_backfill_is_for_cohort_designs() -> None:
    with pytest.raises(DesignError, match="backfill"):
        simulate(
            TITEBOIN(target=0.3, n_doses=3), [0.1, 0.2, 0.3], 10, seed=1, accrual_rate=1, backfill=2
        )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_patients": 0}, "n_patients"),
        ({"n_patients": 10, "cohort_size": 11}, "cohort_size"),
        ({"n_patients": 10, "tox_limit": 1.2}, "tox_limit"),
        ({"n_patients": 10, "tox_threshold": 1.0}, "tox_threshold"),
        ({"n_patients": 10, "prior_a": 0.0}, "prior"),
    ],
)
def test_bad_expansion(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(DesignError, match=match):
        Expansion(**kwargs)  # type: ignore[arg-type]


def test_bad_onset_shape() -> None:
    with pytest.raises(DesignError, match="Weibull"):
        DLTOnset("weibull", shape=0.0)


def test_onset_and_accrual_transforms() -> None:
    u = np.linspace(0.0, 0.999, 50)
    # Uniform onset over a 28-day window is 28 u; truncated Weibull stays inside the window and
    # is increasing in u (inverse CDF).
    assert np.allclose(DLTOnset().times_days(u, 28.0), 28.0 * u)
    weibull = DLTOnset("weibull", shape=2.0, scale_fraction=0.5).times_days(u, 28.0)
    assert np.all(np.diff(weibull) > 0) and weibull.max() < 28.0
    # Exponential gaps have mean 1/rate months: the inverse CDF at u = 1 - e^-1 is the mean.
    gap = Accrual(2.0).gaps_days(np.array([1 - np.exp(-1.0)]))
    assert gap[0] == pytest.approx(365.25 / 12 / 2.0)
    assert Accrual(2.0, "uniform").gaps_days(np.array([0.5]))[0] == pytest.approx(365.25 / 12 / 2)


def test_draws_are_tied_to_trials_not_to_ranges() -> None:
    whole = draw_patients(5, 0, 3 * RNG_BLOCK_TRIALS, n_slots=4)
    tail = draw_patients(5, RNG_BLOCK_TRIALS, 2 * RNG_BLOCK_TRIALS + 10, n_slots=4)
    assert np.array_equal(whole.tox[RNG_BLOCK_TRIALS : 2 * RNG_BLOCK_TRIALS + 10], tail.tox)
    with pytest.raises(ValueError, match="multiple"):
        draw_patients(5, 7, 20, n_slots=4)


def test_expansion_monitoring_boundary_matches_reference_table() -> None:
    # Reference phase1-designs.md section 7.1 (Thall, Simon & Estey 1995 style), theta = 0.30,
    # c = 0.90, Beta(1, 1): smallest DLT count that stops at n = 3, 5, 10, 15, 20.
    spec = Expansion(n_patients=20, cohort_size=5, tox_limit=0.3, tox_threshold=0.9)
    expected = {3: 2, 5: 3, 10: 5, 15: 7, 20: 9}
    for n, first in expected.items():
        assert not spec.stops(n, first - 1)
        assert spec.stops(n, first)
    assert not Expansion(n_patients=20).stops(20, 20)  # no monitoring without tox_limit


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(TypeError, match="unknown simulation setting"):
        simulate(DESIGN, [0.1, 0.2, 0.3], 10, seed=1, dlt_window=28)  # type: ignore[call-arg]
