"""``cartrial grade labs|crs|icans``: the CLI reads a CSV, grades it and names bad rows.

Expected grades: the reference tables under tests/reference/ (CTCAE v5.0 boundaries, ASTCT
worked examples C1-C10 and N1-N8, cart-toxicity.md §1-2).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from cartrial.cli import app

REF = Path(__file__).parents[1] / "reference"
runner = CliRunner()


def _json(args: list[str]) -> dict[str, object]:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    payload: dict[str, object] = json.loads(result.stdout)
    return payload


def test_labs_json_matches_the_boundary_table() -> None:
    payload = _json(["grade", "labs", str(REF / "ctcae" / "lab_boundaries.csv"), "--json"])
    rows = payload["rows"]
    assert isinstance(rows, list)
    expected = pd.read_csv(REF / "ctcae" / "lab_boundaries.csv", comment="#")
    assert [r["grade"] for r in rows] == expected["expected_grade"].tolist()
    text = (REF / "ctcae" / "lab_boundaries.csv").read_text().splitlines()
    first_data_line = [i for i, t in enumerate(text, 1) if t and not t.startswith("#")][1]
    assert rows[0]["line"] == first_data_line and rows[0]["rule"] == "no criterion met"
    assert payload["method"] == "CTCAE v5.0"


def test_crs_and_icans_worked_examples() -> None:
    crs = _json(["grade", "crs", str(REF / "cart_tox" / "crs_examples.csv"), "--json"])
    rows = crs["rows"]
    assert isinstance(rows, list)
    assert [r["grade"] for r in rows] == [int(r["expected_grade"]) for r in rows]
    assert [r["driver"] for r in rows] == [r["expected_driver"] for r in rows]
    icans = _json(["grade", "icans", str(REF / "cart_tox" / "icans_examples.csv"), "--json"])
    rows = icans["rows"]
    assert isinstance(rows, list)
    assert [r["grade"] for r in rows] == [int(r["expected_grade"]) for r in rows]


def test_table_output_names_the_rule(tmp_path: Path) -> None:
    result = runner.invoke(app, ["grade", "crs", str(REF / "cart_tox" / "crs_examples.csv")])
    assert result.exit_code == 0
    assert "not CRS by" in result.stdout and "CRS grades (astct)" in result.stdout


def test_crs_courses_and_out_file(tmp_path: Path) -> None:
    src = tmp_path / "crs.csv"
    src.write_text(
        "subject_id,day,temperature_c,vasopressors,oxygen\n"
        "S1,1,38.5,,room_air\n"
        "S1,2,39.1,norepinephrine,room_air\n"
        "S1,3,37.0,,room_air\n"
        "S2,4,38.2,,room_air\n"
    )
    out = tmp_path / "graded.csv"
    payload = _json(["grade", "crs", str(src), "--json", "--out", str(out)])
    courses = payload["courses"]
    assert isinstance(courses, list)
    # S1: grade 1 on day 1, grade 3 on day 2, resolved day 3 (cart-toxicity.md §1 daily grading)
    assert courses[0] == {
        "subject_id": "S1",
        "onset_day": 1,
        "max_grade": 3,
        "max_grade_day": 2,
        "days_grade_1": 1,
        "days_grade_2": 0,
        "days_grade_3": 1,
        "days_grade_4": 0,
        "days_grade_5": 0,
        "duration_days": 2,
        "resolution_day": 3,
        "ongoing": False,
    }
    assert pd.read_csv(out)["grade"].tolist() == [1, 3, 0, 1]
    assert pd.read_csv(tmp_path / "graded_courses.csv")["subject_id"].tolist() == ["S1", "S2"]


def test_ctcae_method_for_crs(tmp_path: Path) -> None:
    src = tmp_path / "crs.csv"
    src.write_text("temperature_c,oxygen,fio2_pct\n38.5,facemask,50\n")
    payload = _json(["grade", "crs", str(src), "--method", "ctcae", "--json"])
    rows = payload["rows"]
    assert isinstance(rows, list)
    assert (rows[0]["grade"], rows[0]["method"]) == (3, "ctcae")  # >= 40 % O2 (CTCAE v5.0)


def _error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    return result.stderr


def test_malformed_files_name_file_row_and_field(tmp_path: Path) -> None:
    labs = tmp_path / "labs.csv"
    labs.write_text("lbtestcd,value,unit,lln,uln\nNEUT,1.2,10^9/L,1.8,7.5\nALT,55,mg/L,,40\n")
    message = _error(["grade", "labs", str(labs)])
    assert "labs.csv: 1 bad line(s)" in message
    assert "line 3: field 'unit': unknown unit 'mg/L' for ALT" in message
    crs = tmp_path / "crs.csv"
    crs.write_text("temperature_c,hypotension\n38.1,false\nhot,false\n")
    message = _error(["grade", "crs", str(crs)])
    assert "crs.csv: 1 bad line(s)" in message
    assert "line 3: field 'temperature_c': 'hot' is not a number" in message
    icans = tmp_path / "icans.csv"
    icans.write_text("ice_score,seizure\n9,none\n10,maybe\n")
    assert "line 3: unknown seizure 'maybe'" in _error(["grade", "icans", str(icans)])
    broken = tmp_path / "broken.csv"
    broken.write_text("temperature_c,hypotension\n38.1,false\n38.2,false,extra,more\n")
    message = _error(["grade", "crs", str(broken)])
    assert "broken.csv: line(s) 3: more cells than header columns" in message
