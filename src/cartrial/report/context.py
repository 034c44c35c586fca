"""What every numbered table needs, computed once: the trial, its analysis, the arms per
population and the arm-relabelled copies of the data."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from cartrial.analysis import AnalysisSettings, TrialAnalysis, TrialData
from cartrial.analysis.disposition import Disposition, disposition
from cartrial.analysis.populations import population
from cartrial.analysis.response import BestResponse, best_overall_response
from cartrial.analysis.safety import treatment_emergent_aes
from cartrial.report.arms import Arm, arms_of, by_arm

__all__ = ["POPULATION_NAMES", "ReportContext"]

#: Population names as printed.
POPULATION_NAMES = {
    "enrolled": "Enrolled population",
    "safety": "Safety population (infused)",
    "dlt_evaluable": "DLT-evaluable population",
    "efficacy_evaluable": "Efficacy-evaluable population",
}


@dataclass
class ReportContext:
    """The trial and its analysis, with per-population arms (report columns).

    Attributes
    ----------
    governance
        The signed dose decisions (:func:`~cartrial.report.decisions.governance_records`).
    screening
        Optional screening log (``subject_id``, ``outcome``, ``reasons``) for the disposition.
    """

    trial: TrialData
    analysis: TrialAnalysis
    governance: pd.DataFrame
    screening: pd.DataFrame | None = None
    _arms: dict[str, tuple[Arm, ...]] = field(default_factory=dict)

    @property
    def settings(self) -> AnalysisSettings:
        """The protocol's analysis settings."""
        return self.analysis.settings

    @property
    def cutoff(self) -> str:
        """The data cut-off as printed."""
        return f"{pd.Timestamp(self.trial.data_cutoff):%Y-%m-%d}"

    def members(self, name: str) -> pd.DataFrame:
        """Subjects of population ``name``."""
        return population(self.trial, name)

    def arms(self, name: str) -> tuple[Arm, ...]:
        """Report columns of population ``name`` (phase × dose level, then total)."""
        if name not in self._arms:
            self._arms[name] = arms_of(self.members(name), self.settings)
        return self._arms[name]

    def relabelled(self, name: str) -> tuple[TrialData, AnalysisSettings]:
        """Trial and settings with ``dose_level`` = arm key of population ``name``."""
        return by_arm(self.trial, self.settings, self.arms(name))

    @cached_property
    def disposition(self) -> Disposition:
        """Subject disposition (shared by the table and the flow diagram)."""
        return disposition(self.trial, self.screening)

    @cached_property
    def te(self) -> pd.DataFrame:
        """Treatment-emergent adverse events with phase."""
        te = treatment_emergent_aes(self.trial)
        phase = self.trial.subjects.set_index("subject_id")["phase"]
        return te.assign(phase=te["subject_id"].map(phase))

    @cached_property
    def best_by_arm(self) -> BestResponse:
        """Best overall response with ``dose_level`` relabelled by the efficacy arms."""
        trial, settings = self.relabelled("safety")
        return best_overall_response(trial, settings)
