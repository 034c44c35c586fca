"""Kaplan–Meier, quantiles and log-rank against R's ``survival`` package.

Reference values are R's printed output for the ``aml`` data (``survival`` package documentation
examples) or exact product-limit arithmetic following ``survfit`` / ``quantile.survfit`` /
``survdiff`` as documented in their source (github.com/therneau/survival, ``R/quantile.survfit.R``
``findq``; ``R/survfit.ci.R``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cartrial.analysis.km import (
    km_estimate,
    km_quantiles,
    log_rank,
    reverse_km_median_follow_up,
)
from cartrial.errors import AnalysisError

Z = 1.959963984540054
# aml (survival package): Maintained and Nonmaintained arms; status 1 = relapse, 0 = censored.
MAINTAINED = ([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161], [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
NONMAINTAINED = ([5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45], [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1])


def test_aml_maintained_matches_r_summary_survfit() -> None:
    # R: summary(survfit(Surv(time, status) ~ 1, data = subset(aml, x == "Maintained")))
    #  time n.risk n.event survival std.err lower 95% CI upper 95% CI
    #     9     11       1    0.909  0.0867       0.7541        1.000
    #    13     10       1    0.818  0.1163       0.6192        1.000
    #    18      8       1    0.716  0.1397       0.4884        1.000
    #    23      7       1    0.614  0.1526       0.3769        0.999
    #    31      5       1    0.491  0.1642       0.2549        0.946
    #    34      4       1    0.368  0.1627       0.1549        0.875
    #    48      2       1    0.184  0.1535       0.0359        0.944
    km = km_estimate(*MAINTAINED)  # conf_type="log", R's default
    rows = {t: i for i, t in enumerate(km.time)}
    expected = [
        (9, 11, 0.909, 0.0867, 0.7541, 1.000), (13, 10, 0.818, 0.1163, 0.6192, 1.000),
        (18, 8, 0.716, 0.1397, 0.4884, 1.000), (23, 7, 0.614, 0.1526, 0.3769, 0.999),
        (31, 5, 0.491, 0.1642, 0.2549, 0.946), (34, 4, 0.368, 0.1627, 0.1549, 0.875),
        (48, 2, 0.184, 0.1535, 0.0359, 0.944),
    ]  # fmt: skip
    for t, n_risk, surv, se, lower, upper in expected:
        i = rows[t]
        assert km.n_risk[i] == n_risk
        assert km.surv[i] == pytest.approx(surv, abs=5e-4)
        assert km.std_err_surv[i] == pytest.approx(se, abs=5e-5)
        assert km.lower[i] == pytest.approx(lower, abs=5e-5)
        assert km.upper[i] == pytest.approx(upper, abs=5e-4)
    # R: print(survfit(Surv(time, status) ~ x, data = aml)) -> Maintained: n 11, events 7,
    #    median 31, 0.95LCL 18, 0.95UCL NA; Nonmaintained: n 12, events 11, median 23, LCL 8, NA.
    median = km_quantiles(km, (0.5,))[0]
    assert (km.n, km.events, median.estimate, median.lower) == (11, 7, 31, 18)
    assert math.isnan(median.upper)
    other = km_quantiles(km_estimate(*NONMAINTAINED), (0.5,))[0]
    assert (other.estimate, other.lower) == (23, 8) and math.isnan(other.upper)


def test_median_is_the_midpoint_when_s_equals_one_half_over_an_interval() -> None:
    # 12 subjects; events at 50, 80, 100, 120, 140, 150 -> S(150) = 6/12 = 0.5 exactly, flat
    # until the next event at 210. R: quantile.survfit takes (150 + 210) / 2 = 180 (lifelines and
    # "first time S <= 0.5" give 150).
    times = [50, 80, 100, 120, 140, 150, 210, 240, 270, 300, 330, 360]
    events = [1] * 9 + [0] * 3
    assert km_quantiles(km_estimate(times, events), (0.5,))[0].estimate == 180
    # Flat at 0.5 until the end of follow-up: midpoint with the last time (R's "lastpt" rule):
    # events at 1, 2 then censored at 5, 6 -> S = 0.5 from 2 on -> (2 + 6) / 2 = 4.
    assert km_quantiles(km_estimate([1, 2, 5, 6], [1, 1, 0, 0]), (0.5,))[0].estimate == 4


def test_quartiles_of_ten_deaths() -> None:
    # Deaths at 1..10: 1 - S(t) = t/10. R quantile(survfit(Surv(1:10, rep(1, 10)) ~ 1)):
    # 25% -> first t with t/10 >= 0.25 = 3 (jump over); 50% -> flat at 0.5 over [5, 6) -> 5.5;
    # 75% -> 8.
    q25, q50, q75 = km_quantiles(km_estimate(range(1, 11), [1] * 10))
    assert (q25.estimate, q50.estimate, q75.estimate) == (3, 5.5, 8)


@pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
def test_pointwise_limits_follow_survfit_ci_formulas(conf_type: str) -> None:
    # Deaths at 1..10, t = 4: S = 0.6, Greenwood sum = sum_{i=0..3} 1/((10-i)(9-i)) = 4/60.
    # R survfit.ci: log exp(log S ± z se); log-log exp(-exp(log(-log S) ± z se / log S));
    # plain S ± z S se (se = sqrt(Greenwood sum), the std.err of the cumulative hazard).
    km = km_estimate(range(1, 11), [1] * 10, conf_type=conf_type)  # type: ignore[arg-type]
    s, se = 0.6, math.sqrt(4 / 60)
    i = int(np.flatnonzero(km.time == 4)[0])
    assert km.std_err[i] == pytest.approx(se)
    if conf_type == "log":
        lower, upper = math.exp(math.log(s) - Z * se), min(1.0, math.exp(math.log(s) + Z * se))
    elif conf_type == "log-log":
        lower = math.exp(-math.exp(math.log(-math.log(s)) - Z * se / math.log(s)))
        upper = math.exp(-math.exp(math.log(-math.log(s)) + Z * se / math.log(s)))
    else:
        lower, upper = s - Z * se * s, s + Z * se * s
    assert (km.lower[i], km.upper[i]) == pytest.approx((lower, upper))
    # S = 0 at t = 10: the limits are undefined (NA in R)
    assert math.isnan(km.lower[-1]) and math.isnan(km.upper[-1])


def test_median_ci_uses_the_chosen_transform() -> None:
    # The CI of the median applies quantile.survfit's rule to the lower and upper curves:
    # R quantile(survfit(Surv(1:10, rep(1,10)) ~ 1, conf.type = "plain"), 0.5). Exact check:
    km = km_estimate(range(1, 11), [1] * 10, conf_type="plain")
    lower_curve: dict[int, float] = {}
    upper_curve: dict[int, float] = {}
    for t in range(1, 10):
        lower_curve[t] = max(0.0, (1 - t / 10) * (1 - Z * math.sqrt(t / (10 * (10 - t)))))
        upper_curve[t] = min(1.0, (1 - t / 10) * (1 + Z * math.sqrt(t / (10 * (10 - t)))))
    median = km_quantiles(km, (0.5,))[0]
    assert median.lower == min(t for t, v in lower_curve.items() if v <= 0.5)
    assert median.upper == min(t for t, v in upper_curve.items() if v <= 0.5)


def test_reverse_km_median_follow_up_aml_maintained() -> None:
    # R: quantile(survfit(Surv(time, 1 - status) ~ 1, data = maintained), 0.5)
    # Censorings become events: 13 (10 at risk) -> 0.9; 28 (6 at risk) -> 0.75;
    # 45 (3 at risk) -> 0.5 exactly, flat until 161 -> midpoint (45 + 161) / 2 = 103.
    assert reverse_km_median_follow_up(*MAINTAINED).estimate == 103


def test_log_rank_aml_matches_survdiff() -> None:
    # R: survdiff(Surv(time, status) ~ x, data = aml)
    #                  N Observed Expected (O-E)^2/E (O-E)^2/V
    # x=Maintained    11        7    10.69      1.27       3.4
    # x=Nonmaintained 12       11     7.31      1.86       3.4
    #  Chisq= 3.4  on 1 degrees of freedom, p= 0.07   (3.396, p = 0.0653)
    times = MAINTAINED[0] + NONMAINTAINED[0]
    events = MAINTAINED[1] + NONMAINTAINED[1]
    groups = ["Maintained"] * 11 + ["Nonmaintained"] * 12
    test = log_rank(times, events, groups)
    assert test.groups == ("Maintained", "Nonmaintained")
    assert test.observed == (7, 11)
    assert test.expected == pytest.approx((10.69, 7.31), abs=5e-3)
    assert test.chisq == pytest.approx(3.396, abs=5e-4)
    assert test.p_value == pytest.approx(0.0653, abs=5e-4)
    assert test.df == 1


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(AnalysisError, match="conf_type"):
        km_estimate([1, 2], [1, 0], conf_type="arcsin")  # type: ignore[arg-type]
    with pytest.raises(AnalysisError, match="two groups"):
        log_rank([1, 2], [1, 1], ["a", "a"])
    with pytest.raises(AnalysisError, match="times"):
        km_estimate([1, -2], [1, 0])
