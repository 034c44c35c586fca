"""CRS/ICANS courses and the vitals that define them, cytopenias, DLT truth."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cartrial.protocol import load_protocol
from cartrial.virtual import sample_population
from cartrial.virtual.toxicity import (
    CONSCIOUSNESS,
    CRS_HYPOTENSION,
    CRS_OXYGEN,
    episode_grade,
    icans_findings,
)

DAYS = np.arange(0, 29)

#: The study protocol's DLT window and RECIST minimum time to SD (days).
WINDOW = load_protocol().dlt.window_days
SD_MIN = load_protocol().recist.sd_min_days


def test_episode_course_by_hand() -> None:
    # Grade 3, onset day 2, plateau 1: 1, 2, 3 (day 4), 2, 1, then 0 from day 7.
    grade = episode_grade(np.arange(10), np.array([2.0]), np.array([3]), np.array([1]))
    assert grade[0].tolist() == [0, 0, 1, 2, 3, 2, 1, 0, 0, 0]
    # Grade 4, onset 1, plateau 2.
    grade = episode_grade(np.arange(12), np.array([1.0]), np.array([4]), np.array([2]))
    assert grade[0].tolist() == [0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 0, 0]
    assert not episode_grade(DAYS, np.array([3.0]), np.array([0]), np.array([1])).any()


def _astct_crs(temp: float, hypotension: str, oxygen: str, after_toci: bool) -> int:
    """ASTCT 2019 CRS grade (cart-toxicity.md section 1, Lee 2019), independent of the model."""
    hypo = {"none": 0, "fluids": 2, "one_vasopressor": 3, "multiple_vasopressors": 4}[hypotension]
    oxy = {"none": 0, "low_flow": 2, "high_flow": 3, "positive_pressure": 4}[oxygen]
    # (the model's codes index CRS_HYPOTENSION / CRS_OXYGEN: names, then this table)
    worst = max(hypo, oxy)
    if temp >= 38.0:
        return max(worst, 1)
    return worst if after_toci else 0


def test_crs_vitals_reproduce_the_grade() -> None:
    cohort = sample_population(3000, 21).treat(5e8)
    obs = cohort.observe_crs(DAYS)
    toci = cohort.tocilizumab_day()
    grade = obs["grade"]
    assert grade.max() == 4
    for i, j in zip(*np.nonzero(grade >= 0), strict=True):
        if grade[i, j] == 0 and obs["temperature_c"][i, j] < 38.0:
            continue
        expected = _astct_crs(
            float(obs["temperature_c"][i, j]),
            CRS_HYPOTENSION[obs["hypotension"][i, j]],
            CRS_OXYGEN[obs["oxygen"][i, j]],
            bool(DAYS[j] > toci[i]),
        )
        assert expected == grade[i, j]
    low = obs["oxygen"] == "low_flow"
    assert np.all(obs["oxygen_l_min"][low] <= 6) and np.all(
        obs["oxygen_l_min"][obs["oxygen"] == "high_flow"] > 6
    )


def test_icans_findings_reproduce_the_grade() -> None:
    grade = np.array([[0, 1, 2, 3, 4]] * 200)
    found = icans_findings(grade, np.random.default_rng(0))
    ice = found["ice_score"]
    # ASTCT ICE bands (cart-toxicity.md section 2.2): 10 / 7-9 / 3-6 / 0-2 / not performable.
    assert np.all(ice[:, 0] == 10)
    assert np.all((ice[:, 1] >= 7) & (ice[:, 1] <= 9))
    assert np.all((ice[:, 2] >= 3) & (ice[:, 2] <= 6))
    assert np.all((ice[:, 3] >= 0) & (ice[:, 3] <= 2))
    assert np.all(ice[:, 4] == -1) and np.all(
        np.asarray(CONSCIOUSNESS)[found["consciousness"][:, 4]] == "unarousable"
    )


def test_grade3_plateaus_are_clearly_short_or_long() -> None:
    cohort = sample_population(20000, 8).treat(5e8)
    for ep in (cohort.crs, cohort.icans):
        plateau = ep.plateau_days[ep.max_grade >= 3]
        assert set(np.unique(plateau)) <= {1, 4, 5, 6}


def test_cytopenias_recover_or_stay_grade4_beyond_day_28() -> None:
    cohort = sample_population(5000, 9).treat(3.75e8)
    counts = cohort.cytopenias.values(np.array([21.0, 29.0, 35.0]))
    prolonged = cohort.cytopenias.prolonged
    assert prolonged.any()
    # CTCAE grade 4: ANC < 0.5, platelets < 25 x 10^9/L (ctcae-5.0.md section 2).
    assert np.all(counts[prolonged][:, 1:, 0] < 0.5)
    assert np.all(counts[prolonged][:, 1:, 1] < 25.0)
    # Ordinary recovery: ANC back above 1.0 by day 21 for every eligible patient (ANC >= 1.0).
    eligible = ~prolonged & (cohort.baseline.anc >= 1.0)
    assert np.all(counts[eligible][:, 0, 0] > 0.9)


def test_toxic_events_only_grow_with_dose() -> None:
    # Common random numbers: a patient with CRS, ICANS, gastric injury or prolonged cytopenia at a
    # dose has at least that grade at every higher dose.
    pop = sample_population(5000, 10)
    cohorts = [pop.treat(d) for d in (1e8, 2.5e8, 3.75e8, 5e8)]
    for low, high in itertools.pairwise(cohorts):
        assert np.all(high.crs.max_grade >= low.crs.max_grade)
        assert np.all(high.icans.max_grade >= low.icans.max_grade)
        assert np.all(high.gastric.grade >= low.gastric.grade)
        assert np.all(high.cytopenias.prolonged >= low.cytopenias.prolonged)
    rates = [np.isfinite(c.true_dlt_day(WINDOW)).mean() for c in cohorts]
    assert rates == sorted(rates)


def test_true_dlt_matches_its_definition() -> None:
    cohort = sample_population(3000, 12).treat(5e8)
    truth = cohort.truth(WINDOW, SD_MIN)
    crs_dlt = (cohort.crs.max_grade == 4) | (
        (cohort.crs.max_grade == 3) & (cohort.crs.plateau_days >= 4)
    )
    any_component = crs_dlt | (cohort.gastric.grade >= 3) | cohort.cytopenias.prolonged
    icans_dlt = (cohort.icans.max_grade == 4) | (
        (cohort.icans.max_grade == 3) & (cohort.icans.plateau_days >= 4)
    )
    any_component |= icans_dlt
    assert not np.any(truth["true_dlt"] & ~any_component)
    assert truth["true_dlt"].mean() == pytest.approx(any_component.mean(), abs=0.03)
