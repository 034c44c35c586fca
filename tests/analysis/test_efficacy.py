"""Best overall response (RECIST 1.1 confirmation rules) and the response-rate tables."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import binomtest

from cartrial.analysis import TrialData
from cartrial.analysis.efficacy import (
    bor_table,
    month3_cutoff_day,
    month3_responders,
    response_rates,
)
from cartrial.analysis.response import best_overall_response
from cartrial.analysis.settings import AnalysisSettings

from .trial_builder import day


def _bor_of(trial: TrialData, settings: AnalysisSettings, course: list[tuple[int, str]]) -> str:
    """BOR of S01 when its post-baseline time points are replaced by ``course``."""
    tps = trial.tumour_timepoints
    kept = tps.loc[(tps["subject_id"] != "S01") | (tps["day"] < 0)]
    rows = pd.DataFrame(
        [
            {**kept.iloc[0].to_dict(), "subject_id": "S01", "assessment_date": day("S01", d),
             "day": d, "overall_response": r, "pct_change_from_baseline": -10.0}
            for d, r in course
        ]
    )  # fmt: skip
    timepoints = pd.concat([kept, rows], ignore_index=True)
    if any(r == "NON-CR/NON-PD" for _, r in course):
        # non-target disease only: no sum of diameters at any time point
        timepoints.loc[timepoints["subject_id"] == "S01", "sum_of_diameters_mm"] = float("nan")
    changed = dataclasses.replace(trial, tumour_timepoints=timepoints)
    best = best_overall_response(changed, settings).subjects.set_index("subject_id")
    return str(best.loc["S01", "bor"])


_CASES = pd.read_csv(
    Path(__file__).parents[1] / "reference" / "analysis" / "best_response_cases.csv"
)


@pytest.mark.parametrize(
    ("course", "expected"),
    [
        pytest.param(
            [(int(d), r) for d, r in (step.split(":") for step in row.course.split())],
            row.expected,
            id=row.case,
        )
        for row in _CASES.itertuples()
    ],
)
def test_best_response_confirmation_rules(
    trial: TrialData, settings: AnalysisSettings, course: list[tuple[int, str]], expected: str
) -> None:
    assert _bor_of(trial, settings, course) == expected


def test_best_response_of_the_hand_made_trial(trial: TrialData, settings: AnalysisSettings) -> None:
    best = best_overall_response(trial, settings)
    bor = best.subjects.set_index("subject_id")["bor"].to_dict()
    # S05's PD on day 126 came after new therapy (day 60): BOR SD from its day-42 scan.
    assert bor == {"S01": "PR", "S02": "SD", "S03": "NE", "S04": "CR", "S05": "SD", "S06": "NE"}
    # S06 "PR" dated day -3 is not a response, and it is said in words.
    assert any("dated on or before the infusion" in note and "S06" in note for note in best.notes)
    assert any(
        "no post-baseline tumour assessment" in note and "S03, S06" in note for note in best.notes
    )
    rules = best.subjects.set_index("subject_id")["bor_rule"]
    assert rules["S04"] == "CR confirmed by a CR >= 28 days later (RECIST 1.1 §4.4.1, Table 3)"
    assert rules["S03"] == "NE: no tumour assessment after baseline"
    first = best.subjects.set_index("subject_id")["first_response_day"]
    assert (first["S01"], first["S04"]) == (42, 42)


def test_bor_table_in_efficacy_evaluable(trial: TrialData, settings: AnalysisSettings) -> None:
    best = best_overall_response(trial, settings)
    table = bor_table(trial, settings, best)
    frame = table.frame.set_index("best overall response")
    # Efficacy-evaluable: S01-S05 (S06 not evaluable). CR S04, PR S01, SD S02 S05, NE S03.
    assert table.population == "efficacy_evaluable" and table.n == 5
    assert frame["Total (N=5) n"].to_dict() == {
        "CR": 1,
        "PR": 1,
        "SD": 2,
        "NON-CR/NON-PD": 0,
        "PD": 0,
        "NE": 1,
    }


def test_rates_with_exact_intervals(trial: TrialData, settings: AnalysisSettings) -> None:
    best = best_overall_response(trial, settings)
    frame = response_rates(trial, settings, best).frame
    overall = frame.loc[
        (frame["population"] == "efficacy_evaluable") & (frame["subgroup"] == "overall")
    ]
    orr = overall.set_index("endpoint").loc["ORR (CR+PR)"]
    dcr = overall.set_index("endpoint").loc["DCR (CR+PR+SD)"]
    assert (orr["responders"], orr["n"]) == (2, 5)
    assert (dcr["responders"], dcr["n"]) == (4, 5)
    exact = binomtest(2, 5).proportion_ci(method="exact")
    assert orr["ci95_lower_pct"] == round(exact.low * 100, 1)
    assert orr["ci95_upper_pct"] == round(exact.high * 100, 1)
    assert set(frame["ci_method"]) == {"clopper-pearson"}
    gastric = frame.loc[(frame["population"] == "safety") & (frame["level"] == "gastric")]
    assert gastric.set_index("endpoint").loc["ORR (CR+PR)", "responders"] == 2  # S01, S04


def test_orr_at_three_months(trial: TrialData, settings: AnalysisSettings) -> None:
    # Protocol ORR time frame 91 days; the day-84 scan window (77-91) holds it -> cut-off day 91.
    assert month3_cutoff_day(settings) == 91
    # A response first recorded on day 126 and confirmed on day 168 is not a 3-month response.
    tps = trial.tumour_timepoints.copy()
    s04 = tps["subject_id"] == "S04"
    tps.loc[s04 & tps["day"].isin([42, 84]), "overall_response"] = "SD"
    tps = pd.concat(
        [tps, tps.loc[s04 & (tps["day"] == 168)].assign(day=126, assessment_date=day("S04", 126))]
    )
    changed = dataclasses.replace(trial, tumour_timepoints=tps)
    best = best_overall_response(changed, settings)
    assert best.subjects.set_index("subject_id").loc["S04", "bor"] == "CR"
    early = month3_responders(best, settings)
    assert early["S01"] and not early["S04"]  # S01: PR from day 42, confirmed day 84
