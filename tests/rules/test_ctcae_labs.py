"""CTCAE v5.0 lab grading: every threshold from both sides, units, LBTESTCD, bad input.

Expected grades come from tests/reference/ctcae/lab_boundaries.csv, whose 'source' column
names the CTCAE v5.0 criteria text (reference ctcae-5.0.md §2) each row applies.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartrial.errors import RuleInputError
from cartrial.rules import ctcae

BOUNDARIES = Path(__file__).parents[1] / "reference" / "ctcae" / "lab_boundaries.csv"
TABLE = pd.read_csv(BOUNDARIES, comment="#", dtype={"symptomatic": str}, keep_default_na=True)


def _opt(x: float) -> float | None:
    return None if pd.isna(x) else float(x)


@pytest.mark.parametrize("case", TABLE.to_dict("records"), ids=lambda c: f"{c['case']}")
def test_threshold_both_sides(case: dict[str, object]) -> None:
    result = ctcae.grade_lab(
        str(case["term"]),
        float(case["value"]),  # type: ignore[arg-type]
        unit=str(case["unit"]),
        lln=_opt(case["lln"]),  # type: ignore[arg-type]
        uln=_opt(case["uln"]),  # type: ignore[arg-type]
        baseline=_opt(case["baseline"]),  # type: ignore[arg-type]
        symptomatic=True if case["symptomatic"] == "yes" else None,
    )
    assert result.grade == case["expected_grade"], case["source"]
    if result.grade == 0:
        assert result.criterion == "none"
    else:
        assert f".g{result.grade}." in result.criterion


def test_vectorised_equals_scalar_on_the_whole_table() -> None:
    graded = ctcae.grade_labs(TABLE.drop(columns=["expected_grade"]))
    assert graded["grade"].astype(int).tolist() == TABLE["expected_grade"].tolist()
    assert (graded.index == TABLE.index).all()


def test_boundary_table_exercises_every_criterion() -> None:
    # guards "values on both sides of every threshold": a new criterion needs boundary rows
    graded = ctcae.grade_labs(TABLE.drop(columns=["expected_grade"]))
    fired = set(graded["criterion"].astype(str))
    assert set(ctcae.lab_criteria()["criterion_id"]) <= fired


def test_result_names_the_criterion_and_its_text() -> None:
    # ctcae-5.0.md §2.3: ALT 130 U/L with ULN 40 and a normal baseline is > 3.0 x ULN: grade 2
    r = ctcae.grade_lab("Alanine aminotransferase increased", 130, unit="U/L", uln=40, baseline=30)
    assert (r.grade, r.criterion, r.rule) == (2, "ALT.high.g2.uln", ">3.0 x ULN (baseline normal)")
    # same value, abnormal baseline 60: 130 / 60 = 2.2 x BL -> grade 1 by the baseline rule
    r = ctcae.grade_lab("Alanine aminotransferase increased", 130, unit="U/L", uln=40, baseline=60)
    assert (r.grade, r.criterion) == (1, "ALT.high.g1.baseline")


def test_creatinine_grade_is_the_worse_of_uln_and_baseline_rules() -> None:
    # ctcae-5.0.md §2.4: 95 umol/L is below ULN 100 but > 1.5 x baseline 60 -> grade 2
    r = ctcae.grade_lab("Creatinine increased", 95, unit="umol/L", uln=100, baseline=60)
    assert (r.grade, r.criterion) == (2, "CREAT.high.g2.baseline")


@pytest.mark.parametrize(
    ("term", "value", "limits", "symptomatic", "grade", "needs_input"),
    [
        # ctcae-5.0.md §2.4 lipase: 150 U/L = 2.5 x ULN 60 -> grade 2 if asymptomatic,
        # grade 3 "> 2.0 - 5.0 x ULN with signs or symptoms"
        ("Lipase increased", 150, {"uln": 60}, None, 2, True),
        ("Lipase increased", 150, {"uln": 60}, False, 2, False),
        ("Lipase increased", 150, {"uln": 60}, True, 3, False),
        # 350 U/L = 5.8 x ULN: grade 3 asymptomatic, grade 4 with symptoms
        ("Serum amylase increased", 580, {"uln": 100}, None, 3, True),
        ("Serum amylase increased", 580, {"uln": 100}, True, 4, False),
        # §2.5 hypokalemia 3.2 < LLN 3.5: grade 1, grade 2 when symptomatic
        ("Hypokalemia", 3.2, {"lln": 3.5}, None, 1, True),
        ("Hypokalemia", 3.2, {"lln": 3.5}, True, 2, False),
        # §2.5 hyponatremia 127: grade 2 asymptomatic, grade 3 symptomatic; 122 is grade 3 anyway
        ("Hyponatremia", 127, {"lln": 135}, None, 2, True),
        ("Hyponatremia", 127, {"lln": 135}, True, 3, False),
        ("Hyponatremia", 122, {"lln": 135}, None, 3, False),
        # §2.5 hyperuricemia > ULN: grade 1 without, grade 3 with physiologic consequences
        ("Hyperuricemia", 500, {"uln": 420}, True, 3, False),
        # no symptom rule for ALT: never needs clinical input
        ("Alanine aminotransferase increased", 130, {"uln": 40}, None, 2, False),
    ],
)
def test_symptom_qualifiers(
    term: str,
    value: float,
    limits: dict[str, float],
    symptomatic: bool | None,
    grade: int,
    needs_input: bool,
) -> None:
    unit = ctcae.accepted_units(ctcae.lab_term(term).unit_group)[0]
    r = ctcae.grade_lab(term, value, unit=unit, symptomatic=symptomatic, **limits)
    assert (r.grade, r.needs_clinical_input) == (grade, needs_input)


def test_symptomatic_column_in_tables() -> None:
    df = pd.DataFrame(
        {
            "lbtestcd": ["LIPASE", "LIPASE", "LIPASE", "GLUC"],
            "value": [150.0, 150.0, 150.0, 12.0],
            "unit": ["U/L", "U/L", "U/L", "mmol/L"],
            "lln": [0.0, 0.0, 0.0, 3.9],
            "uln": [60.0, 60.0, 60.0, 6.1],
            "symptomatic": ["yes", "no", "", ""],
        }
    )
    out = ctcae.grade_labs(df)
    assert out["grade"].tolist() == [3, 2, 2, pd.NA]
    assert out["needs_clinical_input"].tolist() == [False, False, True, True]
    with pytest.raises(RuleInputError, match="row 1: field 'symptomatic': 'sometimes' is not"):
        ctcae.grade_labs(df.assign(symptomatic=["yes", "sometimes", "", ""]))


def test_unit_conversion_is_explicit() -> None:
    # CTCAE v5.0 Anemia: 8.0 g/dL = 80 g/L (factor 10, lab_units.csv)
    r = ctcae.grade_lab("Anemia", 7.9, unit="g/dL", lln=12.0)
    assert (r.grade, r.value_si, r.si_unit) == (3, pytest.approx(79.0), "g/L")
    assert ctcae.unit_factor("enzyme", "µkat/L") == (60.0, "U/L")
    assert ctcae.unit_factor("cell_count", "cells / µL") == (0.001, "10^9/L")


@pytest.mark.parametrize(
    ("group", "conventional", "unit", "si"),
    [
        # each pair is stated side by side in one CTCAE v5.0 grade cell (ctcae-5.0.md §2)
        ("hemoglobin", 10.0, "g/dL", 100.0),
        ("hemoglobin", 6.2, "mmol/L", 100.0),
        ("glucose", 55.0, "mg/dL", 3.0),
        ("calcium", 8.0, "mg/dL", 2.0),
        ("magnesium", 1.2, "mg/dL", 0.5),
        ("triglycerides", 150.0, "mg/dL", 1.71),
        ("cholesterol", 300.0, "mg/dL", 7.75),
        ("protein_g_l", 3.0, "g/dL", 30.0),
        ("fibrinogen", 50.0, "mg/dL", 0.5),
        ("cell_count", 1500.0, "/mm3", 1.5),
    ],
)
def test_factors_reproduce_ctcae_paired_thresholds(
    group: str, conventional: float, unit: str, si: float
) -> None:
    factor, _ = ctcae.unit_factor(group, unit)
    assert conventional * factor == pytest.approx(si, rel=0.02)


@pytest.mark.parametrize(
    ("code", "direction", "term"),
    [
        ("NEUT", "low", "Neutrophil count decreased"),
        ("NEUT", "high", None),
        ("PLAT", "low", "Platelet count decreased"),
        ("WBC", "high", "Leukocytosis"),
        ("LYM", "high", "Lymphocyte count increased"),
        ("HGB", "low", "Anemia"),
        ("ALT", "high", "Alanine aminotransferase increased"),
        ("AST", "high", "Aspartate aminotransferase increased"),
        ("ALP", "high", "Alkaline phosphatase increased"),
        ("BILI", "high", "Blood bilirubin increased"),
        ("GGT", "high", "GGT increased"),
        ("CREAT", "high", "Creatinine increased"),
        ("K", "low", "Hypokalemia"),
        ("K", "high", "Hyperkalemia"),
        ("SODIUM", "low", "Hyponatremia"),
        ("CA", "low", "Hypocalcemia"),
        ("MG", "low", "Hypomagnesemia"),
        ("PHOS", "low", "Hypophosphatemia"),
        ("ALB", "low", "Hypoalbuminemia"),
        ("FIBRINO", "low", "Fibrinogen decreased"),
        ("INR", "high", "INR increased"),
        ("APTT", "high", "Activated partial thromboplastin time prolonged"),
        ("CK", "high", "CPK increased"),
        ("LIPASE", "high", "Lipase increased"),
        ("AMYLASE", "high", "Serum amylase increased"),
        ("GLUC", "low", "Hypoglycemia"),
        ("GLUC", "high", "Hyperglycemia"),
        ("TRIG", "high", "Hypertriglyceridemia"),
        ("CHOL", "high", "Cholesterol high"),
        ("URATE", "high", "Hyperuricemia"),
        ("neut", "low", "Neutrophil count decreased"),
    ],
)
def test_lbtestcd_maps_to_ctcae_terms(code: str, direction: str, term: str | None) -> None:
    assert ctcae.term_for_testcd(code, direction) == term
    if term is not None:
        assert ctcae.term_info(term).term == term  # every mapped term is in the catalogue


def test_grade_labs_by_lbtestcd_keeps_the_worse_direction() -> None:
    df = pd.DataFrame(
        {
            "lbtestcd": ["K", "K", "K", "NEUT", "GLUC", "GLUC", "PHOS", "PHOS", "ALT"],
            "value": [2.4, 6.5, 4.2, 0.9, 12.0, 5.0, 1.0, 0.5, 45.0],
            "unit": ["mmol/L"] * 3 + ["10^9/L"] + ["mmol/L"] * 4 + ["U/L"],
            "lln": [3.5, 3.5, 3.5, 1.8, 3.9, 3.9, 0.8, 0.8, np.nan],
            "uln": [5.1, 5.1, 5.1, 7.5, 6.1, 6.1, 1.5, 1.5, 40.0],
        },
        index=range(1, 10),
    )
    out = ctcae.grade_labs(df)
    assert out["term"].tolist() == [
        "Hypokalemia",  # 2.4 < 2.5 -> grade 4 (§2.5)
        "Hyperkalemia",  # 6.5 > 6.0 -> grade 3
        "Hypokalemia",  # within limits: grade 0 for both; the low term is reported
        "Neutrophil count decreased",  # 0.9 < 1.0 -> grade 3
        "Hyperglycemia",  # above ULN, no numeric criteria in v5.0 (§2.5) -> clinical
        "Hypoglycemia",
        "Hypophosphatemia",
        "Hypophosphatemia",  # below LLN, no numeric criteria in v5.0 -> clinical
        "Alanine aminotransferase increased",
    ]
    assert out["grade"].tolist() == [4, 3, 0, 3, pd.NA, 0, 0, pd.NA, 1]
    assert out["criterion"].tolist()[4] == "clinical"
    assert out["criterion"].tolist()[0] == "K.low.g4.abs"


def test_grade_labs_large_table_matches_scalar() -> None:
    n = 200_000
    rng = np.random.default_rng(7)
    df = pd.DataFrame(
        {
            "lbtestcd": rng.choice(["NEUT", "PLAT", "ALT"], n),
            "value": rng.uniform(0, 300, n),
            "unit": "U/L",
            "lln": 1.0,
            "uln": 40.0,
        }
    )
    df.loc[df["lbtestcd"] != "ALT", "unit"] = "10^9/L"
    out = ctcae.grade_labs(df)
    assert len(out) == n and out["grade"].notna().all()
    # spot-check against the scalar grader (same criteria, same conversion)
    for i in rng.choice(n, 50, replace=False):
        row = df.iloc[i]
        term = ctcae.term_for_testcd(row["lbtestcd"], "low" if row["lbtestcd"] != "ALT" else "high")
        assert term is not None
        g = ctcae.grade_lab(term, row["value"], unit=row["unit"], lln=1.0, uln=40.0)
        assert out["grade"].iloc[i] == g.grade


# ----- bad input: an error names the row, the field and the rule -----------------------------


def _one(**overrides: object) -> pd.DataFrame:
    row: dict[str, object] = {"term": "Alanine aminotransferase increased", "value": 50.0}
    row.update({"unit": "U/L", "lln": 0.0, "uln": 40.0})
    row.update(overrides)
    return pd.DataFrame([row], index=[17])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"unit": "mg/L"}, r"row 17: field 'unit': unknown unit 'mg/L' for ALT \(accepted: U/L"),
        ({"value": -3.0}, r"row 17: field 'value': negative value -3"),
        ({"value": "high"}, r"row 17: field 'value': 'high' is not a number"),
        ({"value": np.nan}, r"row 17: field 'value': missing"),
        ({"uln": np.nan}, r"row 17: field 'uln' is required to grade 'Alanine aminotransferase"),
        ({"uln": -1.0}, r"row 17: field 'uln': impossible value -1"),
        ({"term": "Hyperglycemia"}, r"row 17: field 'term': 'Hyperglycemia' has no numeric"),
        ({"term": "Liver bad"}, r"row 17: field 'term': unknown CTCAE v5.0 term 'Liver bad'"),
        ({"unit": None}, r"row 17: field 'unit' is missing"),
        ({"lln": 50.0}, r"row 17: field 'lln': LLN is above ULN"),
    ],
)
def test_bad_rows_name_row_and_field(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(RuleInputError, match=message):
        ctcae.grade_labs(_one(**overrides))


def test_bad_table_shape() -> None:
    with pytest.raises(RuleInputError, match="no 'unit' column"):
        ctcae.grade_labs(pd.DataFrame({"term": ["Anemia"], "value": [100.0]}))
    with pytest.raises(RuleInputError, match="'term' or an 'lbtestcd' column"):
        ctcae.grade_labs(pd.DataFrame({"value": [1.0], "unit": ["g/L"]}))
    with pytest.raises(RuleInputError, match="row 0: field 'lbtestcd': unknown LBTESTCD 'XYZ'"):
        ctcae.grade_labs(pd.DataFrame({"lbtestcd": ["XYZ"], "value": [1.0], "unit": ["g/L"]}))


def test_scalar_bad_input() -> None:
    with pytest.raises(RuleInputError, match="unknown unit 'furlongs' for HGB"):
        ctcae.grade_lab("Anemia", 100, unit="furlongs", lln=120)
    with pytest.raises(RuleInputError, match="field 'lln' is required"):
        ctcae.grade_lab("Anemia", 100, unit="g/L")
    with pytest.raises(RuleInputError, match="negative value"):
        ctcae.grade_lab("Platelet count decreased", -5, unit="10^9/L", lln=150)
    with pytest.raises(RuleInputError, match="no numeric lab criteria"):
        ctcae.grade_lab("Hypophosphatemia", 0.5, unit="mmol/L", lln=0.8)
    with pytest.raises(RuleInputError, match="direction must be"):
        ctcae.term_for_testcd("K", "up")


# ----- the criteria data agree with the catalogue --------------------------------------------


def test_criteria_table_is_consistent_with_the_catalogue() -> None:
    criteria = ctcae.lab_criteria()
    assert criteria["criterion_id"].is_unique
    for row in criteria.itertuples():
        info = ctcae.term_info(row.term)
        assert ctcae.is_valid_grade(info.term, row.grade), row.criterion_id
        direction = ctcae.lab_term(row.term).direction
        allowed = {"<", "<="} if direction == "low" else {">", ">="}
        assert row.op in allowed, row.criterion_id  # monotone: worse value, higher grade


# ----- property: a worse value never gets a better grade -------------------------------------

GRADABLE = sorted({t for t in ctcae.lab_criteria()["term"]})


@settings(max_examples=300, deadline=None)
@given(
    term=st.sampled_from(GRADABLE),
    a=st.floats(0, 5000, allow_nan=False),
    b=st.floats(0, 5000, allow_nan=False),
    lln=st.floats(0.01, 200, allow_nan=False),
    width=st.floats(0.01, 500, allow_nan=False),
    baseline=st.one_of(st.none(), st.floats(0.01, 1000, allow_nan=False)),
    symptomatic=st.sampled_from([None, True, False]),
)
def test_worse_value_never_gets_a_better_grade(
    term: str,
    a: float,
    b: float,
    lln: float,
    width: float,
    baseline: float | None,
    symptomatic: bool | None,
) -> None:
    lab = ctcae.lab_term(term)
    unit = ctcae.accepted_units(lab.unit_group)[0]
    lo, hi = sorted((a, b))
    kwargs = {"unit": unit, "lln": lln, "uln": lln + width, "baseline": baseline}
    kwargs["symptomatic"] = symptomatic
    g_lo = ctcae.grade_lab(term, lo, **kwargs).grade  # type: ignore[arg-type]
    g_hi = ctcae.grade_lab(term, hi, **kwargs).grade  # type: ignore[arg-type]
    if lab.direction == "low":
        assert g_lo >= g_hi
    else:
        assert g_hi >= g_lo
