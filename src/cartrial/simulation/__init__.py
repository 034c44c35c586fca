"""Operating characteristics of dose-finding designs by fast simulation and exact enumeration.

``simulate(design, true_tox, n_trials, seed)`` runs many trials vectorised across trials;
results are frozen :class:`SimulationResult` objects with ``to_frame()``.
"""

from __future__ import annotations

from cartrial.simulation.engine import simulate
from cartrial.simulation.result import SimulationResult
from cartrial.simulation.settings import Accrual, DLTOnset, Expansion

__all__ = ["Accrual", "DLTOnset", "Expansion", "SimulationResult", "simulate"]
