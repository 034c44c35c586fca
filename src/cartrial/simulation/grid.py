"""Scenario grids: designs x true-toxicity scenarios from a YAML file, run locally or on Dask.

A grid file names the designs (protocol design names with their parameters), the scenarios (true
DLT probability per dose) and shared settings; every design is simulated under every scenario.
All cells use the same seed, i.e. common random numbers: the same simulated patients meet every
design, which sharpens the comparison between designs. Each cell is cut into tasks of whole
random-number blocks; the local backend runs them in a loop, the Dask backend on a
``dask.distributed`` cluster (an in-process ``LocalCluster`` by default, or a scheduler address).
Task results are exact sums merged in trial order, so both backends give identical results.

Example file: ``examples/simulation-grid.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cartrial.designs import make_design
from cartrial.errors import DesignError
from cartrial.simulation.engine import (
    Coherence,
    SimulationPlan,
    plan_simulation,
    result_from_tally,
    simulate_range,
)
from cartrial.simulation.progress import DelayedProgress
from cartrial.simulation.result import SimulationResult, Tally
from cartrial.simulation.settings import DLTOnset, Expansion
from cartrial.simulation.streams import RNG_BLOCK_TRIALS

__all__ = ["GridResult", "ScenarioGrid", "load_grid", "run_grid"]

ParamValue = float | int | bool | str | list[float] | dict[int, str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OnsetSpec(_Model):
    """DLT onset within the window (see :class:`~cartrial.simulation.settings.DLTOnset`)."""

    distribution: Literal["uniform", "weibull", "weibull-per-dose"] = "uniform"
    shape: float = Field(1.0, gt=0)
    scale_fraction: float = Field(0.5, gt=0)
    late_share: float = Field(0.5, gt=0, lt=1)
    late_window: float = Field(0.5, gt=0, lt=1)


class ExpansionSpec(_Model):
    """Expansion at the selected dose (see :class:`~cartrial.simulation.settings.Expansion`)."""

    n_patients: int = Field(ge=1)
    cohort_size: int | None = Field(None, ge=1)
    tox_limit: float | None = Field(None, gt=0, lt=1)
    tox_threshold: float = Field(0.9, gt=0, lt=1)
    prior_a: float = Field(1.0, gt=0)
    prior_b: float = Field(1.0, gt=0)


class GridSettings(_Model):
    """Settings shared by every cell of the grid."""

    dlt_window_days: float = Field(28.0, gt=0)
    accrual_rate: float | None = Field(None, gt=0, description="patients per month")
    accrual: Literal["exponential", "uniform"] = "exponential"
    dlt_onset: OnsetSpec = OnsetSpec()
    expansion: ExpansionSpec | None = None


class DesignSpec(_Model):
    """One design: a label for tables, its protocol name and keyword parameters.

    ``coherence`` (CRM, TITE-CRM): what the coherence rule looks at, ``"all-patients"`` or
    ``"last-cohort"`` (see :func:`~cartrial.simulation.simulate`).
    """

    label: str = Field(min_length=1)
    name: str = Field(min_length=1, description="protocol design name, e.g. boin, crm, 3+3")
    params: dict[str, ParamValue] = Field(default_factory=dict)
    coherence: Coherence = "all-patients"


class ScenarioSpec(_Model):
    """One scenario: a name and the true DLT probability per dose."""

    name: str = Field(min_length=1)
    true_tox: list[float] = Field(min_length=1)


class MTDSpec(_Model):
    """What counts as the true MTD (see :class:`~cartrial.simulation.mtd.MTDDefinition`).

    ``target`` overrides each design's own target (needed for 3+3, which has none);
    ``acceptable`` makes every dose with a true DLT rate in ``[low, high]`` correct.
    """

    target: float | None = Field(None, gt=0, lt=1)
    acceptable: tuple[float, float] | None = None


class ScenarioGrid(_Model):
    """A designs x scenarios grid (the schema of a grid YAML file).

    ``dose_labels`` names the dose levels (default ``DL1 ... DLk``).
    """

    seed: int = Field(ge=0)
    n_trials: int = Field(ge=1)
    chunk_size: int = Field(65_536, ge=1)
    settings: GridSettings = GridSettings()
    mtd: MTDSpec = MTDSpec()
    dose_labels: list[str] | None = None
    designs: list[DesignSpec] = Field(min_length=1)
    scenarios: list[ScenarioSpec] = Field(min_length=1)


ModelT = TypeVar("ModelT", bound=BaseModel)


def load_yaml_model(path: str | Path, model: type[ModelT], what: str) -> ModelT:
    """Read a YAML file and validate it with ``model``; errors name the file and each field.

    Raises
    ------
    DesignError
        Naming the file and each offending field (e.g. ``scenarios.1.true_tox``).
    """
    source = Path(path)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DesignError(f"{source}: cannot read the {what} ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise DesignError(f"{source}: not valid YAML: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise DesignError(f"{source}: {len(lines)} error(s)\n" + "\n".join(lines)) from exc


def check_unique(source: str | Path, field: str, values: list[str]) -> None:
    """Raise :class:`DesignError` naming the values of ``field`` given more than once."""
    duplicated = sorted({v for v in values if values.count(v) > 1})
    if duplicated:
        raise DesignError(f"{source}: {field}: duplicated {duplicated}")


def load_grid(path: str | Path) -> ScenarioGrid:
    """Read and validate a grid YAML file.

    Raises
    ------
    DesignError
        Naming the file and each offending field (e.g. ``scenarios.1.true_tox``).
    """
    grid = load_yaml_model(path, ScenarioGrid, "grid file")
    check_unique(path, "designs.label", [d.label for d in grid.designs])
    check_unique(path, "scenarios.name", [s.name for s in grid.scenarios])
    return grid


@dataclass(frozen=True)
class _Cell:
    label: str
    scenario: str
    plan: SimulationPlan


def _plans(grid: ScenarioGrid) -> list[_Cell]:
    settings = grid.settings
    onset = DLTOnset(**settings.dlt_onset.model_dump())
    expansion = None if settings.expansion is None else Expansion(**settings.expansion.model_dump())
    cells = []
    for i, spec in enumerate(grid.designs):
        for j, scenario in enumerate(grid.scenarios):
            where = f"designs.{i} ({spec.label}) x scenarios.{j} ({scenario.name})"
            try:
                design = make_design(spec.name, n_doses=len(scenario.true_tox), **spec.params)
                plan = plan_simulation(
                    design,
                    scenario.true_tox,
                    grid.seed,
                    accrual_rate=settings.accrual_rate,
                    accrual=settings.accrual,
                    dlt_window_days=settings.dlt_window_days,
                    dlt_onset=onset,
                    expansion=expansion,
                    coherence=spec.coherence,
                    target=grid.mtd.target,
                    acceptable=grid.mtd.acceptable,
                    dose_labels=grid.dose_labels,
                )
            except DesignError as exc:
                raise DesignError(f"{where}: {exc}") from exc
            cells.append(_Cell(spec.label, scenario.name, plan))
    return cells


def _run_task(plan: SimulationPlan, start: int, stop: int) -> Tally:
    return simulate_range(plan, start, stop)[0]


@dataclass(frozen=True)
class GridResult:
    """Operating characteristics of every design under every scenario.

    ``results`` holds ``(design label, scenario name, SimulationResult)`` in grid order.
    """

    results: tuple[tuple[str, str, SimulationResult], ...]
    backend: str

    def to_frame(self) -> pd.DataFrame:
        """Long table: one row per design, scenario and dose (plus a ``none`` row).

        Columns of :meth:`SimulationResult.to_frame` (dose-level names, true DLT rate, selection
        %, patients and DLTs with their Monte Carlo SEs) with ``scenario`` second, then every
        trial-level figure of :meth:`SimulationResult.summary` repeated on each row (PCS, patients
        at and above the MTD, risks of overdosing and of poor allocation, early stop %, mean
        sample size, mean duration with accrual, ``n_trials``, ``seed``, ``software_version``).
        The design parameters are in :meth:`design_parameters`.
        """
        frames = []
        for label, scenario, result in self.results:
            frame = result.to_frame()
            frame["design"] = label
            frame.insert(1, "scenario", scenario)
            for key, value in frame.attrs.items():
                if key not in ("design", "method", "design_parameters", "settings"):
                    frame[key] = float("nan") if value is None else value
            frame.attrs = {}
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def design_parameters(self) -> dict[str, dict[str, str]]:
        """Every design's parameters (as simulated under the first scenario), by label."""
        seen: dict[str, dict[str, str]] = {}
        for label, _, result in self.results:
            seen.setdefault(label, result.design_parameters)
        return seen


def _tasks(grid: ScenarioGrid) -> tuple[list[_Cell], list[tuple[int, int, int]]]:
    cells = _plans(grid)
    step = -(-grid.chunk_size // RNG_BLOCK_TRIALS) * RNG_BLOCK_TRIALS
    tasks = [
        (c, start, min(start + step, grid.n_trials))
        for c in range(len(cells))
        for start in range(0, grid.n_trials, step)
    ]
    return cells, tasks


def run_grid(
    grid: ScenarioGrid,
    backend: Literal["local", "dask"] = "local",
    scheduler: str | None = None,
    *,
    progress: bool = False,
) -> GridResult:
    """Simulate every design under every scenario of ``grid``.

    Parameters
    ----------
    grid
        A validated grid (:func:`load_grid` or :class:`ScenarioGrid`).
    backend
        ``"local"`` (this process) or ``"dask"`` (``dask.distributed``).
    scheduler
        Dask scheduler address (``tcp://host:8786``); ``None`` starts an in-process
        ``LocalCluster`` (threads, no worker processes) for the run.
    progress
        Show a rich progress bar over the tasks.

    Returns
    -------
    GridResult
        Identical for both backends given the same grid (and seed).
    """
    if backend not in ("local", "dask"):
        raise DesignError(f"backend must be 'local' or 'dask', got {backend!r}")
    cells, tasks = _tasks(grid)
    tallies: dict[int, Tally] = {}
    runner = _run_local if backend == "local" else _run_dask
    n_total = sum(stop - start for _, start, stop in tasks)
    with DelayedProgress("simulating grid", n_total, enabled=progress) as bar:
        for index, tally in runner(cells, tasks, scheduler):
            tallies[index] = tally
            bar.advance(tally.n_trials)
    results = []
    for c, cell in enumerate(cells):
        total = Tally(n_doses=cell.plan.design.n_doses)
        for index, (owner, _, _) in enumerate(tasks):
            if owner == c:
                total.merge(tallies[index])
        result = result_from_tally(cell.plan, total, label=cell.label)
        results.append((cell.label, cell.scenario, result))
    return GridResult(tuple(results), backend)


def _run_local(
    cells: list[_Cell], tasks: list[tuple[int, int, int]], scheduler: str | None
) -> Iterator[tuple[int, Tally]]:
    for index, (c, start, stop) in enumerate(tasks):
        yield index, _run_task(cells[c].plan, start, stop)


def _run_dask(
    cells: list[_Cell], tasks: list[tuple[int, int, int]], scheduler: str | None
) -> Iterator[tuple[int, Tally]]:
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        )
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = {
            client.submit(_run_task, cells[c].plan, start, stop, pure=False): index
            for index, (c, start, stop) in enumerate(tasks)
        }
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
