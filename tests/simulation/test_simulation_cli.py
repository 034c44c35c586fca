"""``cartrial simulate``: both spellings of a single run, JSON, plots, grids and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cartrial.cli import app
from cartrial.designs import make_design
from cartrial.simulation import simulate

runner = CliRunner()
TRUTH = "0.05,0.10,0.20,0.30,0.45"


@pytest.mark.parametrize("prefix", [["simulate"], ["simulate", "run"]])
def test_both_spellings_run_one_simulation(prefix: list[str]) -> None:
    args = [*prefix, "--design", "crm", "--truth", TRUTH, "--trials", "120", "--seed", "4"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = simulate(make_design("crm", n_doses=5, target=0.3), TRUTH.split(","), 120, 4)
    assert [row["selection_pct"] for row in data["doses"]] == [
        *expected.selection_pct,
        expected.selection_none_pct,
    ]
    assert [row["dose"] for row in data["doses"]] == ["DL1", "DL2", "DL3", "DL4", "DL5", "none"]
    assert data["design"] == "crm" and data["summary"]["n_trials"] == 120
    assert data["summary"]["pcs_pct"] == pytest.approx(expected.selection_pct[3])
    assert data["design_parameters"]["skeleton"] == "0.1225, 0.2040, 0.3000, 0.4018, 0.5013"
    assert data["summary"]["mean_duration_months"] is None


def test_table_output_and_options(tmp_path: Path) -> None:
    plot = tmp_path / "sel.png"
    sequences = tmp_path / "trials.csv"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--design",
            "boin",
            "--truth",
            TRUTH,
            "--trials",
            "200",
            "--target",
            "0.25",
            "--cohort-size",
            "3",
            "--n-cohorts",
            "6",
            "--param",
            "n_earlystop=9",
            "--expansion",
            "10",
            "--backfill",
            "1",
            "--accrual-rate",
            "2",
            "--plot",
            str(plot),
            "--trials-out",
            str(sequences),
        ],
    )
    assert result.exit_code == 0, result.output
    for text in ("selected % (SE)", "mean duration", "correct selection (PCS)", "DL4 (MTD)"):
        assert text in result.output
    assert "risk of overdosing" in result.output and "lambda_e=0.1968" in result.output
    assert plot.stat().st_size > 0
    kept = pd.read_csv(sequences)
    assert set(kept["phase"]) == {"escalation", "backfill", "expansion"}
    assert kept["trial"].nunique() == 200


def test_without_options_prints_help() -> None:
    result = runner.invoke(app, ["simulate"])
    assert result.exit_code == 0
    assert "grid" in result.output and "--truth" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--truth", "0.1,1.2"], "[0, 1]"),
        (["--truth", "0.1,0.2", "--trials", "0"], "n_trials"),
        (["--truth", "0.1,0.2", "--design", "nope"], "unknown design"),
        (["--truth", "0.1,0.2", "--design", "tite-boin"], "accrual_rate"),
    ],
)
def test_bad_input_is_a_clear_error(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["simulate", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_run_requires_truth() -> None:
    result = runner.invoke(app, ["simulate", "run", "--design", "boin"])
    assert result.exit_code != 0
    assert "--truth" in result.output


def test_grid_command_writes_csv_and_plot(tmp_path: Path) -> None:
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        "seed: 3\nn_trials: 200\n"
        "designs: [{label: BOIN, name: boin, params: {target: 0.3, n_cohorts: 4}},\n"
        "          {label: 3+3, name: '3+3'}]\n"
        "scenarios: [{name: s1, true_tox: [0.1, 0.3]}, {name: s2, true_tox: [0.3, 0.5]}]\n",
        encoding="utf-8",
    )
    out = tmp_path / "oc.csv"
    plot = tmp_path / "oc.png"
    result = runner.invoke(
        app, ["simulate", "grid", str(grid), "--out", str(out), "--plot", str(plot)]
    )
    assert result.exit_code == 0, result.output
    assert "Selection % per dose" in result.output
    frame = pd.read_csv(out)
    assert len(frame) == 2 * 2 * 3
    assert plot.stat().st_size > 0
    as_json = runner.invoke(app, ["simulate", "grid", str(grid), "--json"])
    assert as_json.exit_code == 0
    payload = json.loads(as_json.output)
    assert len(payload["results"]) == 12
    assert set(payload["design_parameters"]) == {"BOIN", "3+3"}
    assert {"pcs_pct", "overdose60_pct", "selection_se"} <= set(payload["results"][0])


def test_grid_command_reports_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 1\nn_trials: 5\ndesigns: []\nscenarios: []\n", encoding="utf-8")
    result = runner.invoke(app, ["simulate", "grid", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "designs" in result.output


def test_coherence_option_is_passed_to_the_engine() -> None:
    args = ["simulate", "--design", "crm", "--truth", TRUTH, "--trials", "150", "--seed", "2"]
    result = runner.invoke(app, [*args, "--coherence", "last-cohort", "--json"])
    assert result.exit_code == 0, result.output
    expected = simulate(
        make_design("crm", n_doses=5, target=0.3), TRUTH.split(","), 150, 2, coherence="last-cohort"
    )
    rows = json.loads(result.output)["doses"]
    assert [row["selection_pct"] for row in rows[:-1]] == list(expected.selection_pct)
