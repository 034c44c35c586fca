"""RECIST 1.1 worked examples E1-E26 (tests/reference/recist/, each row names its source)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from recist_support import evaluate

from cartrial.rules import recist

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "recist"
DAY0 = pd.Timestamp("2026-01-01")


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / name, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def default_result() -> recist.RecistResult:
    """Protocol parameters of the examples: confirmation >= 28 days, SD minimum 42 days."""
    return evaluate(
        REFERENCE / "worked_examples_lesions.csv",
        _read("worked_examples_reference_dates.csv"),
    )


TIMEPOINT_ROWS = _read("worked_examples_timepoints.csv").to_dict("records")
BEST_ROWS = _read("worked_examples_best.csv").to_dict("records")


def _close(actual: float, expected: str, what: str, source: str) -> None:
    if expected == "":
        return
    assert actual == pytest.approx(float(expected), abs=0.01), f"{what}: {source}"


@pytest.mark.parametrize(
    "expected", TIMEPOINT_ROWS, ids=[f"{r['subject_id']}-d{r['day']}" for r in TIMEPOINT_ROWS]
)
def test_worked_example_timepoint(
    default_result: recist.RecistResult, expected: dict[str, str]
) -> None:
    tps = default_result.timepoints
    row = tps[(tps.subject_id == expected["subject_id"]) & (tps.day == int(expected["day"]))]
    assert len(row) == 1
    got = row.iloc[0]
    source = expected["source"]
    if expected["sum_of_diameters_mm"] == "" and expected["target_response"] in ("NE", "PD"):
        assert np.isnan(got.sum_of_diameters_mm), source  # incomplete sum is not reported
    _close(got.sum_of_diameters_mm, expected["sum_of_diameters_mm"], "SOD", source)
    _close(got.pct_change_from_baseline, expected["pct_change_from_baseline"], "% BL", source)
    _close(got.pct_change_from_nadir, expected["pct_change_from_nadir"], "% nadir", source)
    assert got.target_response == expected["target_response"], source
    assert got.nontarget_response == expected["nontarget_response"], source
    assert bool(got.new_lesions) == (expected["new_lesions"] == "true"), source
    assert got.overall_response == expected["overall_response"], source


@pytest.mark.parametrize(
    "expected",
    BEST_ROWS,
    ids=[
        f"{r['subject_id']}-confirm={r['confirm']}-sd{r['sd_min_days']}-ne={r['allow_ne_between']}"
        for r in BEST_ROWS
    ],
)
def test_worked_example_best(expected: dict[str, str]) -> None:
    result = evaluate(
        REFERENCE / "worked_examples_lesions.csv",
        _read("worked_examples_reference_dates.csv"),
        confirm=expected["confirm"] == "true",
        sd_min_days=int(expected["sd_min_days"]),
        allow_ne_between=expected["allow_ne_between"] == "true",
    )
    got = result.best.set_index("subject_id").loc[expected["subject_id"]]
    source = expected["source"]
    assert got.best_overall_response == expected["best_overall_response"], source
    assert bool(got.confirmed) == (expected["confirmed"] == "true"), source
    for column, day in (
        ("date_first_response", expected["first_response_day"]),
        ("date_progression", expected["progression_day"]),
        ("date_last_adequate_assessment", expected["last_adequate_day"]),
    ):
        if day == "":
            assert pd.isna(got[column]), f"{column}: {source}"
        else:
            assert got[column] == DAY0 + pd.Timedelta(days=int(day)), f"{column}: {source}"


def test_every_worked_example_is_covered() -> None:
    """recist-1.1.md §9 has 26 worked examples E1-E26; each appears in the reference data."""
    subjects = {r["subject_id"] for r in TIMEPOINT_ROWS} | {r["subject_id"] for r in BEST_ROWS}
    numbers = {int(s[1:3]) for s in subjects}
    assert numbers == set(range(1, 27))


def test_reappearance_after_cr_is_flagged_and_named(default_result: recist.RecistResult) -> None:
    """recist-1.1.md §3.3 / E18: PD by reappearance after CR, flagged for reviewer adjudication."""
    tps = default_result.timepoints.set_index(["subject_id", "day"])
    for subject in ("E18a", "E18b"):
        assert bool(tps.loc[(subject, 84), "review_flag"])
        assert "reappeared after target CR" in tps.loc[(subject, 84), "target_rule"]
    assert not tps["review_flag"].drop([("E18a", 84), ("E18b", 84)]).any()


def test_retro_dated_new_lesion_names_its_rule(default_result: recist.RecistResult) -> None:
    """recist-1.1.md §5 / E25: PD dated to the first appearance of the confirmed lesion."""
    tps = default_result.timepoints.set_index(["subject_id", "day"])
    assert "first appearance" in tps.loc[("E25a", 42), "rule"]
    assert bool(tps.loc[("E25a", 42), "equivocal_new_lesion"])
    assert "new lesion -> PD" in tps.loc[("E25a", 84), "rule"]


def test_subject_without_baseline_scan_is_ne(default_result: recist.RecistResult) -> None:
    """recist-1.1.md §9 E26f: no baseline scan -> no RECIST assessment (BOR NE)."""
    best = default_result.best.set_index("subject_id")
    assert best.loc["E26f", "rule"] == "NE: no baseline tumour assessment"
    assert best.loc["E21b", "rule"] == "NE: no tumour assessment after baseline"
