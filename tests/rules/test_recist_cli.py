"""``cartrial recist``: the CLI is a thin shell over ``recist.evaluate`` (same numbers, same rules).

Expected values come from the worked examples in tests/reference/recist/ (recist-1.1.md §9).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from cartrial.cli import app

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "recist"
LESIONS = str(REFERENCE / "worked_examples_lesions.csv")
DATES = str(REFERENCE / "worked_examples_reference_dates.csv")
runner = CliRunner()


def test_json_output_matches_worked_examples() -> None:
    result = runner.invoke(app, ["recist", LESIONS, "--reference-dates", DATES, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    best = {row["subject_id"]: row for row in payload["best"]}
    assert best["E01"]["best_overall_response"] == "PR"  # E1: confirmed PR
    assert best["E01"]["confirmed"] is True
    assert best["E01"]["date_first_response"] == "2026-02-12"  # day 42
    assert best["E17"]["best_overall_response"] == "PD"  # E17: day-35 PR, SD minimum 42
    tp = next(r for r in payload["timepoints"] if r["subject_id"] == "E25a" and r["day"] == 42)
    assert tp["overall_response"] == "PD"  # E25: dated to the first appearance
    assert "first appearance" in tp["rule"]
    assert payload["parameters"] == {
        "confirm": True,
        "sd_min_days": 42,
        "confirm_min_days": 28,
        "allow_ne_between": True,
    }


def test_parameters_reach_the_engine() -> None:
    """E17 with an SD minimum of 28 days is SD; E1 without confirmation is still PR (§7.1)."""
    result = runner.invoke(
        app,
        ["recist", LESIONS, "--reference-dates", DATES, "--json", "--sd-min-days", "28"],
    )
    best = {row["subject_id"]: row for row in json.loads(result.output)["best"]}
    assert best["E17"]["best_overall_response"] == "SD"
    result = runner.invoke(
        app, ["recist", LESIONS, "--reference-dates", DATES, "--json", "--no-confirm"]
    )
    best = {row["subject_id"]: row for row in json.loads(result.output)["best"]}
    assert best["E17"]["best_overall_response"] == "PR"
    result = runner.invoke(
        app, ["recist", LESIONS, "--reference-dates", DATES, "--json", "--no-ne-between"]
    )
    best = {row["subject_id"]: row for row in json.loads(result.output)["best"]}
    assert best["E19"]["best_overall_response"] == "SD"  # E19 with uninterrupted confirmation


def test_table_output_names_the_rule(tmp_path: Path) -> None:
    out = tmp_path / "recist.csv"
    result = runner.invoke(
        app,
        ["recist", LESIONS, "--reference-dates", DATES, "--out", str(out)],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    assert "Subject E01: best overall response PR (confirmed)" in result.output
    assert "RECIST 1.1 Table 1" in result.output
    best = pd.read_csv(out, keep_default_na=False)
    assert best.set_index("subject_id").loc["E22", "best_overall_response"] == "NON-CR/NON-PD"
    timepoints = pd.read_csv(tmp_path / "recist_timepoints.csv", keep_default_na=False)
    assert len(timepoints) == 56  # every post-baseline assessment of the example table


def test_bad_input_exits_with_the_rule(tmp_path: Path) -> None:
    frame = pd.read_csv(LESIONS, dtype=str, keep_default_na=False)
    frame.loc[0, "diameter_mm"] = "-3"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(app, ["recist", str(path), "--reference-dates", DATES])
    assert result.exit_code == 2
    assert "bad.csv: line 2: subject E01" in result.output  # the header is line 1
    assert "negative diameter" in result.output
