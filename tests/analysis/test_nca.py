"""One-profile NCA against exact trapezoid arithmetic following PKNCA's documented conventions.

PKNCA (Denney et al., J Pharmacokinet Pharmacodyn 2015; github.com/billdenney/pknca,
``R/auc.R`` ``pk.calc.auxc``, ``R/cleaners.R`` ``clean.conc.blq``): linear and
"lin up/log down" trapezoids, AUClast to Tlast, AUCall to the last sample with a linear segment
from Tlast to the following zero, BLQ first = keep (0), middle = drop, last = keep (0).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cartrial.analysis.nca import auc, clean_blq, nca_many, nca_profile
from cartrial.errors import AnalysisError


def _lin(t1: float, c1: float, t2: float, c2: float) -> float:
    return (t2 - t1) * (c1 + c2) / 2


def _log(t1: float, c1: float, t2: float, c2: float) -> float:
    return (t2 - t1) * (c1 - c2) / math.log(c1 / c2)


# Day 0 BLQ, rise to 1000 at day 7, fall, an embedded BLQ at day 21 (dropped), 100 at day 28,
# 20 at day 56, BLQ at day 91 (trailing: kept as 0 for AUCall).
TIMES = [0, 1, 7, 14, 21, 28, 56, 91]
LEVELS = [np.nan, 100, 1000, 400, np.nan, 100, 20, np.nan]
BLQ = [True, False, False, False, True, False, False, True]


def test_blq_rules_follow_pknca_defaults() -> None:
    t, c = clean_blq(TIMES, LEVELS, BLQ)
    assert t.tolist() == [0, 1, 7, 14, 28, 56, 91]  # embedded day-21 BLQ dropped
    assert c.tolist() == [0, 100, 1000, 400, 100, 20, 0]  # leading and trailing BLQ = 0
    # not sampled at day 0: the level 0 at day 0 is added (no CAR-T before the infusion)
    t, c = clean_blq([3, 7], [10, 5], [False, False])
    assert (t.tolist(), c.tolist()) == ([0, 3, 7], [0, 10, 5])


def test_parameters_by_both_methods() -> None:
    # PKNCA: pk.calc.auc(conc, time, interval = c(0, Inf), method = "lin up/log down",
    #                    auc.type = "AUClast")  and the same with method = "linear" / "AUCall".
    result = nca_profile(TIMES, LEVELS, BLQ, end=28)
    rising = _lin(0, 0, 1, 100) + _lin(1, 100, 7, 1000)
    log_fall = _log(7, 1000, 14, 400) + _log(14, 400, 28, 100) + _log(28, 100, 56, 20)
    lin_fall = _lin(7, 1000, 14, 400) + _lin(14, 400, 28, 100) + _lin(28, 100, 56, 20)
    assert (result.cmax, result.tmax, result.clast, result.tlast) == (1000, 7, 20, 56)
    assert result.auc_last == pytest.approx(rising + log_fall)
    assert result.auc_last_linear == pytest.approx(rising + lin_fall)
    tail = _lin(56, 20, 91, 0)  # Tlast to the next (zero) sample: always linear
    assert result.auc_all == pytest.approx(rising + log_fall + tail)
    assert result.auc_all_linear == pytest.approx(rising + lin_fall + tail)
    # AUC0-28: the day-28 sample closes the interval
    assert result.auc_0_end == pytest.approx(
        rising + _log(7, 1000, 14, 400) + _log(14, 400, 28, 100)
    )
    assert result.auc_0_end_linear == pytest.approx(
        rising + _lin(7, 1000, 14, 400) + _lin(14, 400, 28, 100)
    )


def test_interval_end_between_samples_is_interpolated_by_the_segment_rule() -> None:
    # PKNCA interp.extrap.conc: falling segment 14 -> 35 (400 -> 50); level at 28 by log
    # interpolation 400 * (50/400)^((28-14)/21), by linear interpolation 400 + (14/21)(50 - 400).
    t, c, blq = [0, 7, 14, 35], [0, 1000, 400, 50], [True, False, False, False]
    result = nca_profile(t, c, blq, end=28)
    log_level = 400 * (50 / 400) ** (14 / 21)
    lin_level = 400 + (14 / 21) * (50 - 400)
    assert result.auc_0_end == pytest.approx(
        _lin(0, 0, 7, 1000) + _log(7, 1000, 14, 400) + _log(14, 400, 28, log_level)
    )
    assert result.auc_0_end_linear == pytest.approx(
        _lin(0, 0, 7, 1000) + _lin(7, 1000, 14, 400) + _lin(14, 400, 28, lin_level)
    )


def test_not_sampled_through_the_interval_or_nothing_quantifiable_is_ne() -> None:
    short = nca_profile([0, 7, 14], [0, 100, 50], [True, False, False], end=28)
    assert math.isnan(short.auc_0_end) and short.auc_last > 0
    nothing = nca_profile([0, 7], [np.nan, np.nan], [True, True])
    assert math.isnan(nothing.cmax) and math.isnan(nothing.auc_last)


def test_auc_rejects_an_unknown_method() -> None:
    with pytest.raises(AnalysisError, match="AUC method"):
        auc([0, 1], [0, 1], method="spline")  # type: ignore[arg-type]


def test_vectorised_nca_equals_the_one_profile_rules() -> None:
    # nca_many (all profiles at once) against nca_profile (one at a time) on random profiles with
    # leading, embedded and trailing BLQ samples, unsampled day 0 and short follow-up.
    rng = np.random.default_rng(7)
    rows = []
    for subject in range(60):
        days = np.sort(rng.choice([0, 1, 4, 7, 10, 14, 21, 28, 35, 56, 91], rng.integers(2, 10),
                                  replace=False))  # fmt: skip
        levels = rng.lognormal(4, 1.5, days.size)
        blq = rng.random(days.size) < 0.3
        rows += [(f"S{subject}", d, v, b) for d, v, b in zip(days, levels, blq, strict=True)]
    samples = pd.DataFrame(rows, columns=["subject_id", "day", "value", "blq"])
    many = nca_many(samples, ["subject_id"], end=28)
    for subject, profile in samples.groupby("subject_id"):
        one = nca_profile(profile["day"], profile["value"], profile["blq"], end=28)
        got = many.loc[subject]
        for name in ("cmax", "tmax", "clast", "tlast", "auc_last", "auc_all", "auc_0_end",
                     "auc_last_linear", "auc_all_linear", "auc_0_end_linear"):  # fmt: skip
            expected = getattr(one, name)
            if math.isnan(expected):
                assert math.isnan(got[name]), (subject, name)
            else:
                assert got[name] == pytest.approx(expected, rel=1e-12), (subject, name)


def test_no_sample_at_all_gives_an_empty_table() -> None:
    empty = pd.DataFrame({"subject_id": [], "day": [], "value": [], "blq": []})
    assert nca_many(empty, ["subject_id"]).empty
