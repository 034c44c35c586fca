"""Exact 3+3 operating characteristics: a hand calculation and brute-force simulation."""

from __future__ import annotations

import math

import pytest

from cartrial.designs import BOIN, TITEBOIN, ThreePlusThree
from cartrial.errors import DesignError
from cartrial.simulation import simulate
from cartrial.simulation.exact import exact_operating_characteristics, exact_three_plus_three

MONTH_DAYS = 365.25 / 12


@pytest.mark.parametrize("p", [0.0, 0.1, 0.2, 0.35, 1.0])
def test_one_dose_matches_hand_calculation(p: float) -> None:
    # One dose, 3+3 with expansion of the top dose to six (hand enumeration, q = 1 - p):
    #   0/3 then <= 1/3 more, or 1/3 then 0/3 more -> selected: q^3 (q^3 + 3pq^2) + 3pq^2 q^3
    #   = q^6 + 6 p q^5; a second cohort is treated after 0/3 or 1/3: N = 3 + 3 (q^3 + 3 p q^2).
    q = 1 - p
    result = exact_three_plus_three([p])
    assert result.selection_pct[0] == pytest.approx(100 * (q**6 + 6 * p * q**5), abs=1e-12)
    assert result.selection_none_pct == pytest.approx(100 * (1 - q**6 - 6 * p * q**5), abs=1e-12)
    expected_n = 3 + 3 * (q**3 + 3 * p * q**2)
    assert result.mean_patients[0] == pytest.approx(expected_n, abs=1e-12)
    assert result.mean_dlts[0] == pytest.approx(p * expected_n, abs=1e-12)
    assert result.mean_duration_months is None  # instantaneous accrual: no time scale


@pytest.mark.parametrize("deescalation", [True, False])
def test_two_doses_match_hand_calculation(deescalation: bool) -> None:
    # Two doses, hand enumeration of the 3+3 rules (q = 1 - p):
    #   dose 1 clears with 0/3 (q1^3) or 1/3 then 0/3 (3 p1 q1^2 * q1^3);
    #   dose 2 is then declared after expansion to six with the one-dose probability
    #   top = q2^6 + 6 p2 q2^5, and exceeds the MTD otherwise.
    #   When dose 2 exceeds: without de-escalation dose 1 is the MTD as treated; with
    #   de-escalation a dose 1 that had only 0/3 gets three more and must stay <= 1/6 (0 or 1 DLT
    #   among the three: q1^3 + 3 p1 q1^2).
    p1, p2 = 0.1, 0.4
    q1, q2 = 1 - p1, 1 - p2
    clear_03 = q1**3
    clear_16 = 3 * p1 * q1**2 * q1**3
    top = q2**6 + 6 * p2 * q2**5
    if deescalation:
        p_select_1 = (clear_03 * (q1**3 + 3 * p1 * q1**2) + clear_16) * (1 - top)
    else:
        p_select_1 = (clear_03 + clear_16) * (1 - top)
    result = exact_three_plus_three([p1, p2], deescalation=deescalation)
    assert result.selection_pct[1] == pytest.approx(100 * (clear_03 + clear_16) * top, abs=1e-12)
    assert result.selection_pct[0] == pytest.approx(100 * p_select_1, abs=1e-12)


def test_exact_agrees_with_brute_force_simulation() -> None:
    truth = [0.05, 0.10, 0.20, 0.30, 0.45]
    exact = exact_three_plus_three(truth)
    n_trials = 40_000
    mc = simulate(ThreePlusThree(n_doses=5), truth, n_trials, seed=2024)
    for e, m in zip(
        (*exact.selection_pct, exact.selection_none_pct),
        (*mc.selection_pct, mc.selection_none_pct),
        strict=True,
    ):
        # 4 binomial standard errors of a Monte Carlo percentage
        se = 100 * math.sqrt(max(e / 100 * (1 - e / 100), 1e-4) / n_trials)
        assert abs(e - m) < 4 * se
    for e, m in zip(exact.mean_patients, mc.mean_patients, strict=True):
        assert abs(e - m) < 0.05  # SD of patients per dose <= 3, SE <= 3/sqrt(40000) = 0.015
    assert sum(exact.selection_pct) + exact.selection_none_pct == pytest.approx(100.0)


def test_exact_enumeration_of_a_short_boin_agrees_with_simulation() -> None:
    design = BOIN(target=0.3, n_doses=3, n_cohorts=4)
    truth = [0.1, 0.3, 0.5]
    exact = exact_operating_characteristics(design, truth)
    mc = simulate(design, truth, 40_000, seed=8)
    for e, m in zip(exact.selection_pct, mc.selection_pct, strict=True):
        assert abs(e - m) < 4 * 100 * math.sqrt(0.25 / 40_000)
    assert exact.mean_total_patients == pytest.approx(12.0, abs=0.2)


def test_exact_rejects_bad_input() -> None:
    with pytest.raises(DesignError, match="true_tox"):
        exact_three_plus_three([0.1, 1.2])
    with pytest.raises(DesignError, match="time-to-event"):
        exact_operating_characteristics(TITEBOIN(target=0.3, n_doses=2), [0.1, 0.2])
    with pytest.raises(DesignError, match="states"):
        exact_operating_characteristics(BOIN(target=0.3, n_doses=5), [0.3] * 5, max_states=10)
