"""``cartrial protocol show|validate`` and ``cartrial --version``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cartrial import __version__
from cartrial.cli import app
from cartrial.protocol import default_protocol_path

runner = CliRunner()
BROKEN = Path(__file__).parent / "broken"


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_show_renders_study_doses_dlt_and_schedule_grid() -> None:
    result = runner.invoke(app, ["protocol", "show"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for phrase in ("CLDN18.2", "DL1 (start)", "crs_grade3_not_improving", "Schedule of", "Day 14"):
        assert phrase in result.output


def test_show_json_round_trips_the_file() -> None:
    result = runner.invoke(app, ["protocol", "show", str(default_protocol_path()), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["escalation"]["planned_subjects"] == 9


def test_validate_good_file() -> None:
    result = runner.invoke(app, ["protocol", "validate", str(default_protocol_path())])
    assert result.exit_code == 0
    assert "valid" in result.output


def test_validate_lists_errors_with_lines_and_exits_non_zero() -> None:
    file = BROKEN / "unknown_start_dose.yaml"
    result = runner.invoke(app, ["protocol", "validate", str(file)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "line 92" in result.output and "escalation.start_dose" in result.output


def test_validate_json() -> None:
    file = BROKEN / "unknown_key.yaml"
    result = runner.invoke(app, ["protocol", "validate", str(file), "--json"])
    assert result.exit_code == 2
    data = json.loads(result.output)
    assert data["type"] == "ProtocolError"
    assert data["error"].endswith("error(s)")
    assert data["details"][0] == {
        "path": "eligibility.ecog_maximum",
        "line": 33,
        "message": "unknown key (not part of the protocol format; check the spelling)",
    }
