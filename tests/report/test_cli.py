"""``cartrial report``: a thin shell over services.trial_data and build_report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cartrial import services
from cartrial.analysis import TrialData
from cartrial.cli.report import register


@pytest.fixture
def app(trial: TrialData, monkeypatch: pytest.MonkeyPatch) -> tuple[typer.Typer, list[object]]:
    calls: list[object] = []

    def fake_trial_data(factory: object, study_id: str, cutoff: dt.date | None) -> TrialData:
        calls.append((study_id, cutoff))
        return trial

    monkeypatch.setattr(services, "trial_data", fake_trial_data, raising=False)
    monkeypatch.setattr(services, "open_database", lambda db: db)
    application = typer.Typer()
    register(application)
    application.command("noop")(lambda: None)  # keep "report" a sub-command, as in the real app
    return application, calls


def test_report_command_writes_the_report(
    app: tuple[typer.Typer, list[object]], tmp_path: Path
) -> None:
    application, calls = app
    out = tmp_path / "out"
    result = CliRunner().invoke(
        application,
        ["report", "--db", str(tmp_path / "t.db"), "--out", str(out), "--no-pdf", "--json",
         "--cutoff", "2026-01-05"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = json.loads(result.output)
    assert Path(written["html"]).exists() and written["pdf"] is None
    assert len(written["tables"]) == 25
    assert calls == [("CLDN18-PDL1-CART-01", dt.date(2026, 1, 5))]


def test_report_command_refuses_a_bad_cutoff(
    app: tuple[typer.Typer, list[object]], tmp_path: Path
) -> None:
    application, _ = app
    result = CliRunner().invoke(
        application, ["report", "--out", str(tmp_path), "--cutoff", "05/01/2026"]
    )
    assert result.exit_code != 0
    assert "not a date" in result.output
