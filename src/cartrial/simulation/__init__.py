"""Operating characteristics of dose-finding designs by fast simulation and exact enumeration.

* :func:`simulate` runs many trials of one design under one true dose-toxicity scenario,
  vectorised across trials in chunks (identical results for every chunk size);
* :func:`exact_three_plus_three` / :func:`exact_operating_characteristics` enumerate every
  possible trial instead (no Monte Carlo error);
* :func:`load_grid` / :func:`run_grid` run a designs x scenarios grid from YAML, locally or on a
  Dask cluster, and :func:`plot_operating_characteristics` draws selection and allocation per dose.

Results are frozen :class:`SimulationResult` objects with ``to_frame()``.
"""

from __future__ import annotations

from cartrial.simulation.engine import SimulationOptions, simulate
from cartrial.simulation.exact import exact_operating_characteristics, exact_three_plus_three
from cartrial.simulation.grid import GridResult, ScenarioGrid, load_grid, run_grid
from cartrial.simulation.plot import (
    plot_allocation,
    plot_operating_characteristics,
    plot_selection,
)
from cartrial.simulation.result import SimulationResult
from cartrial.simulation.settings import Accrual, DLTOnset, Expansion

__all__ = [
    "Accrual",
    "DLTOnset",
    "Expansion",
    "GridResult",
    "ScenarioGrid",
    "SimulationOptions",
    "SimulationResult",
    "exact_operating_characteristics",
    "exact_three_plus_three",
    "load_grid",
    "plot_allocation",
    "plot_operating_characteristics",
    "plot_selection",
    "run_grid",
    "simulate",
]
