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


def test_kaplan_meier_summary_follows_r_survfit() -> None:
    # Deaths at days 1..10: R print(survfit(Surv(1:10, rep(1, 10)) ~ 1)) gives median 5.5
    # (S = 0.5 over [5, 6): quantile.survfit's midpoint), quartiles 3 and 8 (quantile.survfit).
    km = kaplan_meier(list(range(1, 11)), [1] * 10, "ten")
    assert (km.median_days, km.q25_days, km.q75_days) == (5.5, 3, 8)
    assert km.median_ci == "brookmeyer-crowley (log)"
    # everyone died by day 10: S = 0 from then on, so the 12-month rate is known to be 0
    assert km.rate_12m == 0.0
    # Times 3, 5, 5+, 8, 10, 12+, 15, 20+: product limit 7/8, 0.75, 0.6, 0.45, 0.225
    km = kaplan_meier([3, 5, 5, 8, 10, 12, 15, 20], [1, 1, 0, 1, 1, 0, 1, 0], "hand")
    line = km.timeline.set_index("day")
    for t, s in ((3, 7 / 8), (5, 0.75), (8, 0.6), (10, 0.45), (15, 0.225)):
        assert line.loc[t, "survival"] == pytest.approx(s)
    assert (km.n, km.events, km.median_days) == (8, 5, 10)
    assert km.censored_days == (5.0, 12.0, 20.0)


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
