"""Kinetics NCA against hand-computed trapezoids, LLOQ handling and persistence."""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as settings_h
from hypothesis import strategies as st

from cartrial.analysis import TrialData
from cartrial.analysis.kinetics import kinetics_summary, nca, nca_table
from cartrial.analysis.settings import AnalysisSettings

from .trial_builder import day


def _lin(t1: float, c1: float, t2: float, c2: float) -> float:
    return (t2 - t1) * (c1 + c2) / 2


def _log(t1: float, c1: float, t2: float, c2: float) -> float:
    return (t2 - t1) * (c1 - c2) / math.log(c1 / c2)


@pytest.fixture(scope="module")
def parameters(trial: TrialData, settings: AnalysisSettings) -> pd.DataFrame:
    return nca(trial, settings).set_index("subject_id")


def test_reference_nca_case(trial: TrialData, parameters: pd.DataFrame) -> None:
    # tests/reference/analysis/nca_case.csv (cart-kinetics.md §2 "NCA test case"), the S01
    # samples of days 0-28: Cmax 15000 at day 7, AUC0-28 linear-up/log-down = 116431.0.
    # By hand: rising segments linear, falling ones logarithmic.
    case = pd.read_csv(
        Path(__file__).parents[1] / "reference" / "analysis" / "nca_case.csv", comment="#"
    )
    s01_samples = trial.kinetics.loc[
        (trial.kinetics["subject_id"] == "S01") & (trial.kinetics["day"] <= 28)
    ]
    assert s01_samples["value"].fillna(0).tolist() == case["level"].tolist()
    by_hand = (
        _lin(0, 0, 1, 50) + _lin(1, 50, 4, 2000) + _lin(4, 2000, 7, 15000)
        + _log(7, 15000, 10, 12000) + _log(10, 12000, 14, 4000) + _log(14, 4000, 21, 900)
        + _log(21, 900, 28, 300)
    )  # fmt: skip
    s01 = parameters.loc["S01"]
    assert by_hand == pytest.approx(116431.0, abs=0.1)
    assert s01["auc_0_28"] == pytest.approx(by_hand)
    assert (s01["cmax"], s01["tmax_day"]) == (15000, 7)
    # Clast/Tlast: last quantifiable sample, day 91 (120); the day-182 sample is below the LLOQ.
    assert (s01["clast"], s01["tlast_day"]) == (120, 91)
    assert (s01["persistence_m3"], s01["persistence_m6"], s01["persistence_m12"]) == (
        "detectable",
        "not detectable",
        "NE",
    )


def test_embedded_blq_is_excluded_and_leading_blq_is_zero(parameters: pd.DataFrame) -> None:
    # S02: day 0 BLQ (-> 0), 1: 20, 4: 500, 7: 400, 14: BLQ (embedded -> dropped), 21: 50, 28: 30.
    by_hand = (
        _lin(0, 0, 1, 20) + _lin(1, 20, 4, 500) + _log(4, 500, 7, 400) + _log(7, 400, 21, 50)
        + _log(21, 50, 28, 30)
    )  # fmt: skip
    assert parameters.loc["S02", "auc_0_28"] == pytest.approx(by_hand)
    assert parameters.loc["S02", "n_quantifiable"] == 5


def test_not_followed_to_day_28_and_all_below_lloq_are_ne(
    trial: TrialData, settings: AnalysisSettings, parameters: pd.DataFrame
) -> None:
    # S03 last sampled on day 14 -> AUC0-28 NE (not invented); Cmax still observed (80 at day 4).
    assert math.isnan(parameters.loc["S03", "auc_0_28"])
    assert (parameters.loc["S03", "cmax"], parameters.loc["S03", "tmax_day"]) == (80, 4)
    # S06: every sample below the LLOQ -> every parameter NE, said in words.
    assert parameters.loc["S06", ["cmax", "tmax_day", "clast", "auc_0_28"]].isna().all()
    notes = nca_table(trial, nca(trial, settings)).notes
    assert "1 subject(s) had every kinetics sample below the LLOQ (parameters NE): S06." in notes
    assert "1 subject(s) were not sampled through day 28 (AUC0–28d NE): S03." in notes


def test_curve_crossing_day_28_is_cut_there(trial: TrialData, settings: AnalysisSettings) -> None:
    # Only days 0 (BLQ), 14 (1000) and 42 (100) for S01: the segment 14 -> 42 falls, so the level
    # at day 28 is log-interpolated: 1000 * (100/1000)^(14/28) = 316.23, then integrated log-down.
    kin = trial.kinetics
    kept = kin.loc[(kin["subject_id"] != "S01") | kin["day"].isin([0, 14])].copy()
    extra = kept.loc[kept["subject_id"] == "S01"].iloc[[-1]].assign(day=42, value=100.0)
    kept.loc[(kept["subject_id"] == "S01") & (kept["day"] == 14), "value"] = 1000.0
    kept = pd.concat([kept, extra.assign(date=extra["date"] + pd.Timedelta(days=28))])
    changed = dataclasses.replace(trial, kinetics=kept)
    level_28 = 1000 * (100 / 1000) ** 0.5
    by_hand = _lin(0, 0, 14, 1000) + _log(14, 1000, 28, level_28)
    assert nca(changed, settings).set_index("subject_id").loc["S01", "auc_0_28"] == pytest.approx(
        by_hand
    )


def test_summary_geometric_means_by_dose(
    trial: TrialData, settings: AnalysisSettings, parameters: pd.DataFrame
) -> None:
    table = kinetics_summary(trial, settings, parameters.reset_index()).frame.set_index(
        "dose_level"
    )
    # DL1 Cmax: S01 15000, S02 500, S03 80 -> geometric mean (15000*500*80)^(1/3).
    assert table.loc["DL1", "cmax_geo_mean"] == pytest.approx((15000 * 500 * 80) ** (1 / 3))
    # DL2 AUC: S04 and S05 (S06 NE) -> n = 2.
    assert table.loc["DL2", "auc_0_28_n"] == 2
    # Persistence at month 3 (window from day 84): S01 and S04 detectable, S05 BLQ at day 91,
    # S02/S03 not sampled that late (NE) -> Total 2/3.
    assert table.loc["Total", "persistent_m3"] == "2/3"


@settings_h(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=11, max_value=1e6), min_size=7, max_size=7))
def test_log_down_never_exceeds_the_linear_trapezoid(
    trial: TrialData, settings: AnalysisSettings, levels: list[float]
) -> None:
    # Property of the log trapezoid: for a falling segment (C1 - C2)/ln(C1/C2) (the logarithmic
    # mean) is below (C1 + C2)/2 (the arithmetic mean), so AUC(lin-up/log-down) <= AUC(linear).
    days = [0, 1, 4, 7, 14, 21, 28]
    rows = [
        {"subject_id": "S01", "date": day("S01", d), "day": d, "value": v, "unit": "copies/ug gDNA",
         "lloq": 10.0, "below_lloq": False}
        for d, v in zip(days, levels, strict=True)
    ]  # fmt: skip
    changed = dataclasses.replace(trial, kinetics=pd.DataFrame(rows))
    auc = nca(changed, settings).set_index("subject_id").loc["S01", "auc_0_28"]
    linear = sum(
        _lin(t1, c1, t2, c2)
        for t1, c1, t2, c2 in zip(days, levels, days[1:], levels[1:], strict=False)
    )
    assert 0 < auc <= linear * (1 + 1e-12)
    if all(b >= a for a, b in itertools.pairwise(levels)):
        assert auc == pytest.approx(linear)
