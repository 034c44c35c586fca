"""The statistical appendix: one command from the protocol and a scenarios file to HTML and PDF."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cartrial.cli import app
from cartrial.cli.design import appendix_study
from cartrial.errors import DesignError
from cartrial.protocol import default_protocol_path, load_protocol, parse_protocol
from cartrial.simulation.appendix import (
    AppendixScenarios,
    build_appendix,
    protocol_design,
    render_html,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "appendix-scenarios.yaml"

SCENARIOS = AppendixScenarios.model_validate(
    {
        "seed": 3,
        "n_trials": 200,
        "settings": {"accrual_rate": 1.5},
        "scenarios": [
            {"name": "MTD at DL2", "true_tox": [0.05, 0.12, 0.30, 0.48]},
            {"name": "too toxic", "true_tox": [0.45, 0.55, 0.65, 0.75]},
        ],
        "comparators": [
            {"label": "BOIN", "name": "boin", "params": {"target": 0.3, "n_cohorts": 6}}
        ],
    }
)


def _crm_protocol():  # type: ignore[no-untyped-def]
    text = default_protocol_path().read_text(encoding="utf-8")
    old = 'design:\n    name: "3+3"\n    params: {}'
    assert old in text
    return parse_protocol(
        text.replace(old, "design:\n    name: crm\n    params: {target: 0.3, prior_mtd: 2}")
    )


def test_protocol_design_takes_the_protocol_start_target_and_size() -> None:
    protocol = load_protocol()
    name, params, design = protocol_design(appendix_study(protocol))
    assert name == "3+3" and params["start"] == 1  # start_dose DL1 (after DL-1)
    assert params["max_subjects"] == protocol.escalation.max_subjects == 18
    name, params, design = protocol_design(appendix_study(_crm_protocol()))
    assert name == "crm"
    assert (params["target"], params["cohort_size"], params["n_cohorts"]) == (0.3, 3, 6)
    assert design.start == 1


def test_appendix_has_every_part_a_protocol_needs() -> None:
    appendix = build_appendix(appendix_study(load_protocol()), SCENARIOS)
    assert [label for label, _, _ in appendix.oc.results] == ["3+3 (protocol)"] * 2 + ["BOIN"] * 2
    html = render_html(appendix)
    for text in (
        "Table 1. Dose levels",
        "DL-1",
        "Storer 1989",
        "Table 3. Dose-escalation decision table",
        "Table 4. Scenarios",
        "Table 5.1. MTD at DL2 (true MTD: DL2)",
        "Correct selection",
        "Overdosing &gt;60%",
        "get.oc",
        "Seed 3",
        "cartrial ",
        "NumPy",
        "data:image/png;base64,",
        "Duration (months)",
    ):
        assert text in html, text


def test_crm_appendix_gives_dose_transition_pathways() -> None:
    html = render_html(
        build_appendix(
            appendix_study(_crm_protocol()), SCENARIOS.model_copy(update={"comparators": []})
        )
    )
    assert "dose transition pathways" in html and "Yap et al. 2017" in html
    assert "O&#39;Quigley" in html or "O'Quigley" in html


def test_scenarios_must_match_the_protocol_dose_levels() -> None:
    bad = SCENARIOS.model_copy(
        update={"scenarios": [SCENARIOS.scenarios[0].model_copy(update={"true_tox": [0.1, 0.2]})]}
    )
    with pytest.raises(DesignError, match=r"scenarios\.0 .*2 DLT probabilities.*4 dose levels"):
        build_appendix(appendix_study(load_protocol()), bad)


def test_one_command_writes_html_pdf_csv_and_figure(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios.yaml"
    text = EXAMPLE.read_text(encoding="utf-8").replace("n_trials: 10000", "n_trials: 200")
    scenarios.write_text(text, encoding="utf-8")
    out = tmp_path / "appendix"
    protocol = str(default_protocol_path())
    result = CliRunner().invoke(
        app,
        [
            "design",
            "appendix",
            "--protocol",
            protocol,
            "--scenarios",
            str(scenarios),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "appendix.pdf").read_bytes().startswith(b"%PDF")
    assert "Table 6. Summary" in (out / "appendix.html").read_text(encoding="utf-8")
    assert (out / "operating-characteristics.csv").stat().st_size > 0
    assert (out / "operating-characteristics.png").stat().st_size > 0


def test_bad_scenarios_file_is_a_clear_error(tmp_path: Path) -> None:
    scenarios = tmp_path / "bad.yaml"
    scenarios.write_text("seed: 1\nn_trials: 5\nscenarios: []\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            "design",
            "appendix",
            "--protocol",
            str(default_protocol_path()),
            "--scenarios",
            str(scenarios),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 2
    flat = result.output.replace("\n", "")  # the console may wrap a long path
    assert "bad.yaml" in flat and "n_trials" in flat
