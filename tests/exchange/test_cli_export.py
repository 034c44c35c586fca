"""``cartrial export sdtm|adam``: a thin shell over services.trial_data and write_package."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cartrial import services
from cartrial.analysis import TrialData
from cartrial.cli import app


@pytest.fixture
def cli(trial: TrialData, monkeypatch: pytest.MonkeyPatch) -> tuple[typer.Typer, list[object]]:
    calls: list[object] = []

    def fake_trial_data(factory: object, study_id: str, cutoff: dt.date | None) -> TrialData:
        calls.append((study_id, cutoff))
        return trial

    monkeypatch.setattr(services, "trial_data", fake_trial_data, raising=False)
    monkeypatch.setattr(services, "open_database", lambda db: db)
    return app, calls


@pytest.mark.parametrize(
    ("standard", "fmt", "first"), [("sdtm", "xpt", "ts.xpt"), ("adam", "json", "adsl.json")]
)
def test_export_writes_every_dataset(
    cli: tuple[typer.Typer, list[object]], tmp_path: Path, standard: str, fmt: str, first: str
) -> None:
    application, calls = cli
    out = tmp_path / standard
    result = CliRunner().invoke(
        application,
        ["export", standard, "--db", str(tmp_path / "t.db"), "--out", str(out), "--format", fmt,
         "--cutoff", "2026-01-05", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (written,) = json.loads(result.output)
    assert Path(written["files"][0]).name == first
    assert all(Path(p).exists() for p in written["files"])
    assert {"define.xml", "define.html", "conformance.json"} <= {
        Path(p).name for p in written["files"]
    }
    assert calls == [("CLDN18-PDL1-CART-01", dt.date(2026, 1, 5))]


def test_export_refuses_an_unknown_format(
    cli: tuple[typer.Typer, list[object]], tmp_path: Path
) -> None:
    application, _ = cli
    result = CliRunner().invoke(
        application,
        [
            "export",
            "sdtm",
            "--db",
            str(tmp_path / "t.db"),
            "--out",
            str(tmp_path),
            "--format",
            "sas",
        ],
    )
    assert result.exit_code == 2
    assert "unknown format 'sas'" in result.output
    assert "Traceback" not in result.output


def test_export_define_writes_both_packages(
    cli: tuple[typer.Typer, list[object]], tmp_path: Path
) -> None:
    application, _ = cli
    result = CliRunner().invoke(
        application, ["export", "define", "--db", str(tmp_path / "t.db"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    for standard in ("sdtm", "adam"):
        assert (tmp_path / standard / "define.xml").exists()
        assert (tmp_path / standard / "define.html").exists()
