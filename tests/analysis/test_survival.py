"""Kaplan–Meier against a product-limit example worked by hand, and PFS/OS/DOR censoring rules."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from cartrial.analysis import TrialData
from cartrial.analysis.response import best_overall_response
from cartrial.analysis.settings import AnalysisSettings
from cartrial.analysis.survival import kaplan_meier, time_to_event

from .trial_builder import day

Z = 1.959963984540054  # standard normal 97.5% quantile


def _loglog_band(survival: float, greenwood_sum: float) -> tuple[float, float]:
    """Exponential Greenwood (log(-log)) pointwise 95% band (Kalbfleisch & Prentice 1980)."""
    spread = Z * math.sqrt(greenwood_sum / math.log(survival) ** 2)
    return survival ** math.exp(spread), survival ** math.exp(-spread)


def test_kaplan_meier_matches_the_product_limit_worked_by_hand() -> None:
    # Times 3, 5, 5+, 8, 10, 12+, 15, 20+ (+ = censored). Product-limit steps:
    #   t=3  at risk 8, 1 death: S = 7/8                 = 0.875   Greenwood term 1/(8*7)
    #   t=5  at risk 7, 1 death: S = 0.875 * 6/7         = 0.75    term 1/(7*6)
    #   t=8  at risk 5, 1 death: S = 0.75 * 4/5          = 0.6     term 1/(5*4)
    #   t=10 at risk 4, 1 death: S = 0.6 * 3/4           = 0.45    term 1/(4*3)
    #   t=15 at risk 2, 1 death: S = 0.45 * 1/2          = 0.225   term 1/(2*1)
    # Median = first time S <= 0.5 -> 10. CI of the median (Brookmeyer-Crowley on the log-log
    # band): lower limit = first time the lower band <= 0.5, upper limit = first time the upper
    # band <= 0.5.
    steps = [(3, 7 / 8, 1 / 56), (5, 0.75, 1 / 42), (8, 0.6, 1 / 20), (10, 0.45, 1 / 12),
             (15, 0.225, 1 / 2)]  # fmt: skip
    bands, running = [], 0.0
    for t, s, term in steps:
        running += term
        bands.append((t, s, *_loglog_band(s, running)))
    lower_limit = min(t for t, _, lo, _ in bands if lo <= 0.5)
    upper_crossings = [t for t, _, _, hi in bands if hi <= 0.5]
    km = kaplan_meier([3, 5, 5, 8, 10, 12, 15, 20], [1, 1, 0, 1, 1, 0, 1, 0], "hand")
    assert km.median_days == 10
    assert km.median_lower_days == lower_limit == 3
    assert upper_crossings == []  # the upper band never reaches 0.5: upper limit not reached
    assert math.isnan(km.median_upper_days)
    line = km.timeline.set_index("day")
    for t, s, lo, hi in bands:
        assert line.loc[t, "survival"] == pytest.approx(s)
        assert line.loc[t, "lower"] == pytest.approx(lo, rel=1e-6)
        assert line.loc[t, "upper"] == pytest.approx(hi, rel=1e-6)
    assert (km.n, km.events) == (8, 5)
    assert km.censored_days == (5.0, 12.0, 20.0)


def test_kaplan_meier_median_upper_limit_by_hand() -> None:
    # Ten deaths at days 1..10, no censoring: S(t) = 1 - t/10; median = 5 (S = 0.5).
    # Greenwood sum at t: sum_{i<t} 1/((10-i)(9-i)) = t / (10 (10 - t)).
    km = kaplan_meier(list(range(1, 11)), [1] * 10, "ten")
    bands = {t: _loglog_band(1 - t / 10, t / (10 * (10 - t))) for t in range(1, 10)}
    assert km.median_days == 5
    assert km.median_lower_days == min(t for t, (lo, _) in bands.items() if lo <= 0.5)
    assert km.median_upper_days == min(t for t, (_, hi) in bands.items() if hi <= 0.5)
    # everyone died by day 10: S = 0 from then on, so the 12-month rate is known to be 0
    assert km.rate_12m == 0.0


def test_rate_after_the_last_event_is_known_only_when_the_curve_reached_zero() -> None:
    # All three die by day 90: S = 0 from day 90, so the 6-month (182.6-day) rate is 0, not NE.
    assert kaplan_meier([30, 60, 90], [1, 1, 1], "all dead").rate_6m == 0.0
    # Last subject censored at day 90: S(6 months) is unknown -> NE.
    assert math.isnan(kaplan_meier([30, 60, 90], [1, 1, 0], "censored").rate_6m)


def test_empty_curve_is_not_estimable() -> None:
    km = kaplan_meier([], [], "none")
    assert km.n == 0 and math.isnan(km.median_days) and km.at_risk[0] == 0


def test_pfs_os_dor_rules_on_the_hand_made_trial(
    trial: TrialData, settings: AnalysisSettings
) -> None:
    best = best_overall_response(trial, settings)
    tte = time_to_event(trial, settings, best).set_index("subject_id")
    # (pfs days, event) from trial_builder: S01 PD d126; S02 PD d84 (before death d150);
    # S03 death d35 with no missed scan (first scheduled scan day 42); S04 no PD, last CR d168;
    # S05 new therapy d60 -> censored at last adequate scan before it (d42); S06 no valid scan -> 0.
    expected = {"S01": (126, True), "S02": (84, True), "S03": (35, True), "S04": (168, False),
                "S05": (42, False), "S06": (0, False)}  # fmt: skip
    for subject, (days, event) in expected.items():
        assert (tte.loc[subject, "pfs_days"], tte.loc[subject, "pfs_event"]) == (days, event)
    assert tte.loc["S05", "pfs_rule"] == "censored: new anticancer therapy"
    # OS: deaths S02 d150, S03 d35; others censored at last contact (S04 d280, S01 d300).
    assert tte.loc["S02", ["os_days", "os_event"]].tolist() == [150, True]
    assert tte.loc["S01", ["os_days", "os_event"]].tolist() == [300, False]
    # DOR: S01 PR first recorded d42, PD d126 -> 84 days, event; S04 CR d42, censored d168 -> 126.
    assert tte.loc["S01", ["dor_days", "dor_event"]].tolist() == [84, True]
    assert tte.loc["S04", ["dor_days", "dor_event"]].tolist() == [126, False]
    assert math.isnan(tte.loc["S02", "dor_days"])


def test_death_after_two_missed_scans_is_censored(
    trial: TrialData, settings: AnalysisSettings
) -> None:
    # RECIST reference E26 d: death after >= 2 missed scheduled assessments -> censored at the
    # last adequate assessment. S03 now dies on day 150 with no scan: the day-42 (window to 49),
    # day-84 (to 91) and day-126 (to 133) scans were missed -> censored at day 0.
    subjects = trial.subjects.copy()
    subjects.loc[subjects["subject_id"] == "S03", "death_date"] = day("S03", 150)
    changed = dataclasses.replace(trial, subjects=subjects)
    best = best_overall_response(changed, settings)
    row = time_to_event(changed, settings, best).set_index("subject_id").loc["S03"]
    assert (row["pfs_days"], bool(row["pfs_event"])) == (0, False)
    assert row["pfs_rule"] == "censored: event after two or more missed assessments"
    assert (row["os_days"], bool(row["os_event"])) == (150, True)


def test_events_after_the_cutoff_are_ignored(trial: TrialData, settings: AnalysisSettings) -> None:
    # Cut-off moved to S01's day 100: its PD (d126) is not yet known -> censored at the d84 scan.
    changed = dataclasses.replace(trial, data_cutoff=pd.Timestamp(day("S01", 100)))
    best = best_overall_response(changed, settings)
    row = time_to_event(changed, settings, best).set_index("subject_id").loc["S01"]
    assert (row["pfs_days"], bool(row["pfs_event"])) == (84, False)


def test_os_without_last_contact_uses_the_last_assessment(
    trial: TrialData, settings: AnalysisSettings
) -> None:
    # S04 (alive) loses its last-contact date: censored at its last tumour assessment, day 168,
    # never at the data cut-off (that would invent follow-up).
    subjects = trial.subjects.copy()
    subjects.loc[subjects["subject_id"] == "S04", "last_contact_date"] = pd.NaT
    changed = dataclasses.replace(trial, subjects=subjects)
    row = (
        time_to_event(changed, settings, best_overall_response(changed, settings))
        .set_index("subject_id")
        .loc["S04"]
    )
    assert (row["os_days"], bool(row["os_event"])) == (168, False)
