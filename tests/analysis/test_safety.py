"""Safety tables cross-checked against the rows of ``trial_builder`` (subjects, not events)."""

from __future__ import annotations

import pandas as pd

from cartrial.analysis import TrialData
from cartrial.analysis.crs_icans import crs_icans_by_subject, crs_icans_summary
from cartrial.analysis.safety import (
    ae_incidence,
    ae_overview,
    ae_worst_grade,
    deaths,
    dlt_by_dose,
    lab_shift,
    treatment_emergent_aes,
)
from cartrial.analysis.settings import AnalysisSettings

# Safety population: S01-S06 (S07 never infused): DL1 = S01-S03 (N=3), DL2 = S04-S06 (N=3).
DL1, DL2, TOTAL = "DL1 (N=3) n", "DL2 (N=3) n", "Total (N=6) n"


def test_treatment_emergence_window(trial: TrialData) -> None:
    te = treatment_emergent_aes(trial)
    # S01 nausea on day -3 is after lymphodepletion (day -5): counted; S06 nausea day -10 is not;
    # S07 (never infused) is not in the safety population.
    assert set(te["subject_id"]) == {"S01", "S02", "S03", "S04"}
    assert len(te) == 10


def test_overview_counts_subjects(trial: TrialData, settings: AnalysisSettings) -> None:
    frame = ae_overview(trial, settings).frame.set_index("category")
    expected = {
        "Any treatment-emergent AE": (3, 1, 4),  # S01 S02 S03 | S04
        "Grade ≥ 3 AE": (3, 0, 3),  # S01 neutrophils 4, S02 CRS 3, S03 anaemia 3
        "Serious AE": (2, 1, 3),  # S02, S03 | S04 ICANS
        "Related AE (at least possibly)": (2, 1, 3),  # S01, S02 | S04
        "Related grade ≥ 3 AE": (2, 0, 2),
        "Grade 5 AE (fatal)": (0, 0, 0),
        "Dose-limiting toxicity": (1, 0, 1),  # S02 CRS
        "Death (any cause)": (2, 0, 2),  # S02 d150, S03 d35
    }
    for category, counts in expected.items():
        assert tuple(frame.loc[category, [DL1, DL2, TOTAL]]) == counts
    assert frame.loc["Grade ≥ 3 AE", "Total (N=6) %"] == 50.0


def test_soc_term_incidence_counts_a_subject_once(
    trial: TrialData, settings: AnalysisSettings
) -> None:
    frame = ae_incidence(trial, settings).frame.set_index(["soc", "term"])
    # Nausea: S01 twice (days -3, 10) and S03 once -> 2 subjects, not 3 events.
    assert frame.loc[("Gastrointestinal disorders", "Nausea"), TOTAL] == 2
    assert frame.loc[("Immune system disorders", "Any term"), [DL1, DL2]].tolist() == [1, 1]
    serious = ae_incidence(trial, settings, "serious").frame.set_index(["soc", "term"])
    assert serious.loc[("Blood and lymphatic system disorders", "Anemia"), TOTAL] == 1  # S03


def test_worst_grade_per_subject(trial: TrialData) -> None:
    frame = ae_worst_grade(trial).frame.set_index("term")
    # Nausea: S01 worst grade 2 (grades 1 and 2), S03 grade 1.
    assert frame.loc["Nausea", ["grade 1", "grade 2", "any grade", "grade ≥ 3"]].tolist() == [
        1,
        1,
        2,
        0,
    ]
    # Neutrophil count decreased: S01 grade 4, S02 grade 3.
    assert frame.loc["Neutrophil count decreased", ["grade 3", "grade 4"]].tolist() == [1, 1]


def test_crs_icans_course_and_summary(trial: TrialData, settings: AnalysisSettings) -> None:
    course = crs_icans_by_subject(trial).set_index("subject_id")
    # S02 CRS days 1-4 graded 1, 2, 3, 1 -> max 3, onset day 1, 4 days; tocilizumab, steroids.
    assert course.loc["S02", ["crs_max_grade", "crs_onset_day", "crs_duration_days"]].tolist() == [
        3,
        1,
        4,
    ]
    assert bool(course.loc["S02", "tocilizumab"]) and bool(course.loc["S02", "steroids"])
    # S04 CRS days 1-2 grade 1; ICANS day 4 grade 2, day 5 grade 1.
    assert course.loc[
        "S04", ["icans_max_grade", "icans_onset_day", "icans_duration_days"]
    ].tolist() == [2, 4, 2]
    assert course.loc["S01", "crs_max_grade"] == 0 and pd.isna(course.loc["S01", "crs_onset_day"])
    summary = crs_icans_summary(trial, settings).frame.set_index("statistic")
    assert summary.loc["CRS any grade", "Total (N=6)"] == "2 (33.3%)"
    assert summary.loc["CRS grade ≥ 3", "DL1 (N=3)"] == "1 (33.3%)"
    assert summary.loc["CRS duration, days: median (range)", "Total (N=6)"] == "3 (2–4)"
    assert (
        summary.loc["ICANS onset, day after infusion: median (range)", "DL1 (N=3)"]
        == "NE (no event)"
    )


def test_dlt_rate_over_dlt_evaluable(trial: TrialData, settings: AnalysisSettings) -> None:
    frame = dlt_by_dose(trial, settings).frame.set_index("dose_level")
    # DLT-evaluable: S01-S03 (DL1), S04-S05 (DL2; S06 not evaluable). One DLT: S02.
    assert frame.loc["DL1", ["dlt_evaluable_n", "subjects_with_dlt"]].tolist() == [3, 1]
    assert frame.loc["DL2", ["dlt_evaluable_n", "subjects_with_dlt"]].tolist() == [2, 0]
    assert frame.loc["Total", "dlt_rate_pct"] == 20.0
    assert frame.loc["DL1", "ci_method"] == "clopper-pearson"


def test_lab_shift_baseline_to_worst(trial: TrialData) -> None:
    frame = lab_shift(trial).frame.set_index("baseline grade")
    # S01 baseline 0 -> worst 4; S02 1 -> 3; S04 no baseline -> worst 0.
    assert frame.loc["0", "worst grade 4"] == 1
    assert frame.loc["1", "worst grade 3"] == 1
    assert frame.loc["missing", "worst grade 0"] == 1
    assert frame["subjects"].sum() == 3


def test_deaths_listing(trial: TrialData) -> None:
    frame = deaths(trial).frame.set_index("subject_id")
    assert frame.loc["S03", ["day_after_infusion", "cause"]].tolist() == [35, "disease progression"]
    assert sorted(frame.index) == ["S02", "S03"]
