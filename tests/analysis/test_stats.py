"""Exact binomial CIs against scipy, and the geometric summary against hand calculation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from cartrial.analysis.stats import clopper_pearson, geometric_summary, proportion
from cartrial.errors import AnalysisError


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=120).flatmap(
        lambda n: st.tuples(st.integers(0, n), st.just(n))
    )
)
def test_clopper_pearson_matches_scipy_exact_interval(case: tuple[int, int]) -> None:
    # Expected: scipy.stats.binomtest(x, n).proportion_ci(method="exact") (Clopper-Pearson).
    x, n = case
    expected = binomtest(x, n).proportion_ci(confidence_level=0.95, method="exact")
    lower, upper = clopper_pearson(x, n)
    assert float(lower) == pytest.approx(expected.low, abs=1e-10)
    assert float(upper) == pytest.approx(expected.high, abs=1e-10)


def test_clopper_pearson_vectorised_and_empty_denominator() -> None:
    lower, upper = clopper_pearson([0, 3, 0], [5, 10, 0])
    assert lower[0] == 0.0 and upper[2] != upper[2]  # n = 0 -> NaN, never an invented value
    assert math.isnan(lower[2])
    assert lower[1] == pytest.approx(binomtest(3, 10).proportion_ci(method="exact").low)


def test_proportion_formats_and_refuses_impossible_counts() -> None:
    # 2/5: scipy exact CI 0.0527-0.8534.
    assert proportion(2, 5).format() == "2/5 (40.0%; 95% CI 5.3–85.3)"
    assert proportion(0, 0).format() == "0/0 (NE: no subjects)"
    with pytest.raises(AnalysisError):
        clopper_pearson(6, 5)


def test_geometric_summary_by_hand() -> None:
    # ln 100, ln 1000, ln 10000: mean ln 1000 -> 1000; SD = ln 10 -> CV = sqrt(exp(ln(10)^2) - 1).
    summary = geometric_summary([100.0, 1000.0, 10000.0, np.nan, 0.0])
    assert summary.n == 3
    assert summary.geometric_mean == pytest.approx(1000.0)
    assert summary.geometric_cv_pct == pytest.approx(
        math.sqrt(math.exp(math.log(10) ** 2) - 1) * 100
    )
    assert math.isnan(geometric_summary([]).geometric_mean)
