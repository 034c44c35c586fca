"""The one error mapping (``cartrial.cli.errors``): messages, JSON with numbers, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cartrial.cli import app, errors
from cartrial.errors import (
    Conflict,
    DatabaseUnavailable,
    ImportFailed,
    ProtocolError,
    ValidationFailed,
)

from .conftest import RunMain
from .support import cartrial_process


def test_import_lines_and_protocol_lines_stay_numbers() -> None:
    payload = errors.error_payload(ImportFailed("labs.csv", [(3, "value", "not a number")]))
    assert payload == {
        "error": "labs.csv: import rejected, nothing written",
        "type": "ImportFailed",
        "details": [{"line": 3, "field": "value", "message": "not a number"}],
    }
    issues: list[tuple[str, int | None, str]] = [("a.b", 12, "bad"), ("", None, "missing")]
    payload = errors.error_payload(ProtocolError("p.yaml", issues))
    assert payload["error"] == "p.yaml: 2 error(s)"
    assert payload["details"] == [
        {"path": "a.b", "line": 12, "message": "bad"},
        {"path": "", "line": None, "message": "missing"},
    ]


@pytest.mark.parametrize(
    ("error", "details"),
    [
        (ValidationFailed("code", "taken"), [{"field": "code", "message": "taken"}]),
        (
            Conflict("site 3", 1, 2),
            [{"record": "site 3", "expected_version": 1, "actual_version": 2}],
        ),
        (
            DatabaseUnavailable("/x.db", "busy", "locked"),
            [{"database": "/x.db", "reason": "busy"}],
        ),
        (
            FileNotFoundError(2, "No such file or directory", "in.csv"),
            [{"path": "in.csv", "errno": 2}],
        ),
    ],
)
def test_details_of_each_error_kind(error: Exception, details: list[dict[str, object]]) -> None:
    assert errors.error_payload(error)["details"] == details
    assert json.loads(json.dumps(errors.error_payload(error)))["details"] == details


def test_a_bug_is_one_line_exit_70_and_no_traceback(
    run_main: RunMain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cartrial.cli import design

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(design, "_build", broken)
    args = ("design", "next", "--n", "3,0", "--dlt", "0,0", "--current", "DL1")
    run = run_main(*args, cwd=tmp_path)
    assert run.code == errors.EXIT_INTERNAL
    assert "Traceback" not in run.output
    assert "This is a bug" in run.stderr and "ZeroDivisionError" in run.stderr
    run = run_main(*args, "--json", cwd=tmp_path)
    assert json.loads(run.stdout)["error"] == "internal error: division by zero"
    shown = run_main(*args, cwd=tmp_path, env={errors.TRACEBACK_ENV: "1"})
    assert "Traceback" in shown.stderr  # only when a developer asks for it


def test_usage_errors_with_json_are_json(run_main: RunMain, tmp_path: Path) -> None:
    run = run_main("no-such-command", "--json", cwd=tmp_path)
    assert run.code == 2
    assert json.loads(run.stdout)["error"] == "No such command 'no-such-command'."
    run = run_main("design", "simon", "--p0", "x", "--json", cwd=tmp_path)
    assert run.code == 2
    assert json.loads(run.stdout)["details"] == [{"parameter": "p0"}]


def test_an_output_file_that_cannot_be_written_is_a_message(tmp_path: Path) -> None:
    csv = tmp_path / "labs.csv"
    csv.write_text("lbtestcd,value,unit,lln,uln\nNEUT,0.4,10^9/L,2,7.5\n", encoding="utf-8")
    out = tmp_path / "missing-dir" / "graded.csv"
    result = CliRunner().invoke(app, ["grade", "labs", str(csv), "--out", str(out)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "missing-dir" in result.output and "directory" in result.output


def test_errors_reach_the_user_through_the_console_script(tmp_path: Path) -> None:
    # The real process: a design error (dlt > n) is exit 2 with the message, also as JSON.
    args = ("design", "next", "--n", "3,0", "--dlt", "4,0", "--current", "DL1")
    run = cartrial_process(*args, cwd=tmp_path)
    assert run.code == 2 and "Traceback" not in run.output
    assert "dlt > n" in run.stderr
    run = cartrial_process(*args, "--json", cwd=tmp_path)
    assert run.code == 2
    assert json.loads(run.stdout)["type"] == "DesignError"


def test_typer_exits_pass_through() -> None:
    with pytest.raises(typer.Exit), errors.report_errors(as_json=True):
        raise typer.Exit(3)


def test_a_parser_refusing_an_input_file_is_exit_2_not_a_bug(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import pandas as pd
    import yaml

    for error in (pd.errors.EmptyDataError("No columns to parse from file"), yaml.YAMLError("x")):
        assert errors.report_error(error, as_json=False) == errors.EXIT_ERROR
        err = capsys.readouterr().err
        assert "cannot parse the input" in err and "bug" not in err
