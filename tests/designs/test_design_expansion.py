"""Expansion rules against Simon (1989), reference boundary tables and independent calculations."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cartrial.designs.expansion import (
    monitoring_operating_characteristics,
    predictive_futility_boundary,
    predictive_probability,
    simon_design,
    simon_two_stage,
    toxicity_monitoring_boundary,
    toxicity_stop_count,
)
from cartrial.errors import DesignError

REFERENCE = Path(__file__).parents[1] / "reference" / "designs"
simon = cache(simon_two_stage)


@pytest.mark.parametrize(
    "row",
    pd.read_csv(REFERENCE / "tox_monitoring_boundaries.csv", comment="#").to_dict("records"),
)
def test_monitoring_boundaries_match_reference(row: dict[str, float]) -> None:
    # tox_monitoring_boundaries.csv: reference §7.1.
    table = toxicity_monitoring_boundary(
        row["limit"],
        row["threshold"],
        prior_a=row["prior_a"],
        prior_b=row["prior_b"],
        n_min=3,
        n_max=20,
    )
    assert table["stop_if_dlt_ge"].tolist() == [int(row[f"n{n}"]) for n in range(3, 21)]


def test_monitoring_boundary_posterior_probability() -> None:
    # 2 DLTs in 3 under Beta(1, 1): posterior Beta(3, 2), Pr(p > 0.3) = scipy beta.sf = 0.9163.
    table = toxicity_monitoring_boundary(0.3, 0.9, n_min=3, n_max=3)
    assert table.loc[0, "prob_above_limit"] == pytest.approx(stats.beta.sf(0.3, 3, 2))
    assert table.loc[0, "prob_above_limit"] == pytest.approx(0.9163, abs=1e-4)


def test_monitoring_operating_characteristics_against_brute_force() -> None:
    # Oracle: 200,000 simulated expansions checked at 5, 10, 15, 20 patients (numpy, seed 1).
    boundary = toxicity_monitoring_boundary(0.3, 0.9, n_max=20)
    looks = [5, 10, 15, 20]
    exact = monitoring_operating_characteristics(boundary, [0.15, 0.3, 0.45], looks)
    cut = dict(zip(boundary["n"], boundary["stop_if_dlt_ge"], strict=True))
    rng = np.random.default_rng(1)
    for rate, prob_stop, expected_n in exact.itertuples(index=False):
        dlts = np.cumsum(rng.random((200_000, 20)) < rate, axis=1)
        stopped = np.zeros(200_000, dtype=bool)
        size = np.full(200_000, 20.0)
        for k in looks:
            hit = ~stopped & (dlts[:, k - 1] >= cut[k])
            size[hit] = k
            stopped |= hit
        assert prob_stop == pytest.approx(stopped.mean(), abs=0.005)
        assert expected_n == pytest.approx(size.mean(), abs=0.05)


@pytest.mark.parametrize(
    "row", pd.read_csv(REFERENCE / "simon_designs.csv", comment="#").to_dict("records")
)
def test_simon_published_designs(row: dict[str, float]) -> None:
    # simon_designs.csv: Simon 1989 Table 1 via reference §7.2.
    result = simon(row["p0"], row["p1"], row["alpha"], row["beta"])
    design = result.optimal if row["design"] == "optimal" else result.minimax
    assert (design.r1, design.n1, design.r, design.n) == (
        row["r1"],
        row["n1"],
        row["r"],
        row["n"],
    )
    assert design.expected_n0 == pytest.approx(row["expected_n0"], abs=0.005)
    assert design.pet0 == pytest.approx(row["pet0"], abs=0.0005)


def test_simon_attained_error_rates() -> None:
    # Reference §7.2: optimal 0/9, 2/17 at p0 = 0.05, p1 = 0.25 -> alpha 0.0466, power 0.8122.
    optimal = simon(0.05, 0.25, 0.05, 0.2).optimal
    assert optimal.alpha == pytest.approx(0.0466, abs=1e-4)
    assert optimal.power == pytest.approx(0.8122, abs=1e-4)
    # Exact recomputation by a direct double sum with scipy.stats.binom.
    direct = sum(
        stats.binom.pmf(x1, 9, 0.05) * stats.binom.sf(2 - x1, 8, 0.05) for x1 in range(1, 10)
    )
    assert optimal.alpha == pytest.approx(direct)


def test_predictive_probability_lee_liu_example() -> None:
    # Lee & Liu, Clin Trials 2008;5:93-106, worked example: n_max = 40, p0 = 0.6, prior
    # Beta(0.6, 0.4), theta_T = 0.9, 16 responses in 23 patients -> PP = 0.5656.
    pp = predictive_probability(16, 23, 40, 0.6, theta_t=0.9, prior_a=0.6, prior_b=0.4)
    assert pp == pytest.approx(0.5656, abs=1e-4)


def test_predictive_probability_against_monte_carlo() -> None:
    # Oracle: draw p from the posterior, then the future responses, and count successes.
    rng = np.random.default_rng(7)
    p = rng.beta(1 + 4, 1 + 12 - 4, size=400_000)
    future = rng.binomial(20 - 12, p)
    success = stats.beta.sf(0.2, 1 + 4 + future, 1 + 20 - 4 - future) > 0.9
    pp = predictive_probability(4, 12, 20, 0.2, theta_t=0.9)
    assert pp == pytest.approx(success.mean(), abs=0.005)


def test_predictive_futility_boundary_is_consistent() -> None:
    table = predictive_futility_boundary(20, 0.2, theta_t=0.9, theta_l=0.05, n_min=5)
    for n, last in zip(table["n"], table["stop_if_responses_le"], strict=True):
        if last is pd.NA:
            assert predictive_probability(0, n, 20, 0.2) >= 0.05
            continue
        assert predictive_probability(int(last), n, 20, 0.2) < 0.05
        assert predictive_probability(int(last) + 1, n, 20, 0.2) >= 0.05


@pytest.mark.parametrize(
    "call",
    [
        lambda: simon_two_stage(0.3, 0.1),
        lambda: simon_two_stage(0.05, 0.25, n_max=10),
        lambda: toxicity_monitoring_boundary(1.3, 0.9),
        lambda: predictive_probability(5, 3, 20, 0.2),
        lambda: toxicity_monitoring_boundary(0.3, 0.9, prior_a=0.0),
        lambda: monitoring_operating_characteristics(
            toxicity_monitoring_boundary(0.3, 0.9), [1.5], [5, 10]
        ),
        lambda: monitoring_operating_characteristics(
            toxicity_monitoring_boundary(0.3, 0.9), [0.3], [10, 5]
        ),
    ],
)
def test_bad_input(call: object) -> None:
    with pytest.raises(DesignError):
        call()  # type: ignore[operator]


def test_monitoring_operating_characteristics_at_the_extremes() -> None:
    # Exact by logic: with no DLTs the rule never stops (20 patients); with DLTs in everyone it
    # stops at the first look (5 patients, 5 >= 3 DLTs crosses the n = 5 boundary).
    boundary = toxicity_monitoring_boundary(0.3, 0.9, n_max=20)
    oc = monitoring_operating_characteristics(boundary, [0.0, 1.0], [5, 10, 15, 20])
    assert oc["prob_stop"].tolist() == pytest.approx([0.0, 1.0])
    assert oc["expected_n"].tolist() == pytest.approx([20.0, 5.0])


@pytest.mark.parametrize(
    "row",
    pd.read_csv(REFERENCE / "tox_monitoring_boundaries.csv", comment="#").to_dict("records"),
)
def test_stop_count_is_the_reference_boundary_row(row: dict[str, float]) -> None:
    # The one place the expansion's toxicity rule becomes a number: the reference table's row n,
    # None below min_subjects (tox_monitoring_boundaries.csv: reference §7.1).
    rule = {"prior_a": row["prior_a"], "prior_b": row["prior_b"], "min_subjects": 3}
    assert toxicity_stop_count(2, row["limit"], row["threshold"], **rule) is None
    for n in range(3, 21):
        assert toxicity_stop_count(n, row["limit"], row["threshold"], **rule) == int(row[f"n{n}"])


def test_simon_design_picks_the_protocol_method() -> None:
    # Simon (1989) Table 1 (simon_designs.csv), p0 0.1 vs p1 0.3, alpha 0.05, beta 0.2:
    # optimal r1/n1 1/10, r/n 5/29; minimax 1/15, 5/25.
    optimal = simon_design("simon-optimal", 0.1, 0.3, 0.05, 0.2)
    minimax = simon_design("simon-minimax", 0.1, 0.3, 0.05, 0.2)
    assert optimal is not None and (optimal.r1, optimal.n1, optimal.r, optimal.n) == (1, 10, 5, 29)
    assert minimax is not None and (minimax.r1, minimax.n1, minimax.r, minimax.n) == (1, 15, 5, 25)
    assert simon_design("predictive-probability", 0.1, 0.3, 0.05, 0.2) is None
