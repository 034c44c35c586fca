"""Scenario grids from YAML: validation messages, local and Dask backends, table and plot."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

from cartrial.designs import make_design
from cartrial.errors import DesignError
from cartrial.simulation import Expansion, simulate
from cartrial.simulation.grid import ScenarioGrid, load_grid, run_grid
from cartrial.simulation.plot import plot_selection

EXAMPLE = Path(__file__).parents[2] / "examples" / "simulation-grid.yaml"

SMALL = """
seed: 7
n_trials: 300
chunk_size: 2048
settings:
  accrual_rate: 2.0
  expansion: {n_patients: 6, tox_limit: 0.3}
designs:
  - {label: BOIN, name: boin, params: {target: 0.3, n_cohorts: 4}}
  - {label: 3+3, name: "3+3"}
  - {label: TITE, name: tite-boin, params: {target: 0.3, n_cohorts: 4}}
scenarios:
  - {name: low, true_tox: [0.05, 0.1, 0.3]}
  - {name: high, true_tox: [0.3, 0.5, 0.6]}
"""


@pytest.fixture
def small_grid(tmp_path: Path) -> ScenarioGrid:
    path = tmp_path / "grid.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return load_grid(path)


def test_example_grid_file_is_valid() -> None:
    grid = load_grid(EXAMPLE)
    assert [d.name for d in grid.designs] == ["3+3", "boin", "tite-boin", "crm"]
    assert all(len(s.true_tox) == 4 for s in grid.scenarios)


def test_validation_errors_name_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "seed: 1\nn_trials: 0\ndesigns: [{label: a, name: boin, colour: red}]\n"
        "scenarios: [{name: s, true_tox: [0.1, oops]}]\n",
        encoding="utf-8",
    )
    with pytest.raises(DesignError) as info:
        load_grid(path)
    message = str(info.value)
    assert str(path) in message
    for field in ("n_trials", "designs.0.colour", "scenarios.0.true_tox.1"):
        assert field in message


def test_design_errors_name_the_cell(tmp_path: Path) -> None:
    path = tmp_path / "cell.yaml"
    path.write_text(
        "seed: 1\nn_trials: 10\ndesigns: [{label: B, name: boin, params: {target: 1.5}}]\n"
        "scenarios: [{name: s, true_tox: [0.1, 0.2]}]\n",
        encoding="utf-8",
    )
    with pytest.raises(DesignError, match=r"designs\.0 \(B\) x scenarios\.0 \(s\)"):
        run_grid(load_grid(path))


def test_duplicate_labels_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(
        "seed: 1\nn_trials: 10\ndesigns: [{label: B, name: boin}, {label: B, name: crm}]\n"
        "scenarios: [{name: s, true_tox: [0.1, 0.2]}]\n",
        encoding="utf-8",
    )
    with pytest.raises(DesignError, match=r"designs\.label"):
        load_grid(path)


def test_missing_file_is_a_design_error(tmp_path: Path) -> None:
    with pytest.raises(DesignError, match="cannot read"):
        load_grid(tmp_path / "absent.yaml")


def test_grid_cell_equals_a_single_simulation(small_grid: ScenarioGrid) -> None:
    result = run_grid(small_grid)
    label, scenario, cell = result.results[0]
    assert (label, scenario) == ("BOIN", "low")
    single = simulate(
        make_design("boin", n_doses=3, target=0.3, n_cohorts=4),
        [0.05, 0.1, 0.3],
        300,
        seed=7,
        accrual_rate=2.0,
        expansion=Expansion(n_patients=6, tox_limit=0.3),
    )
    assert single.selection_pct == cell.selection_pct
    assert single.mean_patients == cell.mean_patients
    assert single.mean_duration_months == cell.mean_duration_months
    assert single.mean_expansion_patients == cell.mean_expansion_patients > 0
    frame = result.to_frame()
    assert len(frame) == 3 * 2 * 4  # designs x scenarios x (3 doses + none)
    assert set(frame.columns) >= {"design", "scenario", "dose", "selection_pct", "early_stop_pct"}


def test_grid_design_coherence_is_passed_to_the_simulation(tmp_path: Path) -> None:
    path = tmp_path / "crm.yaml"
    path.write_text(
        "seed: 3\nn_trials: 200\ndesigns:\n"
        "  - {label: last, name: crm, params: {target: 0.25}, coherence: last-cohort}\n"
        "  - {label: all, name: crm, params: {target: 0.25}}\n"
        "scenarios: [{name: s, true_tox: [0.05, 0.12, 0.25, 0.4, 0.55]}]\n",
        encoding="utf-8",
    )
    cells = {label: result for label, _, result in run_grid(load_grid(path)).results}
    design = make_design("crm", n_doses=5, target=0.25)
    truth = [0.05, 0.12, 0.25, 0.4, 0.55]
    for label, rule in (("last", "last-cohort"), ("all", "all-patients")):
        single = simulate(design, truth, 200, seed=3, coherence=rule)  # type: ignore[arg-type]
        assert cells[label].selection_pct == single.selection_pct
        assert cells[label].mean_patients == single.mean_patients
        assert cells[label].settings["coherence"].startswith(rule)
    assert cells["last"].mean_patients != cells["all"].mean_patients


def test_dask_backend_gives_identical_results(small_grid: ScenarioGrid) -> None:
    local = run_grid(small_grid, backend="local")
    distributed = run_grid(small_grid, backend="dask")
    assert distributed.results == local.results
    assert distributed.backend == "dask"


def test_dask_scheduler_address_is_used(small_grid: ScenarioGrid) -> None:
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        remote = run_grid(small_grid, backend="dask", scheduler=cluster.scheduler_address)
    assert remote.results == run_grid(small_grid).results


def test_unknown_backend(small_grid: ScenarioGrid) -> None:
    with pytest.raises(DesignError, match="backend"):
        run_grid(small_grid, backend="spark")  # type: ignore[arg-type]


def test_plot_selection_draws_one_panel_per_scenario(small_grid: ScenarioGrid) -> None:
    frame = run_grid(small_grid).to_frame()
    fig = plot_selection(frame)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    # 3 designs x 4 bars (3 doses + none) per panel
    assert len(fig.axes[0].patches) == 12
    with pytest.raises(DesignError, match="selection_pct"):
        plot_selection(frame.drop(columns="selection_pct"))
