"""The complete operating characteristics: PCS, patients at/above the MTD, risks, Monte Carlo SEs.

Independent sources:

* R BOIN ``get.oc`` (cran/BOIN, R/get.oc.R) defines the risk of overdosing as
  ``mean(rowSums(N[, p.true > target]) > 0.6 * npts) * 100`` with ``npts = ncohort * cohortsize``
  (and 0.8 for ``overdose80``); the tests recompute it trial by trial from the kept dosing
  sequences, outside the engine's tally.
* Monte Carlo SEs are recomputed from the per-trial counts with numpy (``std(ddof=1)/sqrt(N)``)
  and the binomial formula ``sqrt(p (1 - p) / N)``.
* Exact enumeration of a one-dose 3+3 by hand (q = 1 - p).
* The risk of poor allocation is the reliability measure of Zhou, Yuan & Nie (2018), "Accuracy,
  safety, and reliability of novel phase I trial designs", Clin Cancer Res 24(18):4357-4364, as
  R BOIN ``get.oc`` (cran/BOIN, R/get.oc.R, versions 1.0-2.4) computes it:
  ``mean(N[, p.true == target] < npts / ndose) * 100``; the tests recompute it trial by trial.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cartrial.designs import BOIN, CRM, ThreePlusThree
from cartrial.errors import DesignError
from cartrial.simulation import simulate
from cartrial.simulation.exact import exact_operating_characteristics, exact_three_plus_three
from cartrial.simulation.mtd import MTDDefinition

TRUTH = (0.05, 0.10, 0.20, 0.30, 0.45)


def _per_trial(result, n_doses):  # type: ignore[no-untyped-def]
    rows = result.trials
    n = rows.pivot_table(index="trial", columns="dose", values="n", aggfunc="sum", fill_value=0)
    return n.reindex(columns=range(n_doses), fill_value=0).to_numpy()


def test_mtd_definition_closest_acceptable_and_above() -> None:
    closest = MTDDefinition(0.3)
    assert closest.correct(TRUTH).tolist() == [False, False, False, True, False]
    assert closest.above(TRUTH).tolist() == [False, False, False, False, True]
    # ties: 0.25 and 0.35 are both 0.05 from 0.3
    assert MTDDefinition(0.3).correct([0.1, 0.25, 0.35, 0.5]).tolist() == [0, 1, 1, 0]
    band = MTDDefinition(0.3, (0.16, 0.33))
    assert band.correct(TRUTH).tolist() == [False, False, True, True, False]
    assert band.above(TRUTH).tolist() == [False, False, False, False, True]
    assert not MTDDefinition(None).defined
    with pytest.raises(DesignError):
        MTDDefinition(0.3, (0.4, 0.2))


def test_overdosing_and_allocation_match_get_oc_definitions_trial_by_trial() -> None:
    design = BOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10)
    truth = (0.10, 0.30, 0.45, 0.60, 0.70)  # target at DL2: get.oc's p.true == target case
    result = simulate(design, truth, 4000, seed=3, keep_trials=True)
    n = _per_trial(result, 5)
    npts = 30  # ncohort * cohortsize
    above = np.asarray(truth) > 0.3
    expected60 = 100 * np.mean(n[:, above].sum(axis=1) > 0.6 * npts)
    expected80 = 100 * np.mean(n[:, above].sum(axis=1) > 0.8 * npts)
    assert result.overdose_pct == {0.6: pytest.approx(expected60), 0.8: pytest.approx(expected80)}
    assert expected60 > 0  # the scenario does overdose sometimes: the test can fail
    # npts / ndose = 30 / 5 = 6
    assert result.poor_allocation_pct == pytest.approx(100 * np.mean(n[:, 1] < 6))
    assert result.pct_patients_at_mtd == pytest.approx(100 * n[:, 1].sum() / n.sum())
    assert result.pct_patients_above_mtd == pytest.approx(100 * n[:, above].sum() / n.sum())
    assert result.correct_doses == (1,)
    assert result.pcs_pct == pytest.approx(result.selection_pct[1])


def test_poor_allocation_threshold_is_npts_over_ndose_as_get_oc() -> None:
    # 12 cohorts of 3 over 5 doses: npts / ndose = 36 / 5 = 7.2, so a trial with 6 patients at
    # the MTD is poorly allocated (a fixed "fewer than 6" would not count it).
    design = BOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=12)
    truth = (0.05, 0.12, 0.30, 0.45, 0.60)
    result = simulate(design, truth, 4000, seed=5, keep_trials=True)
    n = _per_trial(result, 5)
    expected = 100 * np.mean(n[:, 2] < 36 / 5)
    assert result.poor_allocation_n == pytest.approx(7.2)
    assert result.poor_allocation_pct == pytest.approx(expected)
    assert np.mean(n[:, 2] == 6) > 0  # trials with exactly 6 at the MTD: the threshold matters
    assert result.summary()["poor_allocation_n"] == pytest.approx(7.2)


def test_monte_carlo_standard_errors_match_numpy() -> None:
    design = CRM(target=0.3, n_doses=5, cohort_size=3, n_cohorts=8)
    result = simulate(design, TRUTH, 3000, seed=8, keep_trials=True)
    n = _per_trial(result, 5)
    sqrt_n = math.sqrt(3000)
    assert result.mean_patients_se == pytest.approx(tuple(n.std(axis=0, ddof=1) / sqrt_n))
    assert result.mean_total_patients_se == pytest.approx(n.sum(axis=1).std(ddof=1) / sqrt_n)
    p = np.asarray(result.selection_pct) / 100
    assert result.selection_se == pytest.approx(tuple(100 * np.sqrt(p * (1 - p) / 3000)))
    pcs = result.pcs_pct / 100
    assert result.pcs_se == pytest.approx(100 * math.sqrt(pcs * (1 - pcs) / 3000))


def test_acceptable_interval_counts_every_dose_inside_it() -> None:
    design = BOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10)
    result = simulate(design, TRUTH, 2000, seed=4, acceptable=(0.16, 0.33))
    assert result.correct_doses == (2, 3)
    assert result.pcs_pct == pytest.approx(result.selection_pct[2] + result.selection_pct[3])
    assert "[0.16, 0.33]" in result.settings["mtd_definition"]


def test_results_are_identical_for_every_chunk_size() -> None:
    design = BOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10)
    whole = simulate(design, TRUTH, 5000, seed=2, chunk_size=65_536)
    parts = simulate(design, TRUTH, 5000, seed=2, chunk_size=2048)
    assert whole == parts


def test_design_parameters_settings_and_version_are_echoed() -> None:
    design = BOIN(target=0.25, n_doses=4, cohort_size=3, n_cohorts=8, start=1, n_earlystop=9)
    labels = ("DL-1", "DL1", "DL2", "DL3")
    result = simulate(design, (0.05, 0.1, 0.25, 0.4), 500, seed=1, dose_labels=labels)
    params = result.design_parameters
    # Liu & Yuan (2015) boundaries by hand at target 0.25, p_saf 0.15, p_tox 0.35:
    # lambda_e = log(0.85/0.75) / log(0.25*0.85/(0.15*0.75)) = 0.12516/0.63599 = 0.1968
    # lambda_d = log(0.75/0.65) / log(0.35*0.75/(0.25*0.65)) = 0.14310/0.47957 = 0.2984
    assert (params["lambda_e"], params["lambda_d"]) == ("0.1968", "0.2984")
    assert params["start"] == "DL1" and params["n_earlystop"] == "9"
    assert params["max_patients"] == "24"
    payload = result.to_json()
    json.dumps(payload)  # JSON-ready
    assert [row["dose"] for row in payload["doses"]] == [*labels, "none"]  # type: ignore[index]
    assert payload["summary"]["software_version"]  # type: ignore[index]
    assert result.mean_duration_months is None  # instantaneous accrual: no duration
    frame = result.to_frame()
    assert frame.attrs["design_parameters"] == params and frame.attrs["settings"] == result.settings
    timed = simulate(design, (0.05, 0.1, 0.25, 0.4), 500, seed=1, accrual_rate=2.0)
    assert timed.mean_duration_months is not None and timed.mean_duration_months > 0


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_exact_poor_allocation_of_one_dose_matches_hand_calculation(p: float) -> None:
    # One dose, 3+3: a second cohort follows 0/3 or 1/3 (prob q^3 + 3 p q^2); otherwise only 3
    # patients are treated, i.e. fewer than 6 at the (only, hence true) MTD. 3+3 has no planned
    # maximum: npts / ndose with its ceiling of 6 patients per dose, 6.
    q = 1 - p
    result = exact_three_plus_three([p])
    assert result.mtd.target is None  # 3+3 has no target: no MTD, no PCS
    assert result.pcs_pct is None and result.poor_allocation_pct is None
    with_target = exact_operating_characteristics(ThreePlusThree(n_doses=1), [p], target=0.3)
    assert with_target.poor_allocation_pct == pytest.approx(100 * (1 - q**3 - 3 * p * q**2))
    assert with_target.overdose_pct == {0.6: 0.0, 0.8: 0.0}
